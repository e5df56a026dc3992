package service

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/netcompose/netcompose/internal/supervisor"
)

// web is a running builtin: an HTTP server on a listener opened in the
// node's namespace, with the limits every builtin shares.
type web struct {
	*unit
	ln    net.Listener
	srv   *http.Server
	slots chan struct{} // max_connections; nil when unlimited
	serve func(w http.ResponseWriter, r *http.Request)

	mu       sync.Mutex
	stopping bool
	stopped  chan struct{} // closed when Stop begins: http delays end early
	sockets  map[*socket]struct{}
	handlers sync.WaitGroup // upgraded connections still being served
	rooms    *rooms         // websocket-broadcast
	// fresh are the connections that have not sent a request yet: Stop
	// closes them at once (nothing is in flight), where http.Server's
	// Shutdown would wait up to 5 s for each.
	fresh map[net.Conn]struct{}
}

func startWeb(ctx context.Context, cfg Config, env supervisor.Env) (supervisor.Running, error) {
	w := &web{unit: newUnit(cfg, env), stopped: make(chan struct{}), sockets: map[*socket]struct{}{}, fresh: map[net.Conn]struct{}{}}
	if cfg.MaxConnections > 0 {
		w.slots = make(chan struct{}, cfg.MaxConnections)
	}
	switch cfg.Kind {
	case Echo:
		w.serve = w.upgrade(w.echo)
	case Broadcast:
		w.rooms = newRooms()
		w.serve = w.upgrade(w.broadcast)
	case Bridge:
		w.serve = w.bridge
	case HTTP:
		w.serve = w.respond
	}
	ln, err := listenIn(cfg.Netns, cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.section(), err)
	}
	w.ln = ln
	w.srv = &http.Server{
		Handler:           http.HandlerFunc(w.handle),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       cfg.IdleTimeout,
		ErrorLog:          log.New(w.log, "", 0),
	}
	if cfg.Kind == HTTP {
		w.srv.ConnState = w.connState
	}
	w.log.printf("%s listening on %s%s in %s", cfg.Kind, ln.Addr(), cfg.Path, cfg.Netns)
	w.setState(StateRunning, map[string]any{"listen": ln.Addr().String()})
	go w.run()
	return w, nil
}

// run serves until the listener fails or Stop closes it.
func (w *web) run() {
	defer func() {
		if p := recover(); p != nil {
			w.end(StateFailed, fmt.Errorf("%s: serve: panic: %v", w.cfg.section(), p))
		}
	}()
	err := w.srv.Serve(w.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return // Stop ends the unit
	}
	w.end(StateFailed, fmt.Errorf("%s: serve on %s: %w", w.cfg.section(), w.cfg.Listen, err))
	w.mu.Lock()
	for s := range w.sockets {
		s.c.CloseNow()
	}
	w.mu.Unlock()
}

// handle applies the checks every builtin shares, then serves.
func (w *web) handle(rw http.ResponseWriter, r *http.Request) {
	if !w.underPath(r.URL.Path) {
		w.reject(rw, r, http.StatusNotFound, fmt.Sprintf("no service at %s (serving %s)", r.URL.Path, w.cfg.Path))
		return
	}
	if err := w.checkOrigin(r); err != nil {
		w.reject(rw, r, http.StatusForbidden, err.Error())
		return
	}
	if w.slots != nil {
		select {
		case w.slots <- struct{}{}:
			defer func() { <-w.slots }()
		default:
			w.reject(rw, r, http.StatusServiceUnavailable,
				fmt.Sprintf("max_connections %d reached", w.cfg.MaxConnections))
			return
		}
	}
	w.serve(rw, r)
}

// underPath: the service serves its path and everything below it.
func (w *web) underPath(p string) bool {
	base := w.cfg.Path
	if p == base || base == "/" {
		return true
	}
	return strings.HasPrefix(p, strings.TrimSuffix(base, "/")+"/")
}

// checkOrigin applies the origins allow-list: when it is set, a request
// must carry an Origin that matches one of its patterns (path.Match,
// case-insensitive, against host[:port], or scheme://host[:port] when the
// pattern has a scheme). Without a list any origin, or none, is accepted.
func (w *web) checkOrigin(r *http.Request) error {
	if len(w.cfg.Origins) == 0 {
		return nil
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return fmt.Errorf("origin missing, want one of %s", strings.Join(w.cfg.Origins, " "))
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return fmt.Errorf("origin %q is not a URL with a host", origin)
	}
	for _, pat := range w.cfg.Origins {
		target := u.Host
		if strings.Contains(pat, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, _ := path.Match(strings.ToLower(pat), strings.ToLower(target)); ok {
			return nil
		}
	}
	return fmt.Errorf("origin %q not allowed (origins = %s)", origin, strings.Join(w.cfg.Origins, " "))
}

// reject answers with status and a one-line reason a client can show,
// counts the refusal and logs it.
func (w *web) reject(rw http.ResponseWriter, r *http.Request, status int, reason string) {
	w.rejected.Add(1)
	w.log.printf("refused %s %s from %s: %d %s", r.Method, r.URL.Path, r.RemoteAddr, status, reason)
	http.Error(rw, w.cfg.section()+": "+reason, status)
}

// connState counts the TCP connections of the http builtin.
func (w *web) connState(c net.Conn, s http.ConnState) {
	switch s {
	case http.StateNew:
		w.conns.Add(1)
		w.total.Add(1)
	case http.StateClosed, http.StateHijacked:
		w.conns.Add(-1)
	}
	w.mu.Lock()
	if s == http.StateNew {
		w.fresh[c] = struct{}{}
	} else {
		delete(w.fresh, c)
	}
	w.mu.Unlock()
}

// Stop closes the listener, closes every websocket client with 1001
// (going away), lets plain requests in flight finish, and waits for all
// of it until ctx ends; then it drops what is left.
func (w *web) Stop(ctx context.Context) error {
	w.mu.Lock()
	if w.stopping {
		w.mu.Unlock()
		return w.waitDone(ctx)
	}
	w.stopping = true
	close(w.stopped)
	socks := make([]*socket, 0, len(w.sockets))
	for s := range w.sockets {
		socks = append(socks, s)
	}
	for c := range w.fresh {
		c.Close()
	}
	w.mu.Unlock()
	w.setState(StateStopping, nil)

	shut := make(chan error, 1)
	go func() { shut <- w.srv.Shutdown(ctx) }()
	for _, s := range socks {
		go s.goAway()
	}
	all := make(chan struct{})
	go func() {
		w.handlers.Wait()
		<-shut
		close(all)
	}()
	var err error
	select {
	case <-all:
	case <-ctx.Done():
		err = fmt.Errorf("%s: stop: %w (connections dropped)", w.cfg.section(), ctx.Err())
		w.srv.Close()
		w.mu.Lock()
		for s := range w.sockets {
			s.c.CloseNow()
		}
		w.mu.Unlock()
	}
	w.log.printf("stopped")
	w.end(StateStopped, nil)
	return err
}

// waitDone is a second Stop: it waits for the first one to finish.
func (w *web) waitDone(ctx context.Context) error {
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: stop: %w", w.cfg.section(), ctx.Err())
	}
}
