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
//   - a bridge port's VLANs, flags and static FDB entries are owned when
//     the port's bridge is an owned link, and mirror filters on an owned
//     link by their tc preference (78 ingress, 79 egress);
//   - sysctls are owned once netcompose changed them: the state record keeps
//     the original value, and deleting the resource restores it.
package kernel

import (
	"context"
	"errors"
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
	// A record that cannot be read: plan as if nothing were the lab's;
	// Obstacles and Apply say what is wrong and how to recover.
	rec, _, err := loadRecordOr(lab, true)
	if err != nil {
		return nil, err
	}
	s := newSession(lab, rec)
	s.lookOnly = true
	defer s.close()
	return s.observe(ctx, desired)
}

// observe is Observe with the session's own record, which a run in
// progress has changed in memory.
func (s *session) observe(ctx context.Context, desired []compose.Resource) ([]compose.Resource, error) {
	rec := s.rec
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

	dumps := dumpNodes(rec, desired)
	snaps := make([]*snapshot, len(nodes))
	errs := make([]error, len(nodes))
	eachNode(ctx, len(nodes), func(i int) {
		snaps[i], errs[i] = s.snapshot(nodes[i], wantSysctl[nodes[i]])
		if errs[i] == nil {
			errs[i] = s.dumpKinds(snaps[i], dumps)
		}
		if s.lookOnly {
			// Closing takes as long as a dump: in parallel, here.
			s.release(nodes[i])
		}
	})
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

// eachNode runs fn(0..n-1), observeWorkers at a time, until ctx ends.
func eachNode(ctx context.Context, n int, fn func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range observeWorkers {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
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

func stepResource(s compose.Step) compose.Resource {
	if s.After != nil {
		return *s.After
	}
	return *s.Before
}
