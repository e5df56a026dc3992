// Package kernel observes and changes the Linux kernel objects of a lab:
// namespaces, links, addresses, sysctls, routes and neighbours. It works on
// the flat resource model of package compose: Observe returns the actual
// resources a lab owns, compose.Diff plans the changes, Apply runs them with
// an undo journal so that a failing run leaves the kernel as it found it.
//
// Ownership is explicit and nothing unmarked is ever deleted:
//   - namespaces are owned when the lab's state record lists them;
//   - links carry the interface alias "netcompose:<lab>:<kind>:<name>" (both
//     ends of a veth carry the veth's name);
//   - routes carry the rtnetlink protocol number RouteProtocol;
//   - addresses and permanent neighbours are owned when they sit on an
//     owned link;
//   - sysctls are owned once netcompose changed them: the state record keeps
//     the original value, and deleting the resource restores it.
package kernel

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/netcompose/netcompose/compose"
)

// RouteProtocol is the rtnetlink protocol number (rtm_protocol) that marks
// routes netcompose installs: `ip route` shows it as "proto 78". 78 is not
// assigned in linux/rtnetlink.h nor in iproute2's rt_protos.
const RouteProtocol = 78

// Observe returns the actual state of what lab owns, in the normal form that
// the typed graph's Resources produces, sorted with compose.Sort. Sysctls
// are read for the keys named in desired and those in the state record.
func Observe(ctx context.Context, lab string, desired []compose.Resource) ([]compose.Resource, error) {
	rec, err := loadRecord(lab)
	if err != nil {
		return nil, err
	}
	s := newSession(lab, rec)
	defer s.close()
	nodes := s.ownedNodes()
	wantSysctl := map[string][]string{}
	for _, r := range desired {
		if r.Kind == compose.KindSysctl {
			wantSysctl[r.Node] = append(wantSysctl[r.Node], r.Name)
		}
	}
	for node, keys := range rec.Sysctls {
		for k := range keys {
			wantSysctl[node] = append(wantSysctl[node], k)
		}
	}

	snaps := make([]*snapshot, len(nodes))
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	next := make(chan int)
	for range observeWorkers {
		wg.Go(func() {
			for i := range next {
				snaps[i], errs[i] = s.snapshot(nodes[i], wantSysctl[nodes[i]])
			}
		})
	}
	for i := range nodes {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	var out []compose.Resource
	for _, k := range compose.Kinds {
		d, ok := drivers[k]
		if !ok {
			continue
		}
		rs, err := d.observe(s, snaps, desired)
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	compose.Sort(out)
	return out, nil
}

// observeWorkers is how many namespaces are dumped at once. Dumps are
// cheap kernel work; two workers per core hide the round-trip latency.
const observeWorkers = 4

// ownedNodes lists the recorded nodes whose namespace exists and is the
// one the lab made, sorted.
func (s *session) ownedNodes() []string {
	var nodes []string
	for _, n := range s.rec.Nodes {
		if s.rec.owns(n) {
			nodes = append(nodes, n)
		}
	}
	sort.Strings(nodes)
	return nodes
}

// ForeignError reports a namespace with a lab's name that netcompose did
// not create. Apply refuses to touch it unless ApplyOptions.Adopt is set.
type ForeignError struct {
	Lab, Node, Namespace string
}

// Foreign lists the namespaces p would create that exist but are not the
// lab's: Apply refuses them unless adopting. Diff shows them in advance.
func Foreign(p compose.Plan) ([]*ForeignError, error) {
	rec, err := loadRecord(p.Lab)
	if err != nil {
		return nil, err
	}
	return foreignIn(p, rec), nil
}

func foreignIn(p compose.Plan, rec *record) []*ForeignError {
	var out []*ForeignError
	for _, c := range p.Changes {
		if c.Action != compose.Create || c.After.Kind != compose.KindNetns {
			continue
		}
		if node := c.After.Node; namespaceExists(p.Lab, node) && !rec.owns(node) {
			out = append(out, &ForeignError{Lab: p.Lab, Node: node, Namespace: namespaceName(p.Lab, node)})
		}
	}
	return out
}

func (e *ForeignError) Error() string {
	return fmt.Sprintf("netns %s: exists but lab %s did not create it (its state record has no such namespace); remove it, or take it over with apply --adopt", e.Namespace, e.Lab)
}

// ApplyError is a failed step. The steps before it in the same run have
// been undone: Undone counts them, and Rollback holds what could not be
// undone (nil when the kernel is back as it was). Err is the kernel's error.
type ApplyError struct {
	Step     compose.Step
	Err      error
	Undone   int
	Rollback error
}

func (e *ApplyError) Error() string {
	msg := fmt.Sprintf("%s %s: %v", e.Step.Op, stepResource(e.Step).ID(), e.Err)
	if e.Rollback != nil {
		return msg + fmt.Sprintf("; rollback incomplete after undoing %d changes: %v", e.Undone, e.Rollback)
	}
	return msg + fmt.Sprintf("; rolled back %d changes: the lab is as it was before this run", e.Undone)
}

func (e *ApplyError) Unwrap() error { return e.Err }

func stepResource(s compose.Step) compose.Resource {
	if s.After != nil {
		return *s.After
	}
	return *s.Before
}
