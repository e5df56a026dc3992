package kernel

import (
	"fmt"
	"net"
	"strconv"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/rtnl"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// bridgeDriver manages bridge devices (attrs mtu, stp "on"/"off", up
// "true"/"false": the administrative state, mac, and vlan_filtering
// "on"/"off": VLAN-aware, each port carrying its brvlan's VLANs). A bridge created
// with a MAC keeps it (the kernel's NET_ADDR_SET), instead of taking the
// smallest MAC of its ports as they come and go.
type bridgeDriver struct{}

func (bridgeDriver) observe(s *session, snaps []*snapshot, _ []compose.Resource) ([]compose.Resource, error) {
	var out []compose.Resource
	for _, sn := range snaps {
		for idx, m := range sn.owned {
			if m.kind != compose.KindBridge {
				continue
			}
			a := sn.byIndex[idx].Attrs()
			stp, err := bridgeSTP(s, sn.node, idx)
			if err != nil {
				return nil, fmt.Errorf("bridge %s in %s: %w", a.Name, sn.node, err)
			}
			filtering := vlanFiltering(sn.byIndex[idx])
			out = append(out, compose.Resource{Kind: compose.KindBridge, Node: sn.node, Name: a.Name,
				Attrs: map[string]string{"mtu": strconv.Itoa(a.MTU), "stp": onOff(stp), "up": strconv.FormatBool(isUp(a)),
					"mac": a.HardwareAddr.String(), "vlan_filtering": onOff(filtering)}})
		}
	}
	return out, nil
}

func (bridgeDriver) create(s *session, r compose.Resource) (err error) {
	mtu, err := mtuAttr(r)
	if err != nil {
		return err
	}
	mac, err := macAttr(r, "mac")
	if err != nil {
		return err
	}
	h, err := s.handle(r.Node)
	if err != nil {
		return err
	}
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: r.Name, Flags: net.FlagUp, TxQLen: -1, HardwareAddr: mac}}
	if r.Attrs["vlan_filtering"] == "on" {
		// Only when on: a kernel built without VLAN filtering refuses
		// the attribute even to turn it off.
		on := true
		br.VlanFiltering = &on
	}
	if err := s.announceLink(compose.KindBridge, r.Name, compose.End{Node: r.Node, Ifname: r.Name}); err != nil {
		return err
	}
	if err := h.LinkAdd(br); err != nil {
		return fmt.Errorf("bridge %s: create: %w", r.Name, err)
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
		return fmt.Errorf("bridge %s: read back: %w", r.Name, err)
	}
	s.learn(r.Node, r.Name, l.Attrs().Index)
	// The kernel ignores IFLA_IFALIAS on create: mark it now.
	if err := h.LinkSetAlias(l, s.alias(compose.KindBridge, r.Name)); err != nil {
		return fmt.Errorf("bridge %s: mark: %w", r.Name, err)
	}
	// A bridge's MTU follows its ports' smallest MTU until someone sets
	// it (the kernel's BROPT_MTU_SET_BY_USER); setting the value it
	// already has is a no-op that does not count, so step through
	// another value to pin the file's MTU.
	if mtu != 0 {
		for _, m := range []int{mtu - 1, mtu} {
			if err := h.LinkSetMTU(l, m); err != nil {
				return fmt.Errorf("bridge %s: mtu %d: %w", r.Name, mtu, err)
			}
		}
	}
	if r.Attrs["stp"] == "on" {
		if err := setBridgeSTP(s, r.Node, l.Attrs().Index, true); err != nil {
			return fmt.Errorf("bridge %s: stp: %w", r.Name, err)
		}
	}
	return nil
}

func (bridgeDriver) update(s *session, before, after compose.Resource) error {
	if mtu, err := mtuAttr(after); err != nil {
		return err
	} else if mtu != 0 && after.Attrs["mtu"] != before.Attrs["mtu"] {
		if err := setMTU(s, compose.End{Node: after.Node, Ifname: after.Name}, mtu); err != nil {
			return fmt.Errorf("bridge %s: %w", after.Name, err)
		}
	}
	if v, ok := after.Attrs["stp"]; ok && v != before.Attrs["stp"] {
		l, err := s.link(after.Node, after.Name)
		if err != nil {
			return err
		}
		if err := setBridgeSTP(s, after.Node, l.Attrs().Index, v == "on"); err != nil {
			return fmt.Errorf("bridge %s: stp: %w", after.Name, err)
		}
	}
	if v, ok := after.Attrs["vlan_filtering"]; ok && v != before.Attrs["vlan_filtering"] {
		l, err := s.link(after.Node, after.Name)
		if err != nil {
			return err
		}
		if err := setBridgeVlanFiltering(s, after.Node, l.Attrs().Index, v == "on"); err != nil {
			return fmt.Errorf("bridge %s: vlan_filtering %s: %w", after.Name, v, err)
		}
	}
	if err := updateMAC(s, compose.End{Node: after.Node, Ifname: after.Name}, before, after, "mac"); err != nil {
		return fmt.Errorf("bridge %s: %w", after.Name, err)
	}
	if err := updateUp(s, compose.End{Node: after.Node, Ifname: after.Name}, before, after, "up"); err != nil {
		return fmt.Errorf("bridge %s: %w", after.Name, err)
	}
	return nil
}

func (bridgeDriver) delete(s *session, r compose.Resource) error {
	defer s.unlearn(r.Node, r.Name)
	if err := delLink(s, compose.End{Node: r.Node, Ifname: r.Name}); err != nil && !gone(err) {
		return fmt.Errorf("bridge %s: delete: %w", r.Name, err)
	}
	return nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// The netlink package neither reads nor writes IFLA_BR_STP_STATE, so these
// speak rtnetlink directly on a socket in the node's namespace.

func (s *session) rawSocket(node string) (*nl.SocketHandle, error) {
	c, err := s.conn(node)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.raw == nil {
		sock, err := nl.GetNetlinkSocketAt(c.ns, netns.None(), unix.NETLINK_ROUTE)
		if err != nil {
			return nil, fmt.Errorf("netns %s: netlink: %w", s.nsName(node), err)
		}
		c.raw = &nl.SocketHandle{Socket: sock}
	}
	return c.raw, nil
}

func bridgeSTP(s *session, node string, index int) (bool, error) {
	sock, err := s.rawSocket(node)
	if err != nil {
		return false, err
	}
	return rtnl.BridgeSTP(sock, index)
}

// setBridgeVlanFiltering turns IFLA_BR_VLAN_FILTERING on or off by index
// alone: package netlink's setter names the link, which kernels before
// 6.2 refuse on a link that is up (see markUp).
func setBridgeVlanFiltering(s *session, node string, index int, on bool) error {
	v := uint8(0)
	if on {
		v = 1
	}
	return setBridgeAttr(s, node, index, nl.IFLA_BR_VLAN_FILTERING, []byte{v})
}

func setBridgeSTP(s *session, node string, index int, on bool) error {
	v := uint32(0)
	if on {
		v = 1
	}
	return setBridgeAttr(s, node, index, nl.IFLA_BR_STP_STATE, nl.Uint32Attr(v))
}

// setBridgeAttr sets one IFLA_BR_* attribute of a bridge.
func setBridgeAttr(s *session, node string, index int, attr int, value []byte) error {
	return setLinkData(s, node, index, "bridge", attr, value)
}

// setLinkData changes one IFLA_INFO_DATA attribute of a link of kind
// alone: the netlink package sends every attribute of the kind on a
// change, and the kernel refuses some (a vxlan's port) once the link
// exists.
func setLinkData(s *session, node string, index int, kind string, attr int, value []byte) error {
	sock, err := s.rawSocket(node)
	if err != nil {
		return err
	}
	req := nl.NewNetlinkRequest(unix.RTM_NEWLINK, unix.NLM_F_ACK)
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = int32(index)
	req.AddData(msg)
	info := nl.NewRtAttr(unix.IFLA_LINKINFO, nil)
	info.AddRtAttr(nl.IFLA_INFO_KIND, nl.NonZeroTerminated(kind))
	data := info.AddRtAttr(nl.IFLA_INFO_DATA, nil)
	data.AddRtAttr(attr, value)
	req.AddData(info)
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: sock}
	_, err = req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}
