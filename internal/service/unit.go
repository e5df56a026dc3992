package service

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netcompose/netcompose/internal/supervisor"
)

// States a service goes through.
const (
	StateStarting = "starting"
	StateRunning  = "running"
	StateBackoff  = "backoff"  // a command waits to be restarted
	StateStopping = "stopping" // Stop was called
	StateStopped  = "stopped"  // ended by Stop
	StateExited   = "exited"   // a command ended with status 0 and is not restarted
	StateFailed   = "failed"   // ended on its own with an error
)

// Event kinds published on env.Event; data always has "service".
const (
	EventState   = "service.state"   // data: state, and pid for a running command
	EventExit    = "service.exit"    // data: pid, exit ("exit status 3", "signal: killed"), ran_ns
	EventRestart = "service.restart" // data: restarts, backoff_ns
)

// Stats is what Running.Stats returns, for `netcompose status`.
type Stats struct {
	State    string        `json:"state"`
	Restarts int           `json:"restarts"`
	Uptime   time.Duration `json:"uptime_ns"` // of the current run; 0 when not running
	PID      int           `json:"pid,omitempty"`
	LastExit string        `json:"last_exit,omitempty"` // commands: how the last run ended
	// Connections are websocket connections (builtins) or TCP connections
	// (http) open now; Total counts every one accepted.
	Connections      int64 `json:"connections"`
	ConnectionsTotal int64 `json:"connections_total"`
	// Rejected counts handshakes and requests refused by a limit or the
	// origins list.
	Rejected    int64 `json:"rejected"`
	MessagesIn  int64 `json:"messages_in"`  // received from clients (http: requests)
	MessagesOut int64 `json:"messages_out"` // sent to clients (http: responses)
}

// counters are updated on every message without a lock.
type counters struct {
	conns, total, rejected, in, out atomic.Int64
}

// unit is what every service shares: its state, its counters, its log,
// and the Done/Err half of supervisor.Running.
type unit struct {
	cfg Config
	env supervisor.Env
	log *lineLog
	counters

	mu       sync.Mutex
	state    string
	since    time.Time // start of the current run
	pid      int
	restarts int
	lastExit string

	done    chan struct{}
	endOnce sync.Once
	err     error
}

func newUnit(cfg Config, env supervisor.Env) *unit {
	if env.Log == nil {
		env.Log = io.Discard
	}
	if env.Event == nil {
		env.Event = func(string, map[string]any) {}
	}
	return &unit{cfg: cfg, env: env, log: &lineLog{w: env.Log, prefix: cfg.section() + " "},
		state: StateStarting, done: make(chan struct{})}
}

// setState records a new state and publishes it with data.
func (u *unit) setState(state string, data map[string]any) {
	u.mu.Lock()
	if u.state == state {
		u.mu.Unlock()
		return
	}
	u.state = state
	switch state {
	case StateRunning:
		u.since = time.Now()
	case StateStopped, StateExited, StateFailed, StateBackoff:
		u.since, u.pid = time.Time{}, 0
	}
	u.mu.Unlock()
	u.event(EventState, map[string]any{"state": state}, data)
}

func (u *unit) event(kind string, data ...map[string]any) {
	all := map[string]any{"service": u.cfg.Name}
	for _, d := range data {
		for k, v := range d {
			all[k] = v
		}
	}
	u.env.Event(kind, all)
}

// end marks the service ended with err (nil after Stop), once.
func (u *unit) end(state string, err error) {
	u.endOnce.Do(func() {
		if err != nil {
			u.log.printf("ended: %v", err)
		}
		u.mu.Lock()
		u.err = err
		u.mu.Unlock()
		u.setState(state, nil)
		close(u.done)
	})
}

func (u *unit) Done() <-chan struct{} { return u.done }

func (u *unit) Err() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.err
}

func (u *unit) Stats() any {
	u.mu.Lock()
	s := Stats{State: u.state, Restarts: u.restarts, PID: u.pid, LastExit: u.lastExit}
	if !u.since.IsZero() {
		s.Uptime = time.Since(u.since)
	}
	u.mu.Unlock()
	s.Connections = u.conns.Load()
	s.ConnectionsTotal = u.total.Load()
	s.Rejected = u.rejected.Load()
	s.MessagesIn = u.in.Load()
	s.MessagesOut = u.out.Load()
	return s
}

// lineLog writes whole lines to the supervisor's log, one Write each.
type lineLog struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
}

func (l *lineLog) printf(format string, args ...any) {
	l.line(fmt.Sprintf(format, args...))
}

// Write makes lineLog a log.Logger's output: each line of p on its own.
func (l *lineLog) Write(p []byte) (int, error) {
	for _, s := range strings.Split(strings.TrimSuffix(string(p), "\n"), "\n") {
		l.line(s)
	}
	return len(p), nil
}

func (l *lineLog) line(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	io.WriteString(l.w, l.prefix+s+"\n")
}
