package kernel

import (
	"fmt"
	"net"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/netlinksafe"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ForeignError reports a namespace with a lab's name that netcompose did
// not create, or cannot prove it did. Apply refuses to touch it unless
// ApplyOptions.Adopt is set.
type ForeignError struct {
	Lab, Node, Namespace string
	// Unproven is set when the lab's record names the node but holds no
	// inode for it (an older or hand-edited record): it proves nothing.
	Unproven bool
}

func (e *ForeignError) Error() string {
	if e.Unproven {
		return fmt.Sprintf("netns %s: lab %s's state record names it without proof (no inode), so it is left alone; "+
			"if it is the lab's, take it over with apply --adopt", e.Namespace, e.Lab)
	}
	return fmt.Sprintf("netns %s: exists but lab %s did not create it (its state record has no such namespace); remove it, or take it over with apply --adopt", e.Namespace, e.Lab)
}

// RouteConflictError is a route someone else made with the destination
// of a route the lab wants: the kernel would refuse the lab's ("file
// exists"), and netcompose never replaces what it does not own.
type RouteConflictError struct {
	Lab, Node, Namespace, Dst string
	Route                     string // the route in the way, as ip shows it
}

func (e *RouteConflictError) Error() string {
	return fmt.Sprintf("route %s in %s: a route netcompose did not make is in the way (%s); "+
		"delete it (ip -n %s route del %s) or take the route out of the file", e.Dst, e.Node, e.Route, e.Namespace, e.Dst)
}

// Obstacles lists what stands in the way of plan p, which Apply would
// refuse before changing anything: namespaces that are not the lab's
// (unless adopting) and routes of someone else's where the lab wants one.
// Diff shows them in advance.
func Obstacles(p compose.Plan, adopt bool) ([]error, error) {
	rec, bad, err := loadRecordOr(p.Lab, adopt)
	if bad != nil && !adopt {
		return []error{bad}, nil
	}
	if err != nil {
		return nil, err
	}
	return obstacles(p, rec, adopt), nil
}

func obstacles(p compose.Plan, rec *record, adopt bool) []error {
	var out []error
	if !adopt {
		for _, c := range p.Changes {
			if c.Action != compose.Create || c.After.Kind != compose.KindNetns {
				continue
			}
			if node := c.After.Node; namespaceExists(p.Lab, node) && !rec.owns(node) {
				_, pinned := rec.Inodes[node]
				out = append(out, &ForeignError{Lab: p.Lab, Node: node, Namespace: namespaceName(p.Lab, node),
					Unproven: rec.has(node) && !pinned})
			}
		}
	}
	return append(out, routeConflicts(p, rec)...)
}

// routeConflicts finds, in the lab's own namespaces, main-table routes
// without the lab's mark whose destination a route the plan creates has.
func routeConflicts(p compose.Plan, rec *record) []error {
	want := map[string][]compose.Resource{}
	for _, c := range p.Changes {
		if c.After != nil && c.After.Kind == compose.KindRoute && c.Action != compose.Update && rec.owns(c.After.Node) {
			want[c.After.Node] = append(want[c.After.Node], *c.After)
		}
	}
	if len(want) == 0 {
		return nil
	}
	s := newSession(p.Lab, rec)
	defer s.close()
	var out []error
	for node, rs := range want {
		h, err := s.handle(node)
		if err != nil {
			continue // Apply will say what is wrong with the namespace
		}
		have, err := netlinksafe.Dump(func() ([]netlink.Route, error) {
			return h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
		})
		if err != nil {
			continue
		}
		for _, r := range rs {
			for _, rt := range have {
				if rt.Protocol == RouteProtocol || rt.Priority != 0 || dstText(rt) != r.Name {
					continue
				}
				out = append(out, &RouteConflictError{Lab: p.Lab, Node: node, Namespace: s.nsName(node), Dst: r.Name, Route: rt.String()})
			}
		}
	}
	return out
}

func dstText(rt netlink.Route) string {
	if rt.Dst == nil {
		return defaultDst(rt.Family).String()
	}
	return (&net.IPNet{IP: rt.Dst.IP, Mask: rt.Dst.Mask}).String()
}
