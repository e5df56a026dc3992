package kernel

import (
	"fmt"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/bridgeport"
	"github.com/vishvananda/netlink/nl"
)

// brportDriver manages the flags of the ports of the lab's bridges that a
// port group sets (attrs bridge, and isolated, learning, flood, locked,
// neigh_suppress, each "on" or "off"). A port whose flags are all the
// kernel's defaults (compose.BrPortFlags) has no brport: observe reports
// only ports with a flag set otherwise, and delete sets the defaults
// back.
type brportDriver struct{}

// brportAttrs maps a brport attribute to its IFLA_BRPORT_* number.
var brportAttrs = map[string]int{
	"isolated":       nl.IFLA_BRPORT_ISOLATED,
	"learning":       nl.IFLA_BRPORT_LEARNING,
	"flood":          nl.IFLA_BRPORT_UNICAST_FLOOD,
	"locked":         nl.IFLA_BRPORT_LOCKED,
	"neigh_suppress": nl.IFLA_BRPORT_NEIGH_SUPPRESS,
}

func (brportDriver) observe(s *session, snaps []*snapshot, _ []compose.Resource) ([]compose.Resource, error) {
	var out []compose.Resource
	for _, sn := range snaps {
		for _, p := range sn.ports {
			if m, ok := sn.owned[p.Master]; !ok || m.kind != compose.KindBridge || p.Index == p.Master {
				continue
			}
			attrs := portFlagAttrs(p)
			flagged := false
			for k, def := range compose.BrPortFlags {
				flagged = flagged || attrs[k] != def
			}
			if !flagged {
				continue
			}
			attrs["bridge"] = sn.ifname(p.Master)
			out = append(out, compose.Resource{Kind: compose.KindBrPort, Node: sn.node, Name: sn.ifname(p.Index), Attrs: attrs})
		}
	}
	return out, nil
}

// portFlagAttrs reads a port's flags as brport attributes; a flag the
// kernel does not report (too old to have it) reads as its default.
func portFlagAttrs(p bridgeport.Port) map[string]string {
	attrs := map[string]string{}
	for k, nr := range brportAttrs {
		attrs[k] = compose.BrPortFlags[k]
		if v, ok := p.Flags[nr]; ok {
			attrs[k] = onOff(v)
		}
	}
	return attrs
}

func (d brportDriver) create(s *session, r compose.Resource) error { return d.set(s, r, r.Attrs) }

func (d brportDriver) update(s *session, _, after compose.Resource) error {
	return d.set(s, after, after.Attrs)
}

func (d brportDriver) delete(s *session, r compose.Resource) error {
	err := d.set(s, r, compose.BrPortFlags)
	if gone(err) {
		return nil
	}
	return err
}

// set gives the port the flags of attrs, in one message.
func (brportDriver) set(s *session, r compose.Resource, attrs map[string]string) error {
	l, err := s.link(r.Node, r.Name)
	if err != nil {
		return err
	}
	sock, err := s.rawSocket(r.Node)
	if err != nil {
		return err
	}
	flags := map[int]bool{}
	for k, v := range attrs {
		if nr, ok := brportAttrs[k]; ok {
			flags[nr] = v == "on"
		}
	}
	if err := bridgeport.SetFlags(sock, l.Attrs().Index, flags); err != nil {
		return fmt.Errorf("brport %s in %s: set flags: %w", r.Name, r.Node, err)
	}
	return nil
}
