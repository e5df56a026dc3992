package kernel

import (
	"context"
	"slices"
	"time"

	"github.com/netcompose/netcompose/compose"
)

// The kernel frees a deleted namespace asynchronously: a workqueue
// unregisters its interfaces later. After many namespaces are deleted that
// work competes with whatever runs next (a following apply builds several
// times slower), so destroy waits for it.
//
// Nothing tells user space when a namespace is gone, but a veth tells when
// its peer is: it disappears when the namespace on the other end has been
// torn down. So when a plan deletes several namespaces, the one holding the
// most veths to the others (the hub of a star) is deleted last, as a
// witness: first wait until its veths to the others are gone.

// witness picks the deleted namespace to delete last and the interfaces
// in it to watch, or "" when no namespace can witness another's teardown.
func witness(steps []compose.Step) (node string, ifnames []string) {
	deleted := map[string]bool{}
	for _, st := range steps {
		if st.Op == compose.Delete && !st.Cascade && st.Before.Kind == compose.KindNetns {
			deleted[st.Before.Node] = true
		}
	}
	if len(deleted) < 2 {
		return "", nil
	}
	ends := map[string][]string{} // node -> its veth ends paired with other deleted nodes
	for _, st := range steps {
		if st.Op != compose.Delete || st.Before.Kind != compose.KindVeth {
			continue
		}
		e := st.Before.Ends()
		if e[0].Node == e[1].Node || !deleted[e[0].Node] || !deleted[e[1].Node] {
			continue
		}
		ends[e[0].Node] = append(ends[e[0].Node], e[0].Ifname)
		ends[e[1].Node] = append(ends[e[1].Node], e[1].Ifname)
	}
	for n, ifs := range ends {
		if len(ifs) > len(ifnames) || len(ifs) == len(ifnames) && n < node {
			node, ifnames = n, ifs
		}
	}
	return node, ifnames
}

// lastDelete moves the delete of node's namespace to the end of the
// delete phase.
func lastDelete(steps []compose.Step, node string) []compose.Step {
	i := slices.IndexFunc(steps, func(st compose.Step) bool {
		return st.Op == compose.Delete && !st.Cascade && st.Before.Kind == compose.KindNetns && st.Before.Node == node
	})
	if i < 0 {
		return steps
	}
	st := steps[i]
	steps = slices.Delete(slices.Clone(steps), i, i+1)
	j := 0
	for j < len(steps) && steps[j].Op == compose.Delete {
		j++
	}
	return slices.Insert(steps, j, st)
}

// settleTimeout bounds the wait: the kernel may be slow, never stuck.
const settleTimeout = 2 * time.Minute

// awaitGone waits until none of ifnames is left in node's namespace.
func (s *session) awaitGone(ctx context.Context, node string, ifnames []string) {
	h, err := s.handle(node)
	if err != nil {
		return
	}
	deadline := time.Now().Add(settleTimeout)
	for time.Now().Before(deadline) {
		links, err := dump(h.LinkList)
		if err != nil {
			return
		}
		left := false
		for _, l := range links {
			if slices.Contains(ifnames, l.Attrs().Name) {
				left = true
				break
			}
		}
		if !left {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}
