package kernel

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/netcompose/netcompose/compose"
)

// ApplyOptions tunes Apply.
type ApplyOptions struct {
	// Adopt takes over namespaces with the lab's names that netcompose did
	// not create (or cannot prove it did), instead of refusing to run.
	Adopt bool
	// UnderlayNetns, if set, names the namespace (under /run/netns) in
	// which vxlan devices on the host's underlay are created, to stand in
	// for another machine; the devices still end up in their nodes.
	UnderlayNetns string
	// Progress, if set, is called after each step: on Apply's goroutine,
	// or for a run of new namespaces on the thread that makes them, never
	// two at a time.
	Progress func(done, total int, s compose.Step)
	// Ready, if set, are veth ends to wait for (as WaitReady does, for at
	// most ReadyTimeout) once the plan is applied, in Apply's own
	// session: its connections are open and it knows the new links'
	// indexes, where WaitReady would open every namespace again.
	Ready        []compose.End
	ReadyTimeout time.Duration
}

// Result says what Apply did.
type Result struct {
	Steps    int // steps run against the kernel
	Cascaded int // deletes that happened with their parent
	// NotReady are the ends of ApplyOptions.Ready still down when the
	// wait ended; ReadyErr is why the wait could not be done.
	NotReady []compose.End
	ReadyErr error
	// spared counts the namespaces the run's pool made (nsrun.Pool):
	// the tests' way to see that it made some.
	spared int
}

// undo is one entry of the journal: how to reverse a step that ran.
type undo struct {
	step compose.Step // what it undoes, for messages
	fn   func() error
	// recreates names the namespace this undo makes anew: what was in it
	// that the lab does not describe cannot come back.
	recreates string
}

// Apply runs the plan's steps in order. Each step that runs records its
// inverse in an undo journal; when a step fails, the journal is replayed
// backwards, then the kernel is observed again and brought back to the
// plan's prior state (what the kernel took along with a step, such as the
// routes flushed with an address), and the error is an *ApplyError that
// says whether all of it came back. A plan that deletes every namespace
// of the lab also removes its state directory: destroy is applying the
// empty lab. Apply does not lock: the caller holds Lock.
func Apply(ctx context.Context, p compose.Plan, opt ApplyOptions) (*Result, error) {
	// Adopting, the user takes the lab's namespaces back from a record
	// that cannot be read: start a new one.
	rec, _, err := loadRecordOr(p.Lab, opt.Adopt)
	if err != nil {
		return nil, err
	}
	s := newSession(p.Lab, rec)
	s.adopt = opt.Adopt
	s.underlayNS = opt.UnderlayNetns
	defer s.close()
	// What a killed run left: its placeholders go, its unmarked links get
	// their mark (journal.go).
	repaired, err := s.repair()
	if err != nil {
		return nil, err
	}
	if !rec.prune() && !repaired && p.Empty() && len(rec.Nodes) > 0 {
		return &Result{}, nil // in sync: touch nothing, not even the record
	}
	before := rec.clone()

	// Refuse what is in the way before touching anything.
	if obs := obstacles(p, rec, opt.Adopt); len(obs) > 0 {
		return nil, errors.Join(obs...)
	}
	s.startRun()
	defer s.endRun()

	// After the last namespace delete, wait for the kernel to tear the
	// deleted namespaces down before going on (see settle). What the lab's
	// processes hold is the supervisor's (package reconcile), not ours.
	steps := slices.DeleteFunc(p.Steps(), func(st compose.Step) bool { return stepResource(st).Kind.Info().Held })
	lastNSDelete := -1
	for i, st := range steps {
		if st.Op == compose.Delete && !st.Cascade && st.Before.Kind == compose.KindNetns {
			lastNSDelete = i
		}
	}
	res := &Result{}
	var journal []undo
	// do runs steps[from:to] and returns the index of the step that
	// failed.
	do := func(from, to int) (int, error) {
		for k := from; k < to; k++ {
			st := steps[k]
			if err := ctx.Err(); err != nil {
				return k, err
			}
			u, err := s.run(st)
			if err != nil {
				return k, err
			}
			journal = append(journal, u)
			if k == lastNSDelete {
				settle(ctx)
			}
			if st.Cascade {
				res.Cascaded++
			} else {
				res.Steps++
			}
			if opt.Progress != nil {
				opt.Progress(k+1, len(steps), st)
			}
		}
		return to, nil
	}
	for i := 0; i < len(steps); {
		n := max(1, newNamespaces(steps[i:]))
		var failed int
		var err error
		if n > 1 {
			// A run of new namespaces is made on the creator's thread, in
			// one trip there and back rather than one per namespace, and
			// on the pool's beside it.
			s.startSpares(n)
			err = s.onCreator(func() (err error) {
				failed, err = do(i, i+n)
				return err
			})
			s.stopSpares()
		} else {
			failed, err = do(i, i+n)
		}
		if err != nil {
			return nil, s.rollback(journal, before, p, &ApplyError{Step: steps[failed], Err: err})
		}
		i += n
	}
	res.spared = s.inRun.spared
	if err := s.finish(); err != nil {
		return res, err
	}
	if len(opt.Ready) > 0 {
		wctx, cancel := context.WithTimeout(ctx, opt.ReadyTimeout)
		defer cancel()
		res.NotReady, res.ReadyErr = s.waitReady(wctx, opt.Ready, false)
	}
	return res, nil
}

// newNamespaces counts the namespace creates that steps starts with.
func newNamespaces(steps []compose.Step) int {
	n := 0
	for _, st := range steps {
		if st.Op != compose.Create || st.Cascade || st.After.Kind != compose.KindNetns {
			break
		}
		n++
	}
	return n
}

// finish writes the record, or removes the lab's files when it owns
// nothing any more (destroy, or every namespace deleted by hand).
func (s *session) finish() error {
	s.endRun()
	if s.rec.empty() {
		s.close()
		return s.rec.remove()
	}
	return s.rec.save()
}

// repair cleans up after a run that was killed: it removes the lab's
// stale namespace placeholders and marks the links the run created but
// could not mark. It reports whether it changed anything.
func (s *session) repair() (bool, error) {
	changed := len(s.rec.announced) > 0 || len(s.rec.pending) > 0
	if err := s.rec.tidy(); err != nil {
		return changed, err
	}
	for e, p := range s.rec.pending {
		if !s.rec.owns(e.Node) {
			continue
		}
		h, err := s.handle(e.Node)
		if err != nil {
			return changed, err
		}
		l, err := h.LinkByName(e.Ifname)
		if err != nil || l.Attrs().Alias != "" {
			continue // gone, or marked (ours or not: then it is not ours)
		}
		if err := h.LinkSetAlias(l, s.alias(p.kind, p.name)); err != nil {
			return changed, fmt.Errorf("%s %s: mark after an interrupted run: %w", p.kind, e.Ifname, err)
		}
	}
	s.rec.pending = nil
	return changed, nil
}

// run executes one step and returns its inverse.
func (s *session) run(st compose.Step) (undo, error) {
	r := stepResource(st)
	d, ok := drivers[r.Kind]
	if !ok {
		return undo{}, fmt.Errorf("no driver for kind %s", r.Kind)
	}
	switch {
	case st.Cascade:
		// Gone with its parent: nothing to do but forget what the record
		// says about it, and recreate it if the parent comes back.
		if r.Kind == compose.KindSysctl {
			s.rec.forgetSysctl(r.Node, r.Name)
		}
		return undo{step: st, fn: func() error { return d.create(s, *st.Before) }}, nil
	case st.Op == compose.Create:
		var err error
		adopted := false
		if r.Kind == compose.KindNetns {
			// One look at the path serves both questions: was it there
			// (the undo forgets rather than deletes), and what is it.
			_, found := lookNamespace(s.lab, r.Node)
			adopted = found == nsMounted
			err = createNetns(s, r, found)
		} else {
			err = d.create(s, r)
		}
		if err != nil {
			return undo{}, err
		}
		if adopted {
			return undo{step: st, fn: func() error { s.rec.removeNode(r.Node); s.forget(r.Node); return nil }}, nil
		}
		return undo{step: st, fn: func() error { return d.delete(s, r) }}, nil
	case st.Op == compose.Update:
		if err := d.update(s, *st.Before, *st.After); err != nil {
			return undo{}, err
		}
		return undo{step: st, fn: func() error { return d.update(s, *st.After, *st.Before) }}, nil
	case st.Op == compose.Delete:
		if err := d.delete(s, r); err != nil {
			return undo{}, err
		}
		u := undo{step: st, fn: func() error { return d.create(s, r) }}
		if r.Kind == compose.KindNetns {
			u.recreates = s.nsName(r.Node)
		}
		return u, nil
	}
	return undo{}, fmt.Errorf("unknown step %q", st.Op)
}

// ApplyError is a failed step. The steps before it in the same run have
// been undone: Undone counts them, and Rollback holds what could not be
// restored (nil when the kernel is back as it was). Err is the kernel's
// error.
type ApplyError struct {
	Step   compose.Step
	Err    error
	Undone int
	// Restored counts the changes rollback made beyond the undo journal:
	// what the kernel had taken along with a step (routes flushed with
	// their address), put back from the prior state.
	Restored int
	// Recreated lists namespaces rollback had to make anew: the lab's
	// part of them is back, anything else that was in them is gone.
	Recreated []string
	Rollback  error
}

func (e *ApplyError) Error() string {
	msg := fmt.Sprintf("%s %s: %v", e.Step.Op, compose.Label(stepResource(e.Step)), e.Err)
	switch {
	case e.Rollback != nil:
		return msg + fmt.Sprintf("; rollback incomplete after undoing %d changes: %v", e.Undone, e.Rollback)
	case len(e.Recreated) > 0:
		return msg + fmt.Sprintf("; rolled back %d changes, but namespaces %v were deleted and made anew: "+
			"the lab's part of them is back, anything else that was in them is gone", e.Undone, e.Recreated)
	case e.Restored > 0:
		return msg + fmt.Sprintf("; rolled back %d changes and restored %d objects the kernel had removed along with them: "+
			"the lab is as it was before this run", e.Undone, e.Restored)
	}
	return msg + fmt.Sprintf("; rolled back %d changes: the lab is as it was before this run", e.Undone)
}

func (e *ApplyError) Unwrap() error { return e.Err }
