package capture

import (
	"context"
	"errors"
)

// errEnough ends a batch once the packets asked for are written.
var errEnough = errors.New("enough packets")

// Copy writes the socket's packets to w until count of them are written
// (0: no limit), ctx is done, the socket is closed or writing fails, and
// flushes w after each batch. It returns how many packets it wrote; a
// stop by ctx or Close is no error.
func Copy(ctx context.Context, s *Socket, w Writer, count int) (int, error) {
	n := 0
	write := func(p *Packet) error {
		if err := w.WritePacket(p); err != nil {
			return err
		}
		n++
		if count > 0 && n >= count {
			return errEnough
		}
		return nil
	}
	for {
		err := s.ReadBatch(ctx, write)
		ferr := w.Flush()
		switch {
		case errors.Is(err, errEnough), errors.Is(err, ErrClosed), err != nil && ctx.Err() != nil:
			return n, ferr
		case err != nil:
			return n, err
		case ferr != nil:
			return n, ferr
		}
	}
}
