package kernel

import (
	"fmt"
	"strconv"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/nsrun"
	"github.com/vishvananda/netlink"
)

// netnsDriver manages the namespace <lab>-<node> of each node, and the
// administrative state of its lo (attr lo.up).
type netnsDriver struct{}

func (netnsDriver) observe(s *session, snaps []*snapshot, _ []compose.Resource) ([]compose.Resource, error) {
	var out []compose.Resource
	for _, sn := range snaps {
		r := compose.Resource{Kind: compose.KindNetns, Node: sn.node, Attrs: map[string]string{}}
		for _, l := range sn.byIndex {
			if a := l.Attrs(); a.Name == "lo" {
				r.Attrs["lo.up"] = strconv.FormatBool(isUp(a))
			}
		}
		out = append(out, r)
	}
	return out, nil
}

func (netnsDriver) create(s *session, r compose.Resource) error {
	_, found := lookNamespace(s.lab, r.Node)
	return createNetns(s, r, found)
}

// createNetns is the create of a node's namespace, given what is at its
// path now.
func createNetns(s *session, r compose.Resource, found nsFound) error {
	name := s.nsName(r.Node)
	if found == nsMounted {
		if s.rec.owns(r.Node) {
			return nil
		}
		if !s.adopt {
			return &ForeignError{Lab: s.lab, Node: r.Node, Namespace: name}
		}
		s.rec.pin(r.Node)
		s.rec.adopted(r.Node)
		return setLo(s, r.Node, true)
	}
	if p := namespacePath(s.lab, r.Node); found != nsAbsent && isPlaceholder(p) {
		// Not one the lab announced (tidy removed those): someone else's.
		return fmt.Errorf("netns %s: %s is an empty file, not a namespace (left by an interrupted `ip netns add`?), "+
			"and not the lab's: remove it if nobody needs it", name, p)
	}
	ino, loUp, err := s.createNamespace(r.Node)
	if err != nil {
		return err
	}
	s.rec.claim(r.Node, ino)
	if loUp {
		return nil
	}
	if err := freshLoUp(s, r.Node); err != nil {
		// The step failed after the namespace was made: no undo will be
		// recorded for it, so take it away here (it is ours: just made).
		s.forget(r.Node)
		if derr := nsrun.Delete(name); derr == nil {
			s.rec.removeNode(r.Node)
		}
		return err
	}
	return nil
}

// update brings lo back up (or, undoing that, down) when it was set down
// by hand.
func (netnsDriver) update(s *session, before, after compose.Resource) error {
	if v, ok := after.Attrs["lo.up"]; ok && v != before.Attrs["lo.up"] {
		return setLo(s, after.Node, v == "true")
	}
	return nil
}

// loopbackIndex is lo's ifindex in every namespace (LOOPBACK_IFINDEX):
// the first device a namespace gets.
const loopbackIndex = 1

// freshLoUp brings up lo of a namespace just made, by its index: lo is
// the only device there, and has index 1, so there is nothing to look up
// (a request saved per node). Should no device have that index, lo is
// looked up by name.
func freshLoUp(s *session, node string) error {
	h, err := s.handle(node)
	if err != nil {
		return err
	}
	if err := loUpByIndex(h); err == nil {
		return nil
	}
	return setLo(s, node, true)
}

// loUpByIndex brings up lo of a namespace just made, by its index.
func loUpByIndex(h *netlink.Handle) error {
	return h.LinkSetUp(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: loopbackIndex}})
}

func setLo(s *session, node string, up bool) error {
	h, err := s.handle(node)
	if err != nil {
		return err
	}
	lo, err := h.LinkByName("lo")
	if err == nil {
		if up {
			err = h.LinkSetUp(lo)
		} else {
			err = h.LinkSetDown(lo)
		}
	}
	if err != nil {
		return fmt.Errorf("netns %s: lo: %w", s.nsName(node), err)
	}
	return nil
}

func (netnsDriver) delete(s *session, r compose.Resource) error {
	// Only a namespace the record proves is ours is ever deleted.
	if !s.rec.owns(r.Node) {
		if namespaceExists(s.lab, r.Node) {
			return &ForeignError{Lab: s.lab, Node: r.Node, Namespace: s.nsName(r.Node)}
		}
		s.rec.removeNode(r.Node)
		return nil
	}
	s.forget(r.Node)
	if err := nsrun.Delete(s.nsName(r.Node)); err != nil {
		return err
	}
	s.rec.removeNode(r.Node)
	return nil
}
