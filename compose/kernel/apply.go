package kernel

import (
	"context"
	"errors"
	"fmt"

	"github.com/netcompose/netcompose/compose"
)

// ApplyOptions tunes Apply.
type ApplyOptions struct {
	// Adopt takes over namespaces with the lab's names that netcompose did
	// not create, instead of refusing to run.
	Adopt bool
	// UnderlayNetns, if set, names the namespace (under /run/netns) in
	// which vxlan devices on the host's underlay are created, to stand in
	// for another machine; the devices still end up in their nodes.
	UnderlayNetns string
	// Progress, if set, is called after each step.
	Progress func(done, total int, s compose.Step)
}

// Result says what Apply did.
type Result struct {
	Steps    int // steps run against the kernel
	Cascaded int // deletes that happened with their parent
}

// undo is one entry of the journal: how to reverse a step that ran.
type undo struct {
	desc string
	fn   func() error
}

// Apply runs the plan's steps in order. Each step that runs records its
// inverse in an undo journal; when a step fails, the journal is replayed
// backwards, so the kernel and the state record are left as they were,
// and the error is an *ApplyError. A plan that deletes every namespace of
// the lab also removes its state directory: destroy is applying the empty
// lab. Apply does not lock: the caller holds Lock.
func Apply(ctx context.Context, p compose.Plan, opt ApplyOptions) (*Result, error) {
	rec, err := loadRecord(p.Lab)
	if err != nil {
		return nil, err
	}
	if !rec.prune() && p.Empty() && len(rec.Nodes) > 0 {
		return &Result{}, nil // in sync: touch nothing, not even the record
	}
	before := rec.clone()
	s := newSession(p.Lab, rec)
	s.adopt = opt.Adopt
	s.underlayNS = opt.UnderlayNetns
	defer s.close()

	steps := p.Steps()
	// Refuse foreign namespaces before touching anything.
	if foreign := foreignIn(p, rec); len(foreign) > 0 && !opt.Adopt {
		return nil, foreign[0]
	}
	// Record the namespaces about to be created before creating them, so a
	// crash in the middle leaves them owned, never foreign.
	for _, st := range steps {
		r := stepResource(st)
		if r.Kind != compose.KindNetns {
			continue
		}
		switch st.Op {
		case compose.Create:
			if !namespaceExists(p.Lab, r.Node) {
				rec.addNode(r.Node)
			}
		}
	}
	if len(rec.Nodes) > 0 {
		if err := rec.save(); err != nil {
			return nil, err
		}
	}

	// After the last namespace delete, wait for the kernel to tear the
	// deleted namespaces down before going on (see settle).
	lastNSDelete := -1
	for i, st := range steps {
		if st.Op == compose.Delete && !st.Cascade && st.Before.Kind == compose.KindNetns {
			lastNSDelete = i
		}
	}
	res := &Result{}
	var journal []undo
	for i, st := range steps {
		if err := ctx.Err(); err != nil {
			return nil, s.rollback(journal, before, &ApplyError{Step: st, Err: err})
		}
		u, err := s.run(st)
		if err != nil {
			return nil, s.rollback(journal, before, &ApplyError{Step: st, Err: err})
		}
		journal = append(journal, u)
		if i == lastNSDelete {
			settle(ctx, p.Lab)
		}
		if st.Cascade {
			res.Cascaded++
		} else {
			res.Steps++
		}
		if opt.Progress != nil {
			opt.Progress(i+1, len(steps), st)
		}
	}

	if len(rec.Nodes) == 0 {
		// Nothing left: destroy removes the record; so does an apply of
		// a lab whose namespaces all went away by hand.
		s.close()
		if err := rec.remove(); err != nil {
			return res, err
		}
	} else if err := rec.save(); err != nil {
		return res, err
	}
	return res, nil
}

// run executes one step and returns its inverse.
func (s *session) run(st compose.Step) (undo, error) {
	r := stepResource(st)
	d, ok := drivers[r.Kind]
	if !ok {
		return undo{}, fmt.Errorf("no driver for kind %s", r.Kind)
	}
	desc := fmt.Sprintf("%s %s", st.Op, r.ID())
	switch {
	case st.Cascade:
		// Gone with its parent: nothing to do but forget what the record
		// says about it, and recreate it if the parent comes back.
		if r.Kind == compose.KindSysctl {
			s.rec.forgetSysctl(r.Node, r.Name)
		}
		return undo{desc, func() error { return d.create(s, *st.Before) }}, nil
	case st.Op == compose.Create:
		adopted := r.Kind == compose.KindNetns && namespaceExists(s.lab, r.Node)
		if err := d.create(s, r); err != nil {
			return undo{}, err
		}
		if adopted {
			return undo{desc, func() error { s.rec.removeNode(r.Node); s.forget(r.Node); return nil }}, nil
		}
		return undo{desc, func() error { return d.delete(s, r) }}, nil
	case st.Op == compose.Update:
		if err := d.update(s, *st.Before, *st.After); err != nil {
			return undo{}, err
		}
		return undo{desc, func() error { return d.update(s, *st.After, *st.Before) }}, nil
	case st.Op == compose.Delete:
		if err := d.delete(s, r); err != nil {
			return undo{}, err
		}
		return undo{desc, func() error { return d.create(s, r) }}, nil
	}
	return undo{}, fmt.Errorf("unknown step %q", st.Op)
}

// rollback replays the journal backwards and restores the state record;
// a step that cannot be undone is reported with the original error.
func (s *session) rollback(journal []undo, before *record, ae *ApplyError) error {
	var errs []error
	created := false // namespaces the undo deletes
	for _, n := range s.rec.Nodes {
		created = created || !before.has(n)
	}
	for i := len(journal) - 1; i >= 0; i-- {
		if err := journal[i].fn(); err != nil {
			errs = append(errs, fmt.Errorf("undo %s: %w", journal[i].desc, err))
		}
	}
	// A namespace the undo recreated is a new one: keep its inode.
	for _, n := range before.Nodes {
		if ino, ok := s.rec.Inodes[n]; ok && before.Inodes[n] != ino {
			if before.Inodes == nil {
				before.Inodes = map[string]uint64{}
			}
			before.Inodes[n] = ino
		}
	}
	*s.rec = *before
	var err error
	if len(before.Nodes) == 0 && len(before.Sysctls) == 0 {
		err = before.remove()
	} else {
		err = before.save()
	}
	if err != nil {
		errs = append(errs, err)
	}
	if created {
		settle(context.Background(), s.lab)
	}
	ae.Undone = len(journal)
	ae.Rollback = errors.Join(errs...)
	return ae
}
