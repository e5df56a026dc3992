package kernel

import (
	"fmt"
	"net"
	"strings"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/netlinksafe"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// neighDriver manages static (PERMANENT) IPv4/IPv6 neighbour entries on the
// lab's links; Name is "ifname/IP", attr mac in lower case.
type neighDriver struct{}

// dump reads the node's neighbours. The kernel keeps one neighbour table
// for every namespace and a dump walks all of it, so dumping each node
// would make Observe quadratic in the namespaces on the machine: Observe
// asks only in the nodes where the lab has or wants static entries
// (dumper). A static entry made by hand in another node is not the lab's
// business.
func (neighDriver) dump(s *session, sn *snapshot) (any, error) {
	if len(sn.owned) == 0 {
		return []netlink.Neigh(nil), nil // the lab's are only on its links
	}
	h, err := s.handle(sn.node)
	if err != nil {
		return nil, err
	}
	return netlinksafe.Dump(func() ([]netlink.Neigh, error) { return h.NeighList(0, netlink.FAMILY_ALL) })
}

func (neighDriver) observe(s *session, snaps []*snapshot, _ []compose.Resource) ([]compose.Resource, error) {
	var out []compose.Resource
	for _, sn := range snaps {
		neighs, _ := sn.dumps[compose.KindNeigh].([]netlink.Neigh)
		for _, n := range neighs {
			if n.Family != unix.AF_INET && n.Family != unix.AF_INET6 {
				continue // bridge FDB entries come in the same dump
			}
			if n.State&netlink.NUD_PERMANENT == 0 || n.IP == nil {
				continue
			}
			if _, ok := sn.owned[n.LinkIndex]; !ok {
				continue
			}
			out = append(out, compose.Resource{Kind: compose.KindNeigh, Node: sn.node,
				Name:  sn.ifname(n.LinkIndex) + "/" + n.IP.String(),
				Attrs: map[string]string{"mac": strings.ToLower(n.HardwareAddr.String())}})
		}
	}
	return out, nil
}

func (neighDriver) neigh(s *session, r compose.Resource) (*netlink.Neigh, error) {
	ifname, ipText, ok := strings.Cut(r.Name, "/")
	ip := net.ParseIP(ipText)
	if !ok || ip == nil {
		return nil, fmt.Errorf("neigh %s in %s: name is not ifname/IP", r.Name, r.Node)
	}
	l, err := s.link(r.Node, ifname)
	if err != nil {
		return nil, fmt.Errorf("neigh %s in %s: %w", r.Name, r.Node, err)
	}
	n := &netlink.Neigh{LinkIndex: l.Attrs().Index, IP: ip, State: netlink.NUD_PERMANENT, Family: unix.AF_INET}
	if ip.To4() == nil {
		n.Family = unix.AF_INET6
	}
	if m := r.Attrs["mac"]; m != "" {
		if n.HardwareAddr, err = net.ParseMAC(m); err != nil {
			return nil, fmt.Errorf("neigh %s in %s: %w", r.Name, r.Node, err)
		}
	}
	return n, nil
}

func (d neighDriver) create(s *session, r compose.Resource) error {
	n, err := d.neigh(s, r)
	if err != nil {
		return err
	}
	h, err := s.handle(r.Node)
	if err != nil {
		return err
	}
	if err := s.announceDump(compose.KindNeigh, r.Node); err != nil {
		return err
	}
	// NeighSet replaces a dynamic entry the kernel may already hold.
	if err := h.NeighSet(n); err != nil {
		return fmt.Errorf("neigh %s in %s: set: %w", r.Name, r.Node, err)
	}
	s.rec.addDump(compose.KindNeigh, r.Node)
	return nil
}

func (d neighDriver) update(s *session, _, after compose.Resource) error { return d.create(s, after) }

func (d neighDriver) delete(s *session, r compose.Resource) error {
	n, err := d.neigh(s, r)
	if gone(err) {
		return nil
	}
	if err != nil {
		return err
	}
	h, err := s.handle(r.Node)
	if err != nil {
		return err
	}
	if err := h.NeighDel(n); err != nil && !gone(err) {
		return fmt.Errorf("neigh %s in %s: delete: %w", r.Name, r.Node, err)
	}
	return nil
}
