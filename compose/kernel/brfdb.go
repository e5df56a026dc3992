package kernel

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/netcompose/netcompose/compose"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// brfdbDriver manages the static FDB entries on the ports of the lab's
// bridges (Name "PORT/MAC", or "PORT/MAC/VID" on a VLAN-aware bridge;
// attr bridge): "bridge fdb add MAC dev PORT master static [vlan VID]".
// On a locked port they are the MACs that may send. The lab owns its
// bridges' ports whole: a static entry on one that the file does not
// list goes. Entries the kernel makes (local, learned) are not static.
type brfdbDriver struct{}

func (brfdbDriver) observe(s *session, snaps []*snapshot, _ []compose.Resource) ([]compose.Resource, error) {
	var out []compose.Resource
	for _, sn := range snaps {
		if !sn.hasOwned(compose.KindBridge) {
			continue
		}
		for _, n := range sn.fdb {
			m, ok := sn.owned[n.MasterIndex]
			if !ok || m.kind != compose.KindBridge || n.LinkIndex == n.MasterIndex || n.State != netlink.NUD_NOARP {
				continue
			}
			if n.Vlan != 0 && !vlanFiltering(sn.byIndex[n.MasterIndex]) {
				// An entry added without a VLAN is copied by the kernel
				// into each VLAN the port has, VLAN 1 at least, and its
				// delete takes the copies: on a bridge that does not
				// filter VLANs, they are the entry.
				continue
			}
			out = append(out, compose.Resource{Kind: compose.KindBrFDB, Node: sn.node,
				Name:  fdbName(sn.ifname(n.LinkIndex), n.HardwareAddr, n.Vlan),
				Attrs: map[string]string{"bridge": sn.ifname(n.MasterIndex)}})
		}
	}
	return out, nil
}

func fdbName(port string, mac net.HardwareAddr, vid int) string {
	name := port + "/" + mac.String()
	if vid != 0 {
		name += "/" + strconv.Itoa(vid)
	}
	return name
}

// entry is the FDB entry r names.
func (brfdbDriver) entry(s *session, r compose.Resource) (*netlink.Neigh, *netlink.Handle, error) {
	p := strings.Split(r.Name, "/")
	if len(p) < 2 || len(p) > 3 {
		return nil, nil, fmt.Errorf("brfdb %s: want PORT/MAC[/VID]", r.Name)
	}
	mac, err := net.ParseMAC(p[1])
	if err != nil {
		return nil, nil, fmt.Errorf("brfdb %s: bad MAC: %w", r.Name, err)
	}
	vid := 0
	if len(p) == 3 {
		if vid, err = strconv.Atoi(p[2]); err != nil || vid < 1 || vid > 4094 {
			return nil, nil, fmt.Errorf("brfdb %s: bad VID %q", r.Name, p[2])
		}
	}
	h, l, err := s.linkAt(r.Node, p[0])
	if err != nil {
		return nil, nil, err
	}
	return &netlink.Neigh{
		LinkIndex:    l.Attrs().Index,
		Family:       unix.AF_BRIDGE,
		State:        netlink.NUD_NOARP,
		Flags:        netlink.NTF_MASTER,
		HardwareAddr: mac,
		Vlan:         vid,
	}, h, nil
}

// create adds the entry, or makes static one the bridge had learned.
func (d brfdbDriver) create(s *session, r compose.Resource) error {
	n, h, err := d.entry(s, r)
	if err != nil {
		return err
	}
	if err := h.NeighSet(n); err != nil {
		return fmt.Errorf("brfdb %s in %s: add: %w", r.Name, r.Node, err)
	}
	return nil
}

func (brfdbDriver) update(*session, compose.Resource, compose.Resource) error { return nil }

func (d brfdbDriver) delete(s *session, r compose.Resource) error {
	return deleteEntry(d, s, r, "brfdb "+r.Name+" in "+r.Node)
}

// vlanFiltering reports whether l is a VLAN-aware bridge.
func vlanFiltering(l netlink.Link) bool {
	br, ok := l.(*netlink.Bridge)
	return ok && br.VlanFiltering != nil && *br.VlanFiltering
}
