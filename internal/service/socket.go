package service

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// socket is one accepted websocket connection of a builtin.
type socket struct {
	c      *websocket.Conn
	w      *web
	path   string // the request's URL path (a broadcast room)
	remote string
	// last is the time of the last message either way (unix ns), for
	// idle_timeout.
	last atomic.Int64
	idle *time.Timer
}

// handler serves one upgraded connection until it ends.
type handler func(s *socket)

// upgrade makes an http.HandlerFunc that accepts the websocket handshake
// and runs h on the connection.
func (w *web) upgrade(h handler) func(http.ResponseWriter, *http.Request) {
	return func(rw http.ResponseWriter, r *http.Request) {
		s, ok := w.accept(rw, r)
		if !ok {
			return
		}
		defer w.release(s)
		h(s)
	}
}

// accept completes the handshake and registers the connection, unless
// the service is stopping.
func (w *web) accept(rw http.ResponseWriter, r *http.Request) (*socket, bool) {
	w.mu.Lock()
	if w.stopping {
		w.mu.Unlock()
		w.reject(rw, r, http.StatusServiceUnavailable, "stopping")
		return nil, false
	}
	// Counted before the handshake, under mu: Stop's Wait cannot start
	// between the check above and this Add.
	w.handlers.Add(1)
	w.mu.Unlock()

	// Counted before the client can see the handshake complete, so that
	// Stats never lags behind what a client knows.
	w.conns.Add(1)
	w.total.Add(1)
	// Origins were checked by handle, with the list's own rules.
	c, err := websocket.Accept(rw, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		w.conns.Add(-1)
		w.total.Add(-1)
		w.handlers.Done()
		w.rejected.Add(1)
		w.log.printf("handshake from %s: %v", r.RemoteAddr, err)
		return nil, false
	}
	c.SetReadLimit(int64(w.cfg.MaxMessage))
	s := &socket{c: c, w: w, path: r.URL.Path, remote: r.RemoteAddr}
	s.touch()
	w.mu.Lock()
	w.sockets[s] = struct{}{}
	stopping := w.stopping
	w.mu.Unlock()
	if stopping {
		// Stop listed the sockets before this one registered.
		go s.goAway()
	}
	if d := w.cfg.IdleTimeout; d > 0 {
		s.idle = time.AfterFunc(d, s.checkIdle)
	}
	return s, true
}

// release forgets a connection whose handler has ended.
func (w *web) release(s *socket) {
	if s.idle != nil {
		s.idle.Stop()
	}
	s.c.CloseNow()
	w.mu.Lock()
	delete(w.sockets, s)
	w.mu.Unlock()
	w.conns.Add(-1)
	w.handlers.Done()
}

// touch notes activity, for idle_timeout only: no clock read per message
// when there is none.
func (s *socket) touch() {
	if s.w.cfg.IdleTimeout > 0 {
		s.last.Store(time.Now().UnixNano())
	}
}

// checkIdle closes the connection once it has been quiet for
// idle_timeout, or looks again when it has not.
func (s *socket) checkIdle() {
	d := s.w.cfg.IdleTimeout
	quiet := time.Since(time.Unix(0, s.last.Load()))
	if quiet < d {
		s.idle.Reset(d - quiet)
		return
	}
	s.w.log.printf("closing connection from %s: idle for %s", s.remote, d)
	s.c.Close(websocket.StatusNormalClosure, fmt.Sprintf("idle for %s", d))
}

// goAway closes the connection with 1001, as a server that shuts down.
func (s *socket) goAway() {
	s.c.Close(websocket.StatusGoingAway, "service stopping")
}
