package compose

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/netcompose/netcompose/loader"
)

// PortGroup is a [portgroup:NAME] section: ports of one bridge that share
// a VLAN, a security policy and a mirror, as the ports of a vSphere
// standard switch's port group do (docs/vswitch.md).
type PortGroup struct {
	Meta
	Name   string
	Bridge string   // bridge = NAME: the [bridge:NAME] section
	Ports  []string // ports = IF...: interfaces of the bridge's node; the bridge's own for what it carries itself
	VLAN   int      // vlan = VID: the ports' PVID, sent untagged (an access port); 0 for none
	Trunk  []int    // trunk = VID|A-B...: VIDs the ports carry tagged, sorted
	// The security policy: port flags, defaults as the kernel sets them.
	Isolated      bool // isolated = on: talks only to ports that are not isolated
	Learning      bool // learning, default on
	Flood         bool // flood, default on: unknown unicast is flooded to the ports
	Locked        bool // locked = on: only the MACs the lab lists may send
	NeighSuppress bool // neigh_suppress = on: the bridge answers ARP/ND for the ports
	// Allow lists, per port, MACs a locked port lets send beyond the
	// interface at the other end of its veth (allow.IF = MAC|NODE:IF...).
	Allow []AllowEntry
	// Mirror copies the ports' traffic to interface Mirror of the
	// bridge's node (mirror = IF), in MirrorDirection: both, ingress
	// (what the ports' VMs send) or egress (what they receive).
	Mirror          string
	MirrorDirection string
	// Shaping (rate = RATE, burst = BYTES) holds what each port sends to
	// its VM to rate, as a tbf qdisc; nil for none.
	Shaping *Shaping
}

// AllowEntry is one value of an allow.IF key: a MAC, or NODE:IF for the
// MAC of that interface of the lab.
type AllowEntry struct {
	Port string
	MAC  string // filled in by validation for NODE:IF
	Of   End    // NODE:IF, zero for a MAC
	Pos  loader.Pos
}

// Mirror directions.
const (
	MirrorBoth    = "both"
	MirrorIngress = "ingress"
	MirrorEgress  = "egress"
)

func readPortGroup(r *reader) *PortGroup {
	g := &PortGroup{Name: r.s.Name}
	g.Bridge = r.str("bridge", "")
	if g.Bridge == "" {
		r.errorf("bridge", "bridge: missing (the [bridge:NAME] section whose ports these are)")
	}
	for _, p := range r.list("ports") {
		if err := ifName(p); err != nil {
			r.errorf("ports", "ports: %v", err)
			continue
		}
		if slices.Contains(g.Ports, p) {
			r.errorf("ports", "ports: %s listed twice", p)
			continue
		}
		g.Ports = append(g.Ports, p)
	}
	if len(g.Ports) == 0 {
		r.errorf("ports", "ports: missing (the interfaces in this port group)")
	}
	g.VLAN = r.integer("vlan", 1, 4094, 0)
	if v, ok := r.lookup("trunk"); ok {
		ids, err := ParseVIDs(strings.Join(strings.Fields(v), ","))
		if err != nil {
			r.errorf("trunk", "trunk: %v", err)
		}
		g.Trunk = ids
		if g.VLAN != 0 && slices.Contains(g.Trunk, g.VLAN) {
			r.errorf("trunk", "trunk: VID %d is the group's vlan (untagged) too", g.VLAN)
		}
	}
	g.Isolated = r.boolean("isolated", false)
	g.Learning = r.boolean("learning", true)
	g.Flood = r.boolean("flood", true)
	g.Locked = r.boolean("locked", false)
	g.NeighSuppress = r.boolean("neigh_suppress", false)
	for _, v := range r.family("allow.") {
		key := "allow." + v.Key
		for _, w := range strings.Fields(v.Value) {
			e := AllowEntry{Port: v.Key, Pos: v.Pos}
			if node, ifn, ok := strings.Cut(w, ":"); ok && !strings.Contains(ifn, ":") {
				e.Of = End{node, ifn}
			} else if mac, err := unicastMAC(w); err == nil {
				e.MAC = mac
			} else {
				r.errorf(key, "%s: %q is neither a MAC nor NODE:IF (%v)", key, w, err)
				continue
			}
			g.Allow = append(g.Allow, e)
		}
	}
	g.Mirror = r.str("mirror", "")
	g.MirrorDirection = r.oneOf("mirror_direction", MirrorBoth, MirrorBoth, MirrorIngress, MirrorEgress)
	if _, ok := r.meta.Keys["mirror_direction"]; ok && g.Mirror == "" {
		r.errorf("mirror_direction", "mirror_direction: without mirror = IF there is nothing to mirror")
	}
	g.Shaping = readShaping(r)
	g.Meta = r.meta
	return g
}

// readShaping reads a port group's rate and burst: the tbf of its ports.
// The burst defaults to 10 ms at the rate, at least two full frames; the
// queue holds the burst and 50 ms more.
func readShaping(r *reader) *Shaping {
	rateText, _ := r.lookup("rate")
	burstText, _ := r.lookup("burst")
	if rateText == "" {
		if burstText != "" {
			r.errorf("burst", "burst: without rate = RATE there is nothing to shape")
		}
		return nil
	}
	rate, err := ParseRate(rateText)
	if err == nil && rate == 0 {
		err = errorString("a rate of 0 lets nothing through")
	}
	if err != nil {
		r.errorf("rate", "rate: %v", err)
		return nil
	}
	bytesPerSec := int64(rate / 8)
	sh := &Shaping{Rate: int64(rate), Burst: max(bytesPerSec/100, 2*1514)}
	if burstText != "" {
		b, err := parseBytes(burstText)
		if err != nil || b < 1514 {
			r.errorf("burst", "burst: %q is not a size of at least one full frame (1514 bytes; like 32kb)", burstText)
			return nil
		}
		sh.Burst = b
	}
	sh.Limit = sh.Burst + bytesPerSec/20
	return sh
}

// parseBytes reads a size as tc writes one: a number of bytes, or with k,
// kb, m or mb (1024 and 1024*1024 bytes).
func parseBytes(s string) (int64, error) {
	low := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		n      int64
	}{{"kb", 1 << 10}, {"mb", 1 << 20}, {"k", 1 << 10}, {"m", 1 << 20}, {"b", 1}} {
		if num, ok := strings.CutSuffix(low, u.suffix); ok {
			low, mult = num, u.n
			break
		}
	}
	n, err := strconv.ParseInt(low, 10, 64)
	if err != nil || n < 0 || n > 1<<32 {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	return n * mult, nil
}

// ParseVIDs reads a VLAN list as "10,20,100-110" (a plan's and a port
// group's trunk), sorted and without repeats.
func ParseVIDs(s string) ([]int, error) {
	var out []int
	if s == "" {
		return nil, nil
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			hi = lo
		}
		a, aerr := strconv.Atoi(lo)
		b, berr := strconv.Atoi(hi)
		if aerr != nil || berr != nil || a < 1 || b > 4094 || a > b {
			return nil, fmt.Errorf("%q is not a VID in 1..4094 or a range A-B of them", part)
		}
		for id := a; id <= b; id++ {
			out = append(out, id)
		}
	}
	sort.Ints(out)
	return slices.Compact(out), nil
}

// VIDText writes a VLAN list the way ParseVIDs reads it, runs of
// consecutive VIDs as ranges: "10,20,100-110". ids must be sorted.
func VIDText(ids []int) string {
	var parts []string
	for i := 0; i < len(ids); {
		j := i
		for j+1 < len(ids) && ids[j+1] == ids[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, strconv.Itoa(ids[i])+"-"+strconv.Itoa(ids[j]))
		} else {
			parts = append(parts, strconv.Itoa(ids[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

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
// are not the kernel's, brfdb for locked ports, and mirror.
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

// checkPortGroups checks each group against its bridge: the ports are
// the bridge's node's, each in one group; VLANs need a VLAN-aware
// bridge; a locked port knows at least one MAC; the mirror target is
// neither the bridge nor one of the group's ports. Membership of the
// bridge itself is checked with the bridges' (checkBridges).
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
