package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"time"
)

// Bounds on a component's calls. Variables so tests can change them.
var (
	// StartTimeout bounds a StartFunc (its ctx).
	StartTimeout = 30 * time.Second
	// StopTimeout bounds a component's Stop (its ctx).
	StopTimeout = 10 * time.Second
	// StatsTimeout bounds a Stats call of GET /status.
	StatsTimeout = 2 * time.Second
)

// abandonGrace is how long a start or stop is still awaited after its
// context ended, for a component that ignores its context. Past it the
// supervisor goes on without it: one hung component must not hang an
// apply or a shutdown.
const abandonGrace = time.Second

// ErrPanic marks the error of a component call that panicked.
var ErrPanic = errors.New("panic")

// ErrAbandoned marks a start or stop that did not return in time.
var ErrAbandoned = errors.New("did not return in time")

// instance is one start of a component.
type instance struct {
	run Running
	// stopping is closed when the supervisor stops it, so that the Done
	// watcher does not take the end for a failure.
	stopping chan struct{}
}

// guard runs f, turning a panic into an error (the stack goes to the
// supervisor's log): a component's bug must not end the process.
func (s *supervisor) guard(id, call string, f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Printf("component %s: %s: panic: %v\n%s", id, call, p, debug.Stack())
			err = fmt.Errorf("%s: %w: %v", call, ErrPanic, p)
		}
	}()
	return f()
}

// start calls the kind's StartFunc, bounded by StartTimeout. A component
// that returns after being abandoned is stopped at once.
func (s *supervisor) start(id string, f StartFunc, config json.RawMessage, env Env) (Running, error) {
	type result struct {
		run Running
		err error
	}
	ctx, cancel := context.WithTimeout(s.base, StartTimeout)
	ch := make(chan result, 1)
	go func() {
		var r result
		r.err = s.guard(id, "start", func() error {
			var err error
			r.run, err = f(ctx, config, env)
			return err
		})
		if r.err == nil && r.run == nil {
			r.err = errors.New("start: no component returned")
		}
		ch <- r
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		select {
		case r = <-ch:
		case <-time.After(abandonGrace):
			go func() {
				defer cancel()
				if late := <-ch; late.err == nil {
					s.log.Printf("component %s: started after it was abandoned; stopping it", id)
					_ = s.stop(id, late.run)
				}
			}()
			return nil, fmt.Errorf("start: %w within %s: %w", ErrAbandoned, StartTimeout, ctx.Err())
		}
	}
	cancel()
	if r.err != nil && !errors.Is(r.err, ErrPanic) {
		r.err = fmt.Errorf("start: %w", r.err)
	}
	return r.run, r.err
}

// stop calls Stop, bounded by StopTimeout, and waits for Done within the
// same bound. Past it the component is abandoned (it may still run).
func (s *supervisor) stop(id string, run Running) error {
	ctx, cancel := context.WithTimeout(context.Background(), StopTimeout)
	defer cancel()
	giveUp := time.NewTimer(StopTimeout + abandonGrace)
	defer giveUp.Stop()
	ch := make(chan error, 1)
	go func() {
		ch <- s.guard(id, "stop", func() error {
			if err := run.Stop(ctx); err != nil {
				return fmt.Errorf("stop: %w", err)
			}
			return nil
		})
	}()
	var err error
	select {
	case err = <-ch:
	case <-giveUp.C:
		return fmt.Errorf("stop: %w within %s", ErrAbandoned, StopTimeout)
	}
	if errors.Is(err, ErrPanic) {
		return err // it will not get to closing Done
	}
	done, derr := s.done(id, run)
	if derr != nil {
		return errors.Join(err, derr)
	}
	select {
	case <-done:
	case <-giveUp.C:
		return errors.Join(err, fmt.Errorf("stop: %w: not done within %s", ErrAbandoned, StopTimeout))
	}
	return err
}

// done is run.Done(), guarded.
func (s *supervisor) done(id string, run Running) (<-chan struct{}, error) {
	var ch <-chan struct{}
	err := s.guard(id, "done", func() error {
		ch = run.Done()
		return nil
	})
	return ch, err
}

// ended reports whether run's Done is closed.
func (s *supervisor) ended(id string, run Running) bool {
	ch, err := s.done(id, run)
	if err != nil {
		return false
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// stats calls Stats, guarded and bounded, and marshals what it returns.
func (s *supervisor) stats(id string, run Running) (json.RawMessage, error) {
	type result struct {
		b   json.RawMessage
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var r result
		r.err = s.guard(id, "stats", func() error {
			var err error
			r.b, err = json.Marshal(run.Stats())
			if err != nil {
				return fmt.Errorf("stats: marshal: %w", err)
			}
			return nil
		})
		ch <- r
	}()
	select {
	case r := <-ch:
		return r.b, r.err
	case <-time.After(StatsTimeout):
		return nil, fmt.Errorf("stats: %w within %s", ErrAbandoned, StatsTimeout)
	}
}

// watch waits for the instance to end on its own and marks it failed.
func (s *supervisor) watch(c *component, in *instance) {
	id := c.id()
	done, err := s.done(id, in.run)
	if err != nil {
		s.fail(c, in, err)
		return
	}
	select {
	case <-done:
	case <-in.stopping:
		return
	}
	var cause error
	if err := s.guard(id, "err", func() error {
		cause = in.run.Err()
		return nil
	}); err != nil {
		cause = err
	}
	if cause == nil {
		cause = errors.New("ended on its own")
	}
	s.fail(c, in, cause)
}
