package compose

import (
	"slices"
	"sort"
	"strconv"
	"strings"
)

// How port groups lower to the kinds of a bridge port: brvlan, brport,
// brfdb, mirror, and a qdisc for shaping.

// bridgeNamed is the [bridge:NAME] section of that name.
func (l *Lab) bridgeNamed(name string) *Bridge {
	for _, b := range l.Bridges {
		if b.Name == name {
			return b
		}
	}
	return nil
}

// bridgePorts lists the ports of b, sorted: its ports key, the vxlan
// devices that name it, and the ports of its port groups.
func (l *Lab) bridgePorts(b *Bridge) []string {
	ports := slices.Clone(b.Ports)
	for _, x := range l.Vxlans {
		if x.Netns == b.Netns && x.Bridge == b.Ifname {
			ports = append(ports, x.Ifname)
		}
	}
	for _, g := range l.PortGroups {
		if g.Bridge == b.Name {
			for _, p := range g.Ports {
				if p != b.Ifname {
					ports = append(ports, p)
				}
			}
		}
	}
	sort.Strings(ports)
	return slices.Compact(ports)
}

// portVLANs is the brvlan attributes of a port in group g (nil: in no
// group): the group's VLANs, or for a port in no group or in one that
// names none the kernel's default, VLAN 1 untagged.
func portVLANs(bridge string, g *PortGroup) map[string]string {
	m := map[string]string{"bridge": bridge, "pvid": "1", "untagged": "1", "tagged": ""}
	if g == nil || g.VLAN == 0 && len(g.Trunk) == 0 {
		return m
	}
	m["pvid"], m["untagged"] = "", ""
	if g.VLAN != 0 {
		m["pvid"] = strconv.Itoa(g.VLAN)
		m["untagged"] = m["pvid"]
	}
	m["tagged"] = VIDText(g.Trunk)
	return m
}

// portFlags is the brport attributes of g's ports, and whether any
// differs from the kernel's default (else the ports need no brport).
func (g *PortGroup) portFlags(bridge string) (map[string]string, bool) {
	m := map[string]string{
		"isolated":       onOff(g.Isolated),
		"learning":       onOff(g.Learning),
		"flood":          onOff(g.Flood),
		"locked":         onOff(g.Locked),
		"neigh_suppress": onOff(g.NeighSuppress),
	}
	set := false
	for k, v := range m {
		set = set || BrPortFlags[k] != v
	}
	m["bridge"] = bridge
	return m, set
}

// allowedMACs is what locked port p of g lets send: the MAC of the
// interface at the other end of its veth and of that interface's VLAN
// sub-interfaces, and the group's allow.p entries; sorted, unique.
func (l *Lab) allowedMACs(g *PortGroup, node, p string) []string {
	var macs []string
	for _, v := range l.Veths {
		var peer End
		switch {
		case v.A == (End{node, p}):
			peer = v.B
		case v.B == (End{node, p}):
			peer = v.A
		default:
			continue
		}
		macs = append(macs, l.MAC(peer.Node, peer.Ifname))
		if n, ok := l.Node(peer.Node); ok {
			for _, x := range n.VLANs {
				if l.vlanRoot(peer.Node, x.Ifname) == peer.Ifname {
					macs = append(macs, l.MAC(peer.Node, x.Ifname))
				}
			}
		}
	}
	for _, e := range g.Allow {
		if e.Port == p {
			macs = append(macs, e.MAC) // NODE:IF's is filled in by checkAllow
		}
	}
	sort.Strings(macs)
	return slices.Compact(slices.DeleteFunc(macs, func(m string) bool { return m == "" }))
}

// vlanRoot is the interface a stack of VLAN sub-interfaces sits on:
// eth0 for eth0.100.10.
func (l *Lab) vlanRoot(node, ifname string) string {
	for {
		x, ok := l.vlanOf(node, ifname)
		if !ok {
			return ifname
		}
		ifname = x.Parent
	}
}

// portResources lowers the bridges' VLANs and the port groups: brvlan for
// every port of a VLAN-aware bridge and for the bridge itself, master for
// a group's ports the bridge does not list, brport where a group's flags
// are not the kernel's, brfdb for locked ports, mirror, and a tbf qdisc
// for shaping.
func (l *Lab) portResources(add func(k Kind, node, name string, attrs map[string]string)) {
	groupOf := map[End]*PortGroup{}
	for _, g := range l.PortGroups {
		if b := l.bridgeNamed(g.Bridge); b != nil {
			for _, p := range g.Ports {
				groupOf[End{b.Netns, p}] = g
			}
		}
	}
	vlans := map[End]map[string]string{}
	for _, b := range l.Bridges {
		if !b.VLANFiltering {
			continue
		}
		for _, p := range append(l.bridgePorts(b), b.Ifname) {
			e := End{b.Netns, p}
			vlans[e] = portVLANs(b.Ifname, groupOf[e])
			add(KindBrVlan, b.Netns, p, vlans[e])
		}
	}
	for _, g := range l.PortGroups {
		b := l.bridgeNamed(g.Bridge)
		if b == nil {
			continue
		}
		flags, flagged := g.portFlags(b.Ifname)
		for _, p := range g.Ports {
			if p == b.Ifname {
				continue // the bridge's own interface: its VLANs only
			}
			if !l.enslavedElsewhere(b, p) {
				add(KindMaster, b.Netns, p, map[string]string{"bridge": b.Ifname})
			}
			if flagged {
				add(KindBrPort, b.Netns, p, flags)
			}
			if g.Locked {
				// One entry per VLAN the port carries: the bridge looks a
				// sender up by MAC and VID.
				vids := []string{""}
				if m, ok := vlans[End{b.Netns, p}]; ok {
					vids = nil
					if m["pvid"] != "" {
						vids = append(vids, m["pvid"])
					}
					tagged, _ := ParseVIDs(m["tagged"])
					for _, id := range tagged {
						vids = append(vids, strconv.Itoa(id))
					}
				}
				for _, mac := range l.allowedMACs(g, b.Netns, p) {
					for _, vid := range vids {
						name := p + "/" + mac
						if vid != "" {
							name += "/" + vid
						}
						add(KindBrFDB, b.Netns, name, map[string]string{"bridge": b.Ifname})
					}
				}
			}
			if g.Shaping != nil {
				add(KindQdisc, b.Netns, p, g.Shaping.Attrs())
			}
			if g.Mirror != "" {
				for _, dir := range []string{MirrorIngress, MirrorEgress} {
					if g.MirrorDirection == MirrorBoth || g.MirrorDirection == dir {
						add(KindMirror, b.Netns, p+"/"+dir, map[string]string{"to": g.Mirror})
					}
				}
			}
		}
	}
}

// enslavedElsewhere reports whether p is a port of b by the bridge's
// ports key or a vxlan device's bridge key: its master resource is
// lowered there.
func (l *Lab) enslavedElsewhere(b *Bridge, p string) bool {
	if slices.Contains(b.Ports, p) {
		return true
	}
	return slices.ContainsFunc(l.Vxlans, func(x *Vxlan) bool { return x.Netns == b.Netns && x.Ifname == p && x.Bridge == b.Ifname })
}

// summary is the group in one line, for pictures: "web: vlan 10 locked
// mirror → ids".
func (g *PortGroup) summary() string {
	s := []string{g.Name + ":"}
	if g.VLAN != 0 {
		s = append(s, "vlan "+strconv.Itoa(g.VLAN))
	}
	if len(g.Trunk) > 0 {
		s = append(s, "trunk "+VIDText(g.Trunk))
	}
	flags, _ := g.portFlags("")
	for _, k := range []string{"isolated", "locked", "neigh_suppress", "learning", "flood"} {
		if flags[k] != BrPortFlags[k] {
			s = append(s, k+" "+flags[k])
		}
	}
	if g.Mirror != "" {
		s = append(s, "mirror → "+g.Mirror)
	}
	if g.Shaping != nil {
		s = append(s, "rate "+RateText(uint64(g.Shaping.Rate)))
	}
	return strings.Join(s, " ")
}
