package supervisor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/netcompose/netcompose/internal/labdir"
)

// ErrShuttingDown is the answer to an apply that arrives during shutdown.
var ErrShuttingDown = errors.New("supervisor is shutting down")

// supervisor is the daemon's state.
type supervisor struct {
	dir     labdir.Dir
	kinds   map[string]StartFunc
	log     *logFile
	hub     *hub
	self    Process
	started time.Time
	base    context.Context // ends at shutdown: bounds starts
	cancel  context.CancelFunc

	applyMu sync.Mutex // one apply (or the shutdown) at a time
	closing bool       // under applyMu

	mu    sync.Mutex // guards comps and every component's fields
	comps map[string]*component

	streams sync.WaitGroup // GET /events handlers, awaited at shutdown
}

// component is one kind.name the supervisor was asked to run.
type component struct {
	key      string // kind.name, fixed: read without the lock
	spec     Spec
	state    State
	since    time.Time
	restarts int
	err      string
	inst     *instance // nil when it is not running
	log      *logFile  // nil when its name cannot be a file name
}

func (c *component) id() string { return c.key }

// setState records a state change; the caller holds s.mu.
func (c *component) setState(st State, err error) {
	c.state, c.since, c.err = st, time.Now(), ""
	if err != nil {
		c.err = err.Error()
	}
}

// checkSpecs rejects a request that cannot be converged at all.
func checkSpecs(specs []Spec) error {
	seen := map[string]bool{}
	var errs []error
	for _, sp := range specs {
		switch {
		case sp.Kind == "" || sp.Name == "":
			errs = append(errs, fmt.Errorf("component %q: kind and name are required", sp.ID()))
		case seen[sp.ID()]:
			errs = append(errs, fmt.Errorf("component %s: listed twice", sp.ID()))
		}
		seen[sp.ID()] = true
	}
	return errors.Join(errs...)
}

// apply converges the running set to specs: what is no longer listed is
// stopped first (it may hold what a new component needs, a queue number),
// then each listed component is started, restarted or left alone, in
// parallel. Results follow specs, then the stopped ones by name.
func (s *supervisor) apply(specs []Spec) ([]Result, error) {
	if err := checkSpecs(specs); err != nil {
		return nil, err
	}
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	if s.closing {
		return nil, ErrShuttingDown
	}
	want := map[string]bool{}
	for _, sp := range specs {
		want[sp.ID()] = true
	}
	var gone []*component
	s.mu.Lock()
	for id, c := range s.comps {
		if !want[id] {
			gone = append(gone, c)
			delete(s.comps, id)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(gone, func(a, b *component) int { return cmp.Compare(a.id(), b.id()) })
	stopped := make([]Result, len(gone))
	var wg sync.WaitGroup
	for i, c := range gone {
		wg.Go(func() { stopped[i] = s.remove(c) })
	}
	wg.Wait()
	results := make([]Result, len(specs))
	for i, sp := range specs {
		wg.Go(func() { results[i] = s.converge(sp) })
	}
	wg.Wait()
	return append(results, stopped...), nil
}

// remove stops a component that is no longer listed.
func (s *supervisor) remove(c *component) Result {
	s.mu.Lock()
	r := Result{Kind: c.spec.Kind, Name: c.spec.Name, Action: ActionStopped}
	s.mu.Unlock()
	if err := s.halt(c); err != nil {
		r.Error = err.Error()
	}
	if c.log != nil {
		c.log.Close()
	}
	s.log.Printf("component %s: stopped (no longer listed)%s", c.id(), suffix(r.Error))
	s.hub.publish(Event{Kind: EventStopped, Component: c.id(), Data: errData(r.Error)})
	return r
}

// halt stops c's running instance, if any.
func (s *supervisor) halt(c *component) error {
	s.mu.Lock()
	in := c.inst
	c.inst = nil
	if in != nil {
		close(in.stopping)
	}
	s.mu.Unlock()
	if in == nil || s.ended(c.id(), in.run) {
		return nil
	}
	return s.stop(c.id(), in.run)
}

// converge brings one listed component to its spec.
func (s *supervisor) converge(sp Spec) Result {
	r := Result{Kind: sp.Kind, Name: sp.Name, Action: ActionStarted}
	s.mu.Lock()
	c := s.comps[sp.ID()]
	if c != nil && c.state == StateRunning && c.spec.Hash == sp.Hash {
		s.mu.Unlock()
		r.Action = ActionUnchanged
		return r
	}
	s.mu.Unlock()
	if c == nil {
		c = &component{key: sp.ID(), spec: sp}
	} else {
		r.Action = ActionRestarted
		if err := s.halt(c); err != nil {
			s.log.Printf("component %s: stop before restart: %v", sp.ID(), err)
		}
	}
	in, err := s.launch(c, sp)
	s.mu.Lock()
	c.spec = sp
	if r.Action == ActionRestarted {
		c.restarts++
	}
	if err != nil {
		c.setState(StateFailed, err)
	} else {
		c.inst = in
		c.setState(StateRunning, nil)
	}
	s.comps[sp.ID()] = c
	s.mu.Unlock()
	if err != nil {
		r.Action, r.Error = ActionFailed, err.Error()
		s.log.Printf("component %s: failed to start: %v", sp.ID(), err)
		s.hub.publish(Event{Kind: EventFailed, Component: sp.ID(), Data: errData(r.Error)})
		return r
	}
	go s.watch(c, in)
	kind := EventStarted
	if r.Action == ActionRestarted {
		kind = EventRestarted
	}
	s.log.Printf("component %s: %s (hash %.12s)", sp.ID(), r.Action, sp.Hash)
	s.hub.publish(Event{Kind: kind, Component: sp.ID(), Data: map[string]any{"hash": sp.Hash}})
	return r
}

// launch starts one instance of c from sp.
func (s *supervisor) launch(c *component, sp Spec) (*instance, error) {
	f, ok := s.kinds[sp.Kind]
	if !ok {
		return nil, fmt.Errorf("unknown kind %q", sp.Kind)
	}
	if c.log == nil { // only this apply's goroutine for c touches c.log
		path, err := s.dir.Log(sp.ID())
		if err != nil {
			return nil, err
		}
		if c.log, err = openLog(path); err != nil {
			return nil, err
		}
	}
	id := sp.ID()
	env := Env{
		Log: c.log,
		Event: func(kind string, data map[string]any) {
			s.hub.publish(Event{Kind: kind, Component: id, Data: data})
		},
	}
	run, err := s.start(id, f, sp.Config, env)
	if err != nil {
		return nil, err
	}
	return &instance{run: run, stopping: make(chan struct{})}, nil
}

// fail marks c failed because its instance in ended or panicked; an
// instance that was replaced or is being stopped is no news.
func (s *supervisor) fail(c *component, in *instance, err error) {
	s.mu.Lock()
	if c.inst != in {
		s.mu.Unlock()
		return
	}
	select {
	case <-in.stopping:
		s.mu.Unlock()
		return
	default:
	}
	c.setState(StateFailed, err)
	s.mu.Unlock()
	s.log.Printf("component %s: failed: %v", c.id(), err)
	s.hub.publish(Event{Kind: EventFailed, Component: c.id(), Data: errData(err.Error())})
}

// shutdown stops every component, after the apply in progress if any.
func (s *supervisor) shutdown() {
	s.cancel()
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	s.closing = true
	s.mu.Lock()
	all := make([]*component, 0, len(s.comps))
	for _, c := range s.comps {
		all = append(all, c)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range all {
		wg.Go(func() {
			err := s.halt(c)
			s.mu.Lock()
			c.setState(StateStopped, err)
			s.mu.Unlock()
			if c.log != nil {
				c.log.Close()
			}
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			s.log.Printf("component %s: stopped (shutdown)%s", c.id(), suffix(msg))
			s.hub.publish(Event{Kind: EventStopped, Component: c.id(), Data: errData(msg)})
		})
	}
	wg.Wait()
}

func errData(msg string) map[string]any {
	if msg == "" {
		return nil
	}
	return map[string]any{"error": msg}
}

func suffix(msg string) string {
	if msg == "" {
		return ""
	}
	return ": " + msg
}

// self is this process as a Process.
func self() (Process, error) { return ProcessOf(os.Getpid()) }
