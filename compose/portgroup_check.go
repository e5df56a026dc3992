package compose

import (
	"fmt"
	"slices"
)

// What is checked of port groups across the lab.

// checkPortGroups checks each group against its bridge: the ports are
// the bridge's node's, each in one group; VLANs need a VLAN-aware
// bridge; a locked port knows at least one MAC; the mirror target is
// neither the bridge nor one of the group's ports. That a port is in one
// group and of one bridge is checked with the bridges' (checkBridges);
// that the bridge itself is in one group, here.
func (v *validator) checkPortGroups() {
	self := map[*Bridge]Meta{}
	for _, g := range v.lab.PortGroups {
		b := v.lab.bridgeNamed(g.Bridge)
		if b == nil {
			var names []string
			for _, x := range v.lab.Bridges {
				names = append(names, x.Name)
			}
			msg := fmt.Sprintf("bridge: no [bridge:%s] in this lab", g.Bridge)
			if s := suggest(g.Bridge, names); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			v.errorf(g.Meta, "bridge", "%s", msg)
			continue
		}
		if (g.VLAN != 0 || len(g.Trunk) > 0) && !b.VLANFiltering {
			key := "vlan"
			if g.VLAN == 0 {
				key = "trunk"
			}
			v.errorf(g.Meta, key, "%s: [bridge:%s] is not VLAN-aware: set vlan_filtering = on there", key, b.Name)
		}
		for _, p := range g.Ports {
			if p != b.Ifname {
				continue // a port is in one group: checkBridges enslaves it once
			}
			if prev, ok := self[b]; ok {
				v.errorf(g.Meta, "ports", "ports: %s is already in [%s]: the bridge itself is in one port group", p, prev.Section)
				continue
			}
			self[b] = g.Meta
			v.checkBridgeSelf(g, b)
		}
		v.checkAllow(g, b)
		v.checkMirror(g, b)
		v.checkShaping(g, b)
	}
}

// checkBridgeSelf refuses what the bridge's own interface in a port group
// cannot have: it is no port, so only the group's VLANs apply to it.
func (v *validator) checkBridgeSelf(g *PortGroup, b *Bridge) {
	if !b.VLANFiltering {
		v.errorf(g.Meta, "ports", "ports: %s is the bridge itself, which a port group only gives VLANs: set vlan_filtering = on in [bridge:%s]", b.Ifname, b.Name)
	}
	if _, set := g.portFlags(b.Ifname); set || g.Mirror != "" {
		v.errorf(g.Meta, "ports", "ports: %s is the bridge itself, not a port: it takes no security policy or mirror (put it in a port group of its own)", b.Ifname)
	}
}

// checkAllow checks the allow.IF keys and that every locked port knows a
// MAC to let through, filling in the MACs of NODE:IF entries.
func (v *validator) checkAllow(g *PortGroup, b *Bridge) {
	for i := range g.Allow {
		e := &g.Allow[i]
		key := "allow." + e.Port
		if !slices.Contains(g.Ports, e.Port) {
			v.errorAt(g.Meta, e.Pos, "%s: %s is not a port of this group", key, e.Port)
			continue
		}
		if !g.Locked {
			v.errorAt(g.Meta, e.Pos, "%s: only a locked port has an allow list (set locked = on)", key)
		}
		if e.Of != (End{}) {
			if _, ok := v.lab.Node(e.Of.Node); !ok {
				v.errorAt(g.Meta, e.Pos, "%s: MAC of %s:%s: no [netns:%s] in this lab", key, e.Of.Node, e.Of.Ifname, e.Of.Node)
				continue
			}
			if v.ifaceAt(g.Meta, e.Pos, key, e.Of.Node, e.Of.Ifname) {
				e.MAC = v.lab.MAC(e.Of.Node, e.Of.Ifname)
			}
		}
	}
	if !g.Locked {
		return
	}
	for _, p := range g.Ports {
		if p != b.Ifname && len(v.lab.allowedMACs(g, b.Netns, p)) == 0 {
			v.errorf(g.Meta, "locked", "locked: no MAC could send through port %s: it is no veth end whose peer the lab knows, and no allow.%s lists one", p, p)
		}
	}
}

// checkMirror refuses a monitor that would loop: the bridge itself, or a
// port of the group it watches.
func (v *validator) checkMirror(g *PortGroup, b *Bridge) {
	if g.Mirror == "" {
		return
	}
	switch {
	case g.Mirror == b.Ifname:
		v.errorf(g.Meta, "mirror", "mirror: %s is the bridge: copies would be switched back to the ports; mirror to an interface of its own", g.Mirror)
	case slices.Contains(g.Ports, g.Mirror):
		v.errorf(g.Meta, "mirror", "mirror: %s is a port of this group", g.Mirror)
	case v.iface(g.Meta, "mirror", b.Netns, g.Mirror) && v.ifaces[End{b.Netns, g.Mirror}].kind == "lo":
		v.errorf(g.Meta, "mirror", "mirror: lo cannot be a monitor port")
	}
}

// checkShaping refuses shaping on a port that an impairment (netem)
// already holds: an interface has one root qdisc.
func (v *validator) checkShaping(g *PortGroup, b *Bridge) {
	if g.Shaping == nil {
		return
	}
	ims, _ := v.lab.impairments()
	for _, p := range g.Ports {
		if p == b.Ifname {
			v.errorf(g.Meta, "rate", "rate: %s is the bridge itself, not a port: shape its ports", p)
			continue
		}
		if im, ok := ims[End{b.Netns, p}]; ok && !im.Empty() {
			v.errorf(g.Meta, "rate", "rate: port %s is impaired too (netem): an interface has one root qdisc, so shape it with the impairment's rate instead", p)
		}
	}
}
