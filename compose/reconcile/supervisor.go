package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/compose/kernel"
	"github.com/netcompose/netcompose/internal/labdir"
	"github.com/netcompose/netcompose/internal/supervisor"
)

// Processes runs the lab's processes. The supervisor is the real one; a
// test can stand in a fake.
type Processes interface {
	// Observe returns what runs now, as resources of the held kinds
	// (compose.KindInfo.Held); desired only names them (the node). A
	// supervisor that is not running runs nothing.
	Observe(ctx context.Context, key string, desired []compose.Resource) ([]compose.Resource, error)
	// Converge makes the lab run exactly want; an empty want stops the
	// supervisor. A component that fails is an error naming it; the
	// others keep running.
	Converge(ctx context.Context, key string, want []supervisor.Spec) error
}

// Supervisor is Processes through netcompose's per-lab supervisor
// process (internal/supervisor), started as `Exe supervise --lab KEY`.
type Supervisor struct {
	// Exe is the netcompose binary to start the supervisor with.
	Exe string
	// StopTimeout bounds a stop before SIGKILL (default 10 s).
	StopTimeout time.Duration
}

// running returns the lab's supervisor if it is alive.
func running(key string) (*kernel.Process, bool, error) {
	p, err := kernel.SupervisorOf(key)
	if err != nil || p == nil {
		return p, false, err
	}
	return p, supervisor.Alive(supervisor.Process{PID: p.PID, StartTime: p.StartTime}), nil
}

func (s *Supervisor) Observe(ctx context.Context, key string, desired []compose.Resource) ([]compose.Resource, error) {
	_, alive, err := running(key)
	if err != nil || !alive {
		return nil, err
	}
	dir, err := labdir.For(key)
	if err != nil {
		return nil, err
	}
	c, err := supervisor.Dial(dir)
	if err != nil {
		return nil, nil // recorded but not answering: it runs nothing
	}
	defer c.Close()
	st, err := c.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("supervisor of %s: status: %w", key, err)
	}
	node := nodesOf(desired)
	var out []compose.Resource
	for _, cs := range st.Components {
		if cs.State != supervisor.StateRunning {
			continue // failed: drift, the next apply starts it again
		}
		k := compose.Kind(cs.Kind)
		out = append(out, compose.Resource{Kind: k, Name: cs.Name,
			Attrs: map[string]string{"node": node[cs.Kind+"/"+cs.Name], "hash": cs.Hash}})
	}
	return out, nil
}

func (s *Supervisor) Converge(ctx context.Context, key string, want []supervisor.Spec) error {
	dir, err := labdir.For(key)
	if err != nil {
		return err
	}
	rec, alive, err := running(key)
	if err != nil {
		return err
	}
	if len(want) == 0 {
		if rec == nil {
			return nil
		}
		if err := supervisor.Stop(ctx, dir, supervisor.Process{PID: rec.PID, StartTime: rec.StartTime}, s.stopTimeout()); err != nil {
			return fmt.Errorf("supervisor of %s: stop: %w", key, err)
		}
		return kernel.SetSupervisor(key, nil)
	}
	if rec != nil && !alive {
		// Killed: clean up what it left (its session's processes) before
		// a new one takes its place.
		_ = supervisor.Stop(ctx, dir, supervisor.Process{PID: rec.PID, StartTime: rec.StartTime}, s.stopTimeout())
		rec = nil
	}
	if rec == nil {
		p, err := supervisor.Launch(dir, s.Exe, "supervise", "--lab", key)
		if err != nil {
			return fmt.Errorf("supervisor of %s: start: %w", key, err)
		}
		if err := kernel.SetSupervisor(key, &kernel.Process{PID: p.PID, StartTime: p.StartTime}); err != nil {
			return err
		}
	}
	c, err := supervisor.Dial(dir)
	if err != nil {
		return fmt.Errorf("supervisor of %s: %w", key, err)
	}
	defer c.Close()
	results, err := c.Apply(ctx, want)
	if err != nil {
		return fmt.Errorf("supervisor of %s: apply: %w", key, err)
	}
	var errs []error
	for _, r := range results {
		if r.Action == supervisor.ActionFailed {
			errs = append(errs, fmt.Errorf("[%s:%s]: %s", r.Kind, r.Name, strings.TrimSpace(r.Error)))
		}
	}
	return errors.Join(errs...)
}

func (s *Supervisor) stopTimeout() time.Duration {
	if s.StopTimeout > 0 {
		return s.StopTimeout
	}
	return 10 * time.Second
}

// Down reports a supervisor the lab recorded that no longer runs (killed,
// crashed): drift that diff names and apply heals.
func Down(key string) (*kernel.Process, bool) {
	p, alive, err := running(key)
	return p, err == nil && p != nil && !alive
}

// Publish puts an event of the run on the lab's event stream (`netcompose
// watch`), when its supervisor runs; without one there is no stream and
// nothing to say.
func (s *Supervisor) Publish(ctx context.Context, key, kind string, data map[string]any) {
	if _, alive, err := running(key); err != nil || !alive {
		return
	}
	dir, err := labdir.For(key)
	if err != nil {
		return
	}
	c, err := supervisor.Dial(dir)
	if err != nil {
		return
	}
	defer c.Close()
	_ = c.Publish(ctx, supervisor.Event{Time: time.Now(), Kind: kind, Data: data})
}
