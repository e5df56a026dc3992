package kernel

import (
	"fmt"

	"github.com/netcompose/netcompose/compose"
)

// masterDriver manages bridge membership (attr bridge): an interface is
// the lab's member when the bridge it is enslaved to is the lab's.
type masterDriver struct{}

func (masterDriver) observe(s *session, snaps []*snapshot, _ []compose.Resource) ([]compose.Resource, error) {
	var out []compose.Resource
	for _, sn := range snaps {
		for _, l := range sn.byIndex {
			a := l.Attrs()
			if a.MasterIndex == 0 {
				continue
			}
			if m, ok := sn.owned[a.MasterIndex]; !ok || m.kind != compose.KindBridge {
				continue
			}
			out = append(out, compose.Resource{Kind: compose.KindMaster, Node: sn.node, Name: a.Name,
				Attrs: map[string]string{"bridge": sn.ifname(a.MasterIndex)}})
		}
	}
	return out, nil
}

func (masterDriver) create(s *session, r compose.Resource) error {
	h, l, err := s.linkAt(r.Node, r.Name)
	if err != nil {
		return err
	}
	br, err := s.link(r.Node, r.Attrs["bridge"])
	if err != nil {
		return err
	}
	if err := h.LinkSetMasterByIndex(l, br.Attrs().Index); err != nil {
		return fmt.Errorf("master %s: enslave to %s: %w", r.Name, r.Attrs["bridge"], err)
	}
	return nil
}

func (d masterDriver) update(s *session, _, after compose.Resource) error { return d.create(s, after) }

func (masterDriver) delete(s *session, r compose.Resource) error {
	h, l, err := s.linkAt(r.Node, r.Name)
	if gone(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := h.LinkSetNoMaster(l); err != nil && !gone(err) {
		return fmt.Errorf("master %s: release: %w", r.Name, err)
	}
	return nil
}
