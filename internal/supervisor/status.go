package supervisor

import (
	"cmp"
	"errors"
	"slices"
	"time"
)

// status is the answer of GET /status. Stats are read outside the lock:
// a slow component must not hold up the others.
func (s *supervisor) status() Status {
	type entry struct {
		c   *component
		cs  ComponentStatus
		run *instance
	}
	s.mu.Lock()
	entries := make([]entry, 0, len(s.comps))
	for _, c := range s.comps {
		entries = append(entries, entry{c: c, run: c.inst, cs: ComponentStatus{
			Kind: c.spec.Kind, Name: c.spec.Name, Hash: c.spec.Hash, State: c.state,
			Since: c.since, Restarts: c.restarts, Error: c.err,
		}})
	}
	s.mu.Unlock()
	st := Status{Lab: s.dir.Key, PID: s.self.PID, StartTime: s.self.StartTime, Started: s.started,
		EventsDropped: s.hub.dropped.Load(), Components: []ComponentStatus{}}
	for _, e := range entries {
		if e.run != nil && e.cs.State == StateRunning {
			b, err := s.stats(e.c.id(), e.run.run)
			switch {
			case errors.Is(err, ErrPanic):
				// a component that panics is broken: failed, restarted
				// by the next apply
				s.fail(e.c, e.run, err)
				e.cs.State, e.cs.Since, e.cs.Error = StateFailed, time.Now(), err.Error()
			case err != nil:
				e.cs.Error = err.Error()
			default:
				e.cs.Stats = b
			}
		}
		st.Components = append(st.Components, e.cs)
	}
	slices.SortFunc(st.Components, func(a, b ComponentStatus) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name))
	})
	return st
}
