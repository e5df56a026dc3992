package kernel

import (
	"bytes"
	"fmt"
	"net"
	"strings"

	"github.com/netcompose/netcompose/compose"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// fdbDriver manages the all-zero FDB entries of the lab's vxlan devices
// (Name "ifname/remote IP", no attrs): head-end replication, where
// broadcast, unknown unicast and multicast frames go to every listed
// remote. The entry of the device's default remote belongs to the vxlan
// resource (its remote attr), not to this kind.
type fdbDriver struct{}

var zeroMAC = net.HardwareAddr{0, 0, 0, 0, 0, 0}

func (fdbDriver) observe(s *session, snaps []*snapshot, _ []compose.Resource) ([]compose.Resource, error) {
	var out []compose.Resource
	for _, sn := range snaps {
		// One pass over the node's FDB (a bridge's learnt entries are in
		// it too), each entry looked up by its link.
		for _, n := range sn.fdb {
			m, ok := sn.owned[n.LinkIndex]
			vx, isVxlan := sn.byIndex[n.LinkIndex].(*netlink.Vxlan)
			if !ok || m.kind != compose.KindVxlan || !isVxlan || n.IP == nil || !bytes.Equal(n.HardwareAddr, zeroMAC) {
				continue
			}
			if vx.Group != nil && n.IP.Equal(vx.Group) {
				continue // the default remote: the vxlan's own attr
			}
			out = append(out, compose.Resource{Kind: compose.KindFDB, Node: sn.node, Name: vx.Name + "/" + n.IP.String()})
		}
	}
	return out, nil
}

func (fdbDriver) entry(s *session, r compose.Resource) (*netlink.Neigh, *netlink.Handle, error) {
	ifname, ipText, ok := strings.Cut(r.Name, "/")
	ip := net.ParseIP(ipText)
	if !ok || ip == nil {
		return nil, nil, fmt.Errorf("fdb %s: want IFNAME/IP", r.Name)
	}
	h, l, err := s.linkAt(r.Node, ifname)
	if err != nil {
		return nil, nil, err
	}
	return &netlink.Neigh{
		LinkIndex:    l.Attrs().Index,
		Family:       unix.AF_BRIDGE,
		State:        netlink.NUD_NOARP | netlink.NUD_PERMANENT,
		Flags:        netlink.NTF_SELF,
		HardwareAddr: zeroMAC,
		IP:           ip,
	}, h, nil
}

func (d fdbDriver) create(s *session, r compose.Resource) error {
	n, h, err := d.entry(s, r)
	if err != nil {
		return err
	}
	// Append: the all-zero entry holds a list of destinations, one per
	// remote; a plain add would find the entry there and fail.
	if err := h.NeighAppend(n); err != nil {
		return fmt.Errorf("fdb %s: append: %w", r.Name, err)
	}
	return nil
}

func (fdbDriver) update(*session, compose.Resource, compose.Resource) error { return nil }

func (d fdbDriver) delete(s *session, r compose.Resource) error {
	return deleteEntry(d, s, r, "fdb "+r.Name)
}

// fdbEntries are the kinds whose objects are bridge FDB entries (fdb,
// brfdb): entry is the one r names, and the handle of its node.
type fdbEntries interface {
	entry(s *session, r compose.Resource) (*netlink.Neigh, *netlink.Handle, error)
}

// deleteEntry deletes the entry r names; one already gone, or whose link
// is, is no error. what names r in an error.
func deleteEntry(d fdbEntries, s *session, r compose.Resource, what string) error {
	n, h, err := d.entry(s, r)
	if gone(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := h.NeighDel(n); err != nil && !gone(err) {
		return fmt.Errorf("%s: delete: %w", what, err)
	}
	return nil
}
