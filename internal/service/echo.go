package service

import (
	"bytes"
	"context"
	"errors"

	"github.com/coder/websocket"
)

// echo sends every message back as it came, text or binary.
func (w *web) echo(s *socket) {
	ctx := context.Background() // the connection ends by Close, not by ctx
	var buf bytes.Buffer        // reused: no allocation per message
	for {
		typ, err := s.read(ctx, &buf)
		if err != nil {
			return
		}
		if err := s.c.Write(ctx, typ, buf.Bytes()); err != nil {
			return
		}
		w.out.Add(1)
		s.touch()
	}
}

// read reads the next message into buf and counts it; a message over
// max_message is logged (the library has closed the connection with
// 1009, message too big).
func (s *socket) read(ctx context.Context, buf *bytes.Buffer) (websocket.MessageType, error) {
	typ, r, err := s.c.Reader(ctx)
	if err == nil {
		buf.Reset()
		_, err = buf.ReadFrom(r)
	}
	if errors.Is(err, websocket.ErrMessageTooBig) {
		s.w.log.printf("closed connection from %s: message over max_message %d bytes (1009)", s.remote, s.w.cfg.MaxMessage)
	}
	if err != nil {
		return 0, err
	}
	s.w.in.Add(1)
	s.touch()
	return typ, nil
}
