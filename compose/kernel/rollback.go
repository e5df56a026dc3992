package kernel

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/netcompose/netcompose/compose"
)

// rollback replays the journal backwards, then brings back what the kernel
// took along with the steps (restore), and restores the state record. What
// could not be restored is named in the error; namespaces made anew are
// never passed off as a clean rollback.
func (s *session) rollback(journal []undo, before *record, p compose.Plan, ae *ApplyError) error {
	var errs []error
	created := false // namespaces the undo deletes
	for _, n := range s.rec.Nodes {
		created = created || !before.has(n)
	}
	for i := len(journal) - 1; i >= 0; i-- {
		if err := journal[i].fn(); err != nil {
			st := journal[i].step
			errs = append(errs, fmt.Errorf("undo %s %s: %w", st.Op, compose.Label(stepResource(st)), err))
			continue
		}
		if journal[i].recreates != "" {
			ae.Recreated = append(ae.Recreated, journal[i].recreates)
		}
	}
	// A namespace the undo recreated is a new one: keep its inode.
	for _, n := range before.Nodes {
		if ino, ok := s.rec.Inodes[n]; ok && before.Inodes[n] != ino {
			before.claim(n, ino)
		}
	}
	// Objects only a kind's own dump sees may still be where it put them.
	for k, nodes := range s.rec.Dumps {
		before.addDump(k, nodes...)
	}
	*s.rec = *before
	s.rec.index()
	if len(errs) == 0 && p.Prior != nil {
		n, err := s.restore(p)
		ae.Restored = n
		if err != nil {
			errs = append(errs, err)
		}
	}
	s.endRun()
	var err error
	if s.rec.empty() {
		err = s.rec.remove()
	} else {
		err = s.rec.save()
	}
	if err != nil {
		errs = append(errs, err)
	}
	if created {
		settle(context.Background())
	}
	ae.Undone = len(journal)
	ae.Rollback = errors.Join(errs...)
	return ae
}

// restore observes the kernel after the undo and puts back what differs
// from the plan's prior state: the kernel removes more than a step asks
// (the last address of a subnet takes its routes and neighbours along),
// and an undo that re-adds the address does not bring them back. It
// returns how many objects it restored, and an error naming any that
// still differ.
func (s *session) restore(p compose.Plan) (int, error) {
	ctx := context.Background()
	now, err := s.observe(ctx, p.Prior)
	if err != nil {
		return 0, fmt.Errorf("restore: observe: %w", err)
	}
	back := compose.Diff(p.Lab, p.Prior, now)
	n := 0
	for _, st := range back.Steps() {
		if st.Cascade {
			continue
		}
		if _, err := s.run(st); err != nil {
			return n, fmt.Errorf("restore %s %s: %w", st.Op, compose.Label(stepResource(st)), err)
		}
		n++
	}
	if n == 0 {
		return 0, nil
	}
	now, err = s.observe(ctx, p.Prior)
	if err != nil {
		return n, fmt.Errorf("restore: observe: %w", err)
	}
	if left := compose.Diff(p.Lab, p.Prior, now); !left.Empty() {
		var ids []string
		for _, c := range left.Changes {
			ids = append(ids, string(c.Action)+" "+compose.Label(c.Resource()))
		}
		return n, fmt.Errorf("not restored: %s", strings.Join(ids, ", "))
	}
	return n, nil
}
