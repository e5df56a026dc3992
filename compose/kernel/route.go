package kernel

import (
	"fmt"
	"net"

	"github.com/netcompose/netcompose/compose"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// routeDriver manages routes of the main table marked with RouteProtocol;
// Name is the destination CIDR (0.0.0.0/0 or ::/0 for default), attrs via
// and dev. Routes anyone else made are never seen, so never touched.
type routeDriver struct{}

func (routeDriver) observe(s *session, snaps []*snapshot, _ []compose.Resource) ([]compose.Resource, error) {
	var out []compose.Resource
	for _, sn := range snaps {
		for _, rt := range sn.routes {
			if rt.Table != unix.RT_TABLE_MAIN || rt.Protocol != RouteProtocol {
				continue
			}
			dst := rt.Dst
			if dst == nil {
				dst = defaultDst(rt.Family)
			}
			r := compose.Resource{Kind: compose.KindRoute, Node: sn.node, Name: dst.String(), Attrs: map[string]string{}}
			if rt.Gw != nil {
				r.Attrs["via"] = rt.Gw.String()
			}
			if rt.LinkIndex != 0 {
				r.Attrs["dev"] = sn.ifname(rt.LinkIndex)
			}
			out = append(out, r)
		}
	}
	return out, nil
}

func defaultDst(family int) *net.IPNet {
	if family == netlink.FAMILY_V6 {
		return &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}
	}
	return &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}
}

// route builds the netlink route for r; link lookups only when dev is set.
func (routeDriver) route(s *session, r compose.Resource) (*netlink.Route, error) {
	_, dst, err := net.ParseCIDR(r.Name)
	if err != nil {
		return nil, fmt.Errorf("route %s in %s: %w", r.Name, r.Node, err)
	}
	rt := &netlink.Route{Dst: dst, Protocol: RouteProtocol, Table: unix.RT_TABLE_MAIN}
	if v := r.Attrs["via"]; v != "" {
		if rt.Gw = net.ParseIP(v); rt.Gw == nil {
			return nil, fmt.Errorf("route %s in %s: bad via %q", r.Name, r.Node, v)
		}
	} else {
		rt.Scope = netlink.SCOPE_LINK
	}
	if dev := r.Attrs["dev"]; dev != "" {
		l, err := s.link(r.Node, dev)
		if err != nil {
			return nil, fmt.Errorf("route %s in %s: %w", r.Name, r.Node, err)
		}
		rt.LinkIndex = l.Attrs().Index
	}
	return rt, nil
}

func (d routeDriver) create(s *session, r compose.Resource) error {
	rt, err := d.route(s, r)
	if err != nil {
		return err
	}
	h, err := s.handle(r.Node)
	if err != nil {
		return err
	}
	if err := h.RouteAdd(rt); err != nil {
		return fmt.Errorf("route %s in %s: add: %w", r.Name, r.Node, err)
	}
	return nil
}

func (d routeDriver) update(s *session, before, after compose.Resource) error {
	rt, err := d.route(s, after)
	if err != nil {
		return err
	}
	h, err := s.handle(after.Node)
	if err != nil {
		return err
	}
	if err := h.RouteReplace(rt); err != nil {
		return fmt.Errorf("route %s in %s: replace: %w", after.Name, after.Node, err)
	}
	return nil
}

func (d routeDriver) delete(s *session, r compose.Resource) error {
	_, dst, err := net.ParseCIDR(r.Name)
	if err != nil {
		return fmt.Errorf("route %s in %s: %w", r.Name, r.Node, err)
	}
	h, err := s.handle(r.Node)
	if err != nil {
		return err
	}
	// Match on destination and protocol only: a route of ours whose dev or
	// gateway drifted is still ours to delete.
	rt := &netlink.Route{Dst: dst, Protocol: RouteProtocol, Table: unix.RT_TABLE_MAIN}
	if err := h.RouteDel(rt); err != nil && !gone(err) {
		return fmt.Errorf("route %s in %s: delete: %w", r.Name, r.Node, err)
	}
	return nil
}
