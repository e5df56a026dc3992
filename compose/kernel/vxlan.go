package kernel

import (
	"fmt"
	"net"
	"strconv"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/nsrun"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// vxlanDriver manages vxlan devices (attrs vni port learning ttl tos mtu,
// local, remote or group, underlay + underlay.netns, up "true"/"false":
// the administrative state, and mac).
//
// The kernel opens a vxlan device's UDP socket in the namespace that
// created it, whichever namespace the device ends up in. So the device is
// created where its underlay lives — the underlay node's namespace, or
// for a host's underlay netcompose's own namespace or
// ApplyOptions.UnderlayNetns — straight into its node's namespace
// (IFLA_NET_NS_FD on create: the same as creating it and moving it, at a
// fraction of the cost).
type vxlanDriver struct{}

// underlayKey is the session connection of the host underlay namespace; a
// node name can never be empty, so it cannot clash.
const underlayKey = ""

func (vxlanDriver) observe(s *session, snaps []*snapshot, desired []compose.Resource) ([]compose.Resource, error) {
	want := index(desired)
	byNode := map[string]*snapshot{}
	for _, sn := range snaps {
		byNode[sn.node] = sn
	}
	var out []compose.Resource
	for _, sn := range snaps {
		for idx, m := range sn.owned {
			if m.kind != compose.KindVxlan {
				continue
			}
			vx, ok := sn.byIndex[idx].(*netlink.Vxlan)
			if !ok {
				continue
			}
			r := compose.Resource{Kind: compose.KindVxlan, Node: sn.node, Name: vx.Name, Attrs: vxlanAttrs(vx)}
			if vx.VtepDevIndex != 0 {
				// The underlay's index is in the namespace that created
				// the device: the file's underlay node, if we see it.
				r.Attrs["underlay"] = "#" + strconv.Itoa(vx.VtepDevIndex)
				if u := want[r.ID()].Attrs["underlay.netns"]; u != "" && byNode[u] != nil {
					if name := byNode[u].ifname(vx.VtepDevIndex); name != "" {
						r.Attrs["underlay"], r.Attrs["underlay.netns"] = name, u
					}
				}
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// vxlanAttrs is the normal form of a device's settings, as the lowering
// writes them.
func vxlanAttrs(vx *netlink.Vxlan) map[string]string {
	m := map[string]string{
		"vni":      strconv.Itoa(vx.VxlanId),
		"port":     strconv.Itoa(vx.Port),
		"learning": onOff(vx.Learning),
		"ttl":      strconv.Itoa(vx.TTL),
		"tos":      strconv.Itoa(vx.TOS),
		"mtu":      strconv.Itoa(vx.MTU),
		"up":       strconv.FormatBool(isUp(&vx.LinkAttrs)),
		"mac":      vx.HardwareAddr.String(),
	}
	if vx.SrcAddr != nil && !vx.SrcAddr.IsUnspecified() {
		m["local"] = vx.SrcAddr.String()
	}
	switch g := vx.Group; {
	case g == nil || g.IsUnspecified():
	case g.IsMulticast():
		m["group"] = g.String()
	default:
		m["remote"] = g.String()
	}
	return m
}

func index(rs []compose.Resource) map[string]compose.Resource {
	m := make(map[string]compose.Resource, len(rs))
	for _, r := range rs {
		m[r.ID()] = r
	}
	return m
}

// vxlanSpec parses a vxlan resource into the device to create.
func vxlanSpec(r compose.Resource) (*netlink.Vxlan, error) {
	num := func(k string) (int, error) {
		v, ok := r.Attrs[k]
		if !ok || v == "" {
			return 0, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("vxlan %s: bad %s %q", r.Name, k, v)
		}
		return n, nil
	}
	vx := &netlink.Vxlan{LinkAttrs: netlink.LinkAttrs{Name: r.Name}, Learning: r.Attrs["learning"] != "off"}
	var err error
	for k, p := range map[string]*int{"vni": &vx.VxlanId, "port": &vx.Port, "ttl": &vx.TTL, "tos": &vx.TOS, "mtu": &vx.MTU} {
		if *p, err = num(k); err != nil {
			return nil, err
		}
	}
	if vx.Port == 0 {
		vx.Port = 4789 // the kernel's own default is 8472, Linux's pre-IANA port
	}
	if vx.HardwareAddr, err = macAttr(r, "mac"); err != nil {
		return nil, err
	}
	for k, p := range map[string]*net.IP{"local": &vx.SrcAddr, "remote": &vx.Group, "group": &vx.Group} {
		if v := r.Attrs[k]; v != "" {
			if *p = net.ParseIP(v); *p == nil {
				return nil, fmt.Errorf("vxlan %s: bad %s %q", r.Name, k, v)
			}
		}
	}
	return vx, nil
}

// underlayConn is the connection to the namespace a vxlan device must be
// created in.
func (s *session) underlayConn(r compose.Resource) (*conn, error) {
	if u := r.Attrs["underlay.netns"]; u != "" {
		return s.conn(u)
	}
	s.mu.Lock()
	c, ok := s.conns[underlayKey]
	s.mu.Unlock()
	if ok {
		return c, nil
	}
	var ns netns.NsHandle
	var err error
	if s.underlayNS == "" {
		ns, err = netns.Get()
	} else {
		ns, err = netns.GetFromPath(nsrun.Path(s.underlayNS))
	}
	if err != nil {
		return nil, fmt.Errorf("underlay netns %q: open: %w", s.underlayNS, err)
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("underlay netns %q: netlink: %w", s.underlayNS, err)
	}
	c = &conn{ns: ns, h: h}
	s.mu.Lock()
	s.conns[underlayKey] = c
	s.mu.Unlock()
	return c, nil
}

func (vxlanDriver) create(s *session, r compose.Resource) (err error) {
	vx, err := vxlanSpec(r)
	if err != nil {
		return err
	}
	src, err := s.underlayConn(r)
	if err != nil {
		return err
	}
	dst, err := s.conn(r.Node)
	if err != nil {
		return err
	}
	if u := r.Attrs["underlay"]; u != "" {
		l, err := src.h.LinkByName(u)
		if err != nil {
			return fmt.Errorf("vxlan %s: underlay %s: %w", r.Name, u, err)
		}
		vx.VtepDevIndex = l.Attrs().Index
	}
	if src != dst {
		vx.Namespace = netlink.NsFd(int(dst.ns))
	}
	if err := s.announceLink(compose.KindVxlan, r.Name, compose.End{Node: r.Node, Ifname: r.Name}); err != nil {
		return err
	}
	if err := src.h.LinkAdd(vx); err != nil {
		return fmt.Errorf("vxlan %s: create: %w", r.Name, err)
	}
	defer func() {
		if err != nil {
			// No undo is recorded for a step that failed: the device just
			// made goes now, or it would be in the way of every later run.
			dropLink(dst.h, r.Name)
		}
	}()
	l, err := dst.h.LinkByName(r.Name)
	if err != nil {
		return fmt.Errorf("vxlan %s: read back: %w", r.Name, err)
	}
	if _, ok := l.(*netlink.Vxlan); !ok {
		return fmt.Errorf("vxlan %s: read back: a %s, not a vxlan", r.Name, l.Type())
	}
	s.learn(r.Node, r.Name, l.Attrs().Index)
	// The kernel ignores IFLA_IFALIAS on create: mark it now.
	if err := dst.h.LinkSetAlias(l, s.alias(compose.KindVxlan, r.Name)); err != nil {
		return fmt.Errorf("vxlan %s: mark: %w", r.Name, err)
	}
	if err := dst.h.LinkSetUp(l); err != nil {
		return fmt.Errorf("vxlan %s: up: %w", r.Name, err)
	}
	return nil
}

// update changes what the kernel changes in place: the MTU, the MAC, the
// default remote and the administrative state. Everything else forces a
// replace (compose.ForcesReplace).
func (vxlanDriver) update(s *session, before, after compose.Resource) error {
	if mtu, err := mtuAttr(after); err != nil {
		return err
	} else if mtu != 0 && after.Attrs["mtu"] != before.Attrs["mtu"] {
		if err := setMTU(s, compose.End{Node: after.Node, Ifname: after.Name}, mtu); err != nil {
			return fmt.Errorf("vxlan %s: %w", after.Name, err)
		}
	}
	if err := updateMAC(s, compose.End{Node: after.Node, Ifname: after.Name}, before, after, "mac"); err != nil {
		return fmt.Errorf("vxlan %s: %w", after.Name, err)
	}
	if v, ok := after.Attrs["remote"]; ok && v != before.Attrs["remote"] {
		if err := setVxlanRemote(s, after, v); err != nil {
			return fmt.Errorf("vxlan %s: remote %q: %w", after.Name, v, err)
		}
	}
	if err := updateUp(s, compose.End{Node: after.Node, Ifname: after.Name}, before, after, "up"); err != nil {
		return fmt.Errorf("vxlan %s: %w", after.Name, err)
	}
	return nil
}

// setVxlanRemote changes the device's default destination, which the
// kernel keeps as its first all-zero FDB entry. The netlink package sends
// every vxlan attribute on a change, and the kernel refuses a change that
// names the port at all, so this sends IFLA_VXLAN_GROUP alone.
func setVxlanRemote(s *session, r compose.Resource, remote string) error {
	l, err := s.link(r.Node, r.Name)
	if err != nil {
		return err
	}
	ip := net.IPv4zero
	if remote != "" {
		if ip = net.ParseIP(remote); ip == nil {
			return fmt.Errorf("bad address")
		}
	} else if local := net.ParseIP(r.Attrs["local"]); local != nil && local.To4() == nil {
		ip = net.IPv6zero
	}
	if ip4 := ip.To4(); ip4 != nil {
		return setLinkData(s, r.Node, l.Attrs().Index, "vxlan", nl.IFLA_VXLAN_GROUP, []byte(ip4))
	}
	return setLinkData(s, r.Node, l.Attrs().Index, "vxlan", nl.IFLA_VXLAN_GROUP6, []byte(ip.To16()))
}

func (vxlanDriver) delete(s *session, r compose.Resource) error {
	defer s.unlearn(r.Node, r.Name)
	if err := delLink(s, compose.End{Node: r.Node, Ifname: r.Name}); err != nil && !gone(err) {
		return fmt.Errorf("vxlan %s: delete: %w", r.Name, err)
	}
	return nil
}
