package kernel

import (
	"fmt"
	"net"
	"strings"

	"github.com/netcompose/netcompose/compose"
	"github.com/vishvananda/netlink"
)

// addrDriver manages addresses on the lab's links; Name is "ifname/CIDR".
type addrDriver struct{}

func (addrDriver) observe(s *session, snaps []*snapshot, desired []compose.Resource) ([]compose.Resource, error) {
	want := map[string]bool{}
	for _, r := range desired {
		if r.Kind == compose.KindAddr {
			want[r.ID()] = true
		}
	}
	var out []compose.Resource
	for _, sn := range snaps {
		for _, a := range sn.addrs {
			if a.IPNet == nil {
				continue
			}
			ifname := sn.ifname(a.LinkIndex)
			if _, ok := sn.owned[a.LinkIndex]; !ok && ifname != "lo" {
				continue
			}
			r := compose.Resource{Kind: compose.KindAddr, Node: sn.node, Name: ifname + "/" + a.IPNet.String()}
			// The kernel adds an IPv6 link-local address to every link
			// that goes up, and 127.0.0.1/8 and ::1 (scope host) to lo:
			// they are not the lab's unless the file names them.
			if (a.IP.IsLinkLocalUnicast() || a.Scope == int(netlink.SCOPE_HOST)) && !want[r.ID()] {
				continue
			}
			out = append(out, r)
		}
	}
	return out, nil
}

func parseAddr(r compose.Resource) (ifname string, a *netlink.Addr, err error) {
	ifname, cidr, ok := strings.Cut(r.Name, "/")
	if !ok {
		return "", nil, fmt.Errorf("addr %s: name is not ifname/CIDR", r.Name)
	}
	ip, n, err := net.ParseCIDR(cidr)
	if err != nil {
		return "", nil, fmt.Errorf("addr %s: %w", r.Name, err)
	}
	n.IP = ip
	return ifname, &netlink.Addr{IPNet: n}, nil
}

func (addrDriver) create(s *session, r compose.Resource) error {
	ifname, a, err := parseAddr(r)
	if err != nil {
		return err
	}
	h, l, err := s.linkAt(r.Node, ifname)
	if err != nil {
		return err
	}
	if err := h.AddrAdd(l, a); err != nil {
		return fmt.Errorf("addr %s in %s: add: %w", r.Name, r.Node, err)
	}
	return nil
}

func (addrDriver) update(*session, compose.Resource, compose.Resource) error { return nil }

func (addrDriver) delete(s *session, r compose.Resource) error {
	ifname, a, err := parseAddr(r)
	if err != nil {
		return err
	}
	h, l, err := s.linkAt(r.Node, ifname)
	if gone(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := h.AddrDel(l, a); err != nil && !gone(err) {
		return fmt.Errorf("addr %s in %s: delete: %w", r.Name, r.Node, err)
	}
	return nil
}
