package kernel

import (
	"fmt"
	"net"
	"strconv"

	"github.com/netcompose/netcompose/compose"
	"github.com/vishvananda/netlink"
)

// vlanDriver manages VLAN sub-interfaces (attrs link: the parent, id,
// protocol "802.1Q" or "802.1ad", up and mac), created in their node over
// their parent and marked like every link of the lab.
type vlanDriver struct{}

func (vlanDriver) observe(s *session, snaps []*snapshot, _ []compose.Resource) ([]compose.Resource, error) {
	var out []compose.Resource
	for _, sn := range snaps {
		for idx, m := range sn.owned {
			if m.kind != compose.KindVlan {
				continue
			}
			v, ok := sn.byIndex[idx].(*netlink.Vlan)
			if !ok {
				continue
			}
			proto := compose.Proto8021Q
			switch v.VlanProtocol {
			case netlink.VLAN_PROTOCOL_8021Q:
			case netlink.VLAN_PROTOCOL_8021AD:
				proto = compose.Proto8021AD
			default:
				proto = v.VlanProtocol.String()
			}
			out = append(out, compose.Resource{Kind: compose.KindVlan, Node: sn.node, Name: v.Name, Attrs: map[string]string{
				"link":     sn.ifname(v.ParentIndex),
				"id":       strconv.Itoa(v.VlanId),
				"protocol": proto,
				"up":       strconv.FormatBool(isUp(&v.LinkAttrs)),
				"mac":      v.HardwareAddr.String(),
			}})
		}
	}
	return out, nil
}

func (vlanDriver) create(s *session, r compose.Resource) (err error) {
	id, err := strconv.Atoi(r.Attrs["id"])
	if err != nil || id < 1 || id > 4094 {
		return fmt.Errorf("vlan %s: bad id %q", r.Name, r.Attrs["id"])
	}
	proto := netlink.VLAN_PROTOCOL_8021Q
	if r.Attrs["protocol"] == compose.Proto8021AD {
		proto = netlink.VLAN_PROTOCOL_8021AD
	}
	mac, err := macAttr(r, "mac")
	if err != nil {
		return err
	}
	h, parent, err := s.linkAt(r.Node, r.Attrs["link"])
	if err != nil {
		return fmt.Errorf("vlan %s: parent: %w", r.Name, err)
	}
	v := &netlink.Vlan{
		LinkAttrs: netlink.LinkAttrs{Name: r.Name, ParentIndex: parent.Attrs().Index, Flags: net.FlagUp, TxQLen: -1, HardwareAddr: mac},
		VlanId:    id, VlanProtocol: proto,
	}
	if err := s.announceLink(compose.KindVlan, r.Name, compose.End{Node: r.Node, Ifname: r.Name}); err != nil {
		return err
	}
	if err := h.LinkAdd(v); err != nil {
		return fmt.Errorf("vlan %s: create over %s: %w", r.Name, r.Attrs["link"], err)
	}
	defer func() {
		if err != nil {
			// No undo is recorded for a step that failed: the device just
			// made goes now, or it would be in the way of every later run.
			dropLink(h, r.Name)
		}
	}()
	l, err := h.LinkByName(r.Name)
	if err != nil {
		return fmt.Errorf("vlan %s: read back: %w", r.Name, err)
	}
	if _, ok := l.(*netlink.Vlan); !ok {
		return fmt.Errorf("vlan %s: read back: got a %s link", r.Name, l.Type())
	}
	s.learn(r.Node, r.Name, l.Attrs().Index)
	// The kernel ignores IFLA_IFALIAS on create: mark it now.
	if err := h.LinkSetAlias(l, s.alias(compose.KindVlan, r.Name)); err != nil {
		return fmt.Errorf("vlan %s: mark: %w", r.Name, err)
	}
	return nil
}

// update sets the MAC and the administrative state; the parent, VID and
// protocol force a replace.
func (vlanDriver) update(s *session, before, after compose.Resource) error {
	e := compose.End{Node: after.Node, Ifname: after.Name}
	if err := updateMAC(s, e, before, after, "mac"); err != nil {
		return fmt.Errorf("vlan %s: %w", after.Name, err)
	}
	if err := updateUp(s, e, before, after, "up"); err != nil {
		return fmt.Errorf("vlan %s: %w", after.Name, err)
	}
	return nil
}

func (vlanDriver) delete(s *session, r compose.Resource) error {
	defer s.unlearn(r.Node, r.Name)
	if err := delLink(s, compose.End{Node: r.Node, Ifname: r.Name}); err != nil && !gone(err) {
		return fmt.Errorf("vlan %s: delete: %w", r.Name, err)
	}
	return nil
}
