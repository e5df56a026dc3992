package kernel

import (
	"fmt"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/nsrun"
)

// netnsDriver manages the namespace <lab>-<node> of each node.
type netnsDriver struct{}

func (netnsDriver) observe(s *session, snaps []*snapshot, _ []compose.Resource) ([]compose.Resource, error) {
	var out []compose.Resource
	for _, sn := range snaps {
		out = append(out, compose.Resource{Kind: compose.KindNetns, Node: sn.node})
	}
	return out, nil
}

func (netnsDriver) create(s *session, r compose.Resource) error {
	name := s.nsName(r.Node)
	if namespaceExists(s.lab, r.Node) {
		if s.rec.owns(r.Node) {
			return nil
		}
		if !s.adopt {
			return &ForeignError{Lab: s.lab, Node: r.Node, Namespace: name}
		}
		s.rec.addNode(r.Node)
		s.rec.pin(r.Node)
		return nil
	}
	// Record first: a namespace that exists is then never mistaken for a
	// foreign one, even if this process dies right after creating it.
	s.rec.addNode(r.Node)
	if err := nsrun.Create(name); err != nil {
		s.rec.removeNode(r.Node)
		return err
	}
	s.rec.pin(r.Node)
	h, err := s.handle(r.Node)
	if err != nil {
		return err
	}
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		return fmt.Errorf("netns %s: lo up: %w", name, err)
	}
	return nil
}

func (netnsDriver) update(*session, compose.Resource, compose.Resource) error { return nil }

func (netnsDriver) delete(s *session, r compose.Resource) error {
	s.forget(r.Node)
	if err := nsrun.Delete(s.nsName(r.Node)); err != nil {
		return err
	}
	s.rec.removeNode(r.Node)
	return nil
}
