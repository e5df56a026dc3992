package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/coder/websocket"
)

// bridge connects each websocket client to a new TCP connection to the
// target, as websockify does: the payload of every message goes to the
// target, and what the target sends comes back in binary messages of at
// most max_message bytes. The target is dialled before the handshake, so
// a client whose target cannot be reached gets 502 and the reason.
func (w *web) bridge(rw http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), bridgeDial)
	tcp, err := dialIn(ctx, w.cfg.Netns, w.cfg.Target)
	cancel()
	if err != nil {
		w.reject(rw, r, http.StatusBadGateway, fmt.Sprintf("target: %v", err))
		return
	}
	defer tcp.Close()
	s, ok := w.accept(rw, r)
	if !ok {
		return
	}
	defer w.release(s)
	back := make(chan struct{})
	go func() {
		defer close(back)
		w.fromTarget(s, tcp)
	}()
	w.toTarget(s, tcp)
	tcp.Close() // the client is gone or failed: end the target's side too
	<-back
}

// toTarget copies each client message's payload to the target.
func (w *web) toTarget(s *socket, tcp net.Conn) {
	ctx := context.Background()
	buf := make([]byte, 32<<10)
	for {
		_, r, err := s.c.Reader(ctx)
		if err != nil {
			return
		}
		if _, err := io.CopyBuffer(tcp, r, buf); err != nil {
			if errors.Is(err, websocket.ErrMessageTooBig) {
				s.w.log.printf("closed connection from %s: message over max_message %d bytes (1009)", s.remote, w.cfg.MaxMessage)
			}
			return
		}
		w.in.Add(1)
		s.touch()
	}
}

// fromTarget sends what the target writes to the client; when the target
// closes, it closes the client normally (1000), when it fails with 1014
// (bad gateway).
func (w *web) fromTarget(s *socket, tcp net.Conn) {
	ctx := context.Background()
	buf := make([]byte, min(w.cfg.MaxMessage, 64<<10))
	for {
		n, err := tcp.Read(buf)
		if n > 0 {
			if werr := s.c.Write(ctx, websocket.MessageBinary, buf[:n]); werr != nil {
				return
			}
			w.out.Add(1)
			s.touch()
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			s.c.Close(websocket.StatusNormalClosure, "target closed the connection")
			return
		case errors.Is(err, net.ErrClosed):
			return // toTarget ended: the client is gone
		default:
			w.log.printf("connection from %s: target %s: %v", s.remote, w.cfg.Target, err)
			s.c.Close(websocket.StatusBadGateway, "target connection failed")
			return
		}
	}
}
