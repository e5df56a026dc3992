package kernel

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/netcompose/netcompose/internal/netlinksafe"

	"github.com/netcompose/netcompose/compose"
	"github.com/vishvananda/netlink"
)

// readyPoll is how often WaitReady asks again about the ends still down.
// Each poll is one single-link request per such end.
const readyPoll = 10 * time.Millisecond

// readyInline is how many nodes WaitReady looks at one after the other
// before it spreads them over workers: a handful of requests take less
// than handing them out.
const readyInline = 16

// readyDumpAbove is how many ends a node must have for WaitReady to dump
// its links first rather than ask for each end: a dump reads a hub of
// thousands of links in one request. A session that made the links knows
// their indexes and asks for each at once: most are still down, and
// asking for one is what brings it up.
const readyDumpAbove = 8

// WaitReady waits until the given veth ends of the lab (every veth end it
// owns when ends is nil) that are administratively up are operationally up,
// so that traffic flows when apply returns; ends that are gone, or in a
// namespace the lab does not own, are not waited for. It returns the ends
// still not up when ctx ends (nil when all are up).
//
// Until the kernel has run a new link's linkwatch event, the link keeps
// the noop qdisc and drops what it is asked to send, and a bridge does not
// forward through it. Linkwatch runs "urgent" events at once, but batches
// the others at most once a second, and a veth end whose ifindex equals
// its peer's (eth0 in two fresh namespaces: both are 2) is not urgent.
// A dump does not make the kernel run a pending event; a single-link
// RTM_GETLINK does (rtnl_getlink calls linkwatch_sync_dev, Linux >= 6.8),
// and answers with the state after it. So WaitReady asks for each end
// still down by itself. On older kernels that request returns what a dump
// would, and WaitReady waits for linkwatch as before.
func WaitReady(ctx context.Context, lab string, ends []compose.End) ([]compose.End, error) {
	rec, err := loadRecord(lab)
	if err != nil {
		return nil, err
	}
	s := newSession(lab, rec)
	defer s.close()
	return s.waitReady(ctx, ends, true)
}

// waitReady is WaitReady in a session: one that has just made the links
// (Apply's) has their handles open and their ifindexes learnt, and asks
// for them at once. With release, it closes each node's connection once
// nothing is left to wait for there, so that a fresh session's open files
// stay few.
func (s *session) waitReady(ctx context.Context, ends []compose.End, release bool) ([]compose.End, error) {
	byNode := map[string][]string{}
	if ends == nil {
		for _, n := range s.ownedNodes() {
			byNode[n] = nil // every owned veth end, from a dump
		}
	}
	seen := make(map[compose.End]bool, len(ends))
	for _, e := range ends {
		if !seen[e] { // a plan's passes may name an end twice
			seen[e] = true
			byNode[e.Node] = append(byNode[e.Node], e.Ifname)
		}
	}
	nodes := make([]string, 0, len(byNode))
	for n := range byNode {
		if s.rec.owns(n) {
			nodes = append(nodes, n)
		}
	}
	slices.Sort(nodes)

	// First look: every node once, a few at a time (the cost is mostly
	// opening each namespace's netlink socket). A node with nothing left
	// to wait for is closed at once, so the open files stay few.
	down := make([][]readyEnd, len(nodes))
	errs := make([]error, len(nodes))
	look := func(i int) {
		down[i], errs[i] = s.firstLook(nodes[i], byNode[nodes[i]])
		if release && len(down[i]) == 0 {
			s.release(nodes[i])
		}
	}
	if len(nodes) <= readyInline {
		for i := range nodes {
			look(i)
		}
	} else {
		eachNode(ctx, len(nodes), look)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	pending := slices.Concat(down...)

	for len(pending) > 0 {
		select {
		case <-ctx.Done():
			out := make([]compose.End, len(pending))
			for i, p := range pending {
				out[i] = p.End
			}
			return out, nil
		case <-time.After(readyPoll):
		}
		var err error
		if pending, err = s.stillDown(pending); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// readyEnd is a veth end WaitReady waits for, with its ifindex.
type readyEnd struct {
	compose.End
	index int
}

// firstLook returns the node's ends (its owned veth ends when ifnames is
// nil) that are administratively up but not yet operationally up, after
// asking for each such end by itself.
func (s *session) firstLook(node string, ifnames []string) ([]readyEnd, error) {
	h, err := s.handle(node)
	if err != nil {
		return nil, err
	}
	candidates, all := s.known(node, ifnames)
	if !all && (ifnames == nil || len(ifnames) > readyDumpAbove) {
		// Not all made in this run: a dump says which are the node's ends
		// and their indexes.
		links, err := netlinksafe.Dump(h.LinkList)
		if err != nil {
			return nil, fmt.Errorf("netns %s: list links: %w", s.nsName(node), err)
		}
		want := map[string]bool{}
		for _, n := range ifnames {
			want[n] = true
		}
		candidates = nil
		for _, l := range links {
			a := l.Attrs()
			if ifnames == nil {
				if k, _, ok := s.owner(a.Alias); !ok || k != compose.KindVeth {
					continue
				}
			} else if !want[a.Name] {
				continue
			}
			if !ready(a) {
				candidates = append(candidates, readyEnd{compose.End{Node: node, Ifname: a.Name}, a.Index})
			}
		}
	}
	return s.stillDown(candidates)
}

// known returns the node's ends ifnames with the indexes this session has
// learnt (0, to be asked for by name, where it has not), and whether it
// knows them all.
func (s *session) known(node string, ifnames []string) (ends []readyEnd, all bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	all = ifnames != nil
	for _, n := range ifnames {
		i, ok := s.links[node][n]
		all = all && ok
		ends = append(ends, readyEnd{End: compose.End{Node: node, Ifname: n}, index: i})
	}
	return ends, all
}

// stillDown asks for each end by itself (ask) and returns those not
// ready yet.
func (s *session) stillDown(ends []readyEnd) ([]readyEnd, error) {
	var down []readyEnd
	for _, e := range ends {
		e, up, err := s.ask(e)
		if err != nil {
			return nil, err
		}
		if !up {
			down = append(down, e)
		}
	}
	return down, nil
}

// ask asks the kernel for one end by itself (by index when known, else by
// name), which runs its pending link event first, and returns the end
// with its index and whether it is ready. An end that is gone is not
// waited for.
func (s *session) ask(e readyEnd) (readyEnd, bool, error) {
	h, err := s.handle(e.Node)
	if err != nil {
		return e, false, err
	}
	var l netlink.Link
	if e.index > 0 {
		l, err = h.LinkByIndex(e.index)
	} else {
		l, err = h.LinkByName(e.Ifname)
	}
	if err != nil {
		if gone(err) {
			return e, true, nil
		}
		return e, false, fmt.Errorf("netns %s: link %s: %w", s.nsName(e.Node), e.Ifname, err)
	}
	a := l.Attrs()
	if a.Name != e.Ifname {
		return e, true, nil // the index is another link's now: ours is gone
	}
	e.index = a.Index
	return e, ready(a), nil
}

// ready: operationally up, or administratively down (not to be waited
// for: set down on purpose).
func ready(a *netlink.LinkAttrs) bool { return !isUp(a) || a.OperState == netlink.OperUp }

// EndsText lists ends as "node:if, node:if" for messages.
func EndsText(ends []compose.End) string {
	var s []string
	for _, e := range ends {
		s = append(s, e.Node+":"+e.Ifname)
	}
	slices.Sort(s)
	return strings.Join(s, ", ")
}
