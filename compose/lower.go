package compose

import (
	"net/netip"
	"slices"
	"strconv"
)

// sysctlSource is one desired sysctl and the key that asked for it.
type sysctlSource struct {
	value string
	meta  Meta
	key   string
}

// sysctls is every sysctl the lab sets, per node and name: the nodes'
// sysctl.* keys, forwarding, and the [arp:] settings. Two sources that
// disagree on a value are errors.
func (l *Lab) sysctls() (map[string]map[string]sysctlSource, []error) {
	out := map[string]map[string]sysctlSource{}
	var errs []error
	set := func(node, name, value string, m Meta, key string) {
		if out[node] == nil {
			out[node] = map[string]sysctlSource{}
		}
		if prev, ok := out[node][name]; ok && prev.value != value {
			errs = append(errs, m.errorf(key, "%s: sets %s = %s, but [%s] line %d sets it to %s",
				key, name, value, prev.meta.Section, prev.meta.At(prev.key).Line, prev.value))
			return
		}
		out[node][name] = sysctlSource{value, m, key}
	}
	for _, n := range l.Nodes {
		for _, s := range n.Sysctls {
			set(n.Name, s.Name, s.Value, n.Meta, "sysctl."+s.Name)
		}
		if n.Forwarding != nil {
			v := boolDigit(*n.Forwarding)
			set(n.Name, "net.ipv4.ip_forward", v, n.Meta, "forwarding")
			set(n.Name, "net.ipv6.conf.all.forwarding", v, n.Meta, "forwarding")
		}
		if n.IPv6 != nil {
			// "all" also sets "default" and every existing interface
			// (addrconf_disable_ipv6). Node-wide sysctls run right after
			// the namespace is made (see stage in plan.go), so the
			// node's links never get IPv6 at all.
			set(n.Name, "net.ipv6.conf.all.disable_ipv6", boolDigit(!*n.IPv6), n.Meta, "ipv6")
		}
	}
	for _, a := range l.ARPs {
		for _, i := range a.Interfaces {
			conf := "net.ipv4.conf." + i + "."
			if a.Proxy != nil {
				set(a.Netns, conf+"proxy_arp", boolDigit(*a.Proxy), a.Meta, "proxy")
			}
			if a.Ignore != nil {
				set(a.Netns, conf+"arp_ignore", strconv.Itoa(*a.Ignore), a.Meta, "ignore")
			}
			if a.Announce != nil {
				set(a.Netns, conf+"arp_announce", strconv.Itoa(*a.Announce), a.Meta, "announce")
			}
			if a.Filter != nil {
				set(a.Netns, conf+"arp_filter", boolDigit(*a.Filter), a.Meta, "filter")
			}
			if a.Accept != nil {
				set(a.Netns, conf+"arp_accept", boolDigit(*a.Accept), a.Meta, "accept")
			}
		}
	}
	return out, errs
}

func boolDigit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// Resources lowers the lab to the flat resources the kernel drivers
// handle, sorted (see Sort). Kinds without a driver yet (nfqueue, filter,
// pipeline, service, check) are not lowered.
func (l *Lab) Resources() []Resource {
	var rs []Resource
	add := func(k Kind, node, name string, attrs map[string]string) {
		rs = append(rs, Resource{Kind: k, Node: node, Name: name, Attrs: attrs})
	}
	addrs := l.addresses()
	ifaces := l.interfaces()

	for _, n := range l.Nodes {
		// lo is every namespace's own link: up, as apply leaves it.
		add(KindNetns, n.Name, "", map[string]string{"lo.up": "true"})
		for _, rt := range n.Routes {
			// via is always present, empty for an on-link route, so that
			// dropping a gateway from the file is a change (Diff compares
			// only the attributes a desired resource has).
			attrs := map[string]string{"via": ""}
			if rt.Via.IsValid() {
				attrs["via"] = rt.Via.String()
			}
			dev := rt.Dev
			if dev == "" {
				dev = gatewayDev(addrs[n.Name], rt.Via)
			}
			if dev != "" {
				attrs["dev"] = dev
			}
			add(KindRoute, n.Name, rt.Dest.String(), attrs)
		}
		for i, ru := range n.Rules {
			add(KindRule, n.Name, strconv.Itoa(ru.priority(i)), ru.attrs())
		}
	}
	for node, as := range addrs {
		for _, a := range as {
			add(KindAddr, node, a.Ifname+"/"+a.Prefix.String(), nil)
		}
	}
	// Every link the lab makes is up: the file has no way to ask for a
	// down one, so a link set down by hand is drift (a.up, b.up, up).
	// Every link has its MAC (a.mac, b.mac, mac): the file's, else
	// DerivedMAC, so that it is the same on every apply.
	for _, v := range l.Veths {
		add(KindVeth, "", v.Name, map[string]string{
			"a.node": v.A.Node, "a.ifname": v.A.Ifname, "a.up": "true", "a.mac": l.MAC(v.A.Node, v.A.Ifname),
			"b.node": v.B.Node, "b.ifname": v.B.Ifname, "b.up": "true", "b.mac": l.MAC(v.B.Node, v.B.Ifname),
			"mtu": strconv.Itoa(v.MTU),
		})
	}
	for _, b := range l.Bridges {
		add(KindBridge, b.Netns, b.Ifname, map[string]string{"mtu": strconv.Itoa(b.MTU), "stp": onOff(b.STP), "up": "true",
			"mac": l.MAC(b.Netns, b.Ifname), "vlan_filtering": onOff(b.VLANFiltering)})
		for _, p := range b.Ports {
			add(KindMaster, b.Netns, p, map[string]string{"bridge": b.Ifname})
		}
	}
	for _, x := range l.Vxlans {
		attrs := x.attrs(addrs, ifaces)
		attrs["mac"] = l.MAC(x.Netns, x.Ifname)
		add(KindVxlan, x.Netns, x.Ifname, attrs)
		if x.Bridge != "" {
			if b := l.bridge(x.Netns, x.Bridge); b == nil || !contains(b.Ports, x.Ifname) {
				add(KindMaster, x.Netns, x.Ifname, map[string]string{"bridge": x.Bridge})
			}
		}
		if len(x.Remotes) > 1 {
			for _, r := range x.Remotes {
				add(KindFDB, x.Netns, x.Ifname+"/"+r.String(), nil)
			}
		}
	}
	// What netem does to the packets an interface sends: one root qdisc
	// per impaired interface (impair.go).
	ims, _ := l.impairments()
	for e, im := range ims {
		add(KindQdisc, e.Node, e.Ifname, im.Attrs())
	}
	for _, n := range l.Nodes {
		for _, x := range n.VLANs {
			add(KindVlan, n.Name, x.Ifname, map[string]string{"link": x.Parent, "id": strconv.Itoa(x.ID),
				"protocol": x.Protocol, "up": "true", "mac": l.MAC(n.Name, x.Ifname)})
		}
	}
	l.portResources(add)
	sys, _ := l.sysctls()
	for node, m := range sys {
		for name, s := range m {
			add(KindSysctl, node, name, map[string]string{"value": s.value})
		}
	}
	for _, a := range l.ARPs {
		for _, n := range a.Neighbors {
			add(KindNeigh, a.Netns, n.Ifname+"/"+n.IP.String(), map[string]string{"mac": n.MAC})
		}
	}
	for _, q := range l.NFQueues {
		rs = append(rs, q.rule())
	}
	Sort(rs)
	return rs
}

// addresses is every desired address per node: address.IF keys of the
// nodes, and the address keys of bridges and vxlan devices.
func (l *Lab) addresses() map[string][]Address {
	m := map[string][]Address{}
	for _, n := range l.Nodes {
		m[n.Name] = append(m[n.Name], n.Addresses...)
	}
	for _, b := range l.Bridges {
		for _, p := range b.Addresses {
			m[b.Netns] = append(m[b.Netns], Address{Ifname: b.Ifname, Prefix: p, Pos: b.At("address")})
		}
	}
	for _, x := range l.Vxlans {
		for _, p := range x.Addresses {
			m[x.Netns] = append(m[x.Netns], Address{Ifname: x.Ifname, Prefix: p, Pos: x.At("address")})
		}
	}
	return m
}

// gatewayDev is the interface whose address subnet holds gw, or "".
func gatewayDev(as []Address, gw netip.Addr) string {
	if !gw.IsValid() {
		return ""
	}
	for _, a := range as {
		if a.Prefix.Masked().Contains(gw) {
			return a.Ifname
		}
	}
	return ""
}

// attrs is the vxlan resource's attributes (up is always "true"): local
// is taken from the underlay interface's address when not given, and the
// MTU defaults to the underlay's minus the encapsulation (50 bytes over
// IPv4, 70 over IPv6), or 1450 when the underlay's MTU is unknown.
func (x *Vxlan) attrs(addrs map[string][]Address, ifaces map[End]iface) map[string]string {
	m := map[string]string{
		"vni":      strconv.Itoa(x.VNI),
		"port":     strconv.Itoa(x.Port),
		"learning": onOff(x.Learning),
		"ttl":      strconv.Itoa(x.TTL),
		"tos":      strconv.Itoa(x.TOS),
		"up":       "true",
	}
	local := x.Local
	if !local.IsValid() && x.Underlay != (End{}) {
		want4 := len(x.Remotes) == 0 || x.Remotes[0].Is4()
		if x.Group.IsValid() {
			want4 = x.Group.Is4()
		}
		for _, a := range addrs[x.Underlay.Node] {
			if a.Ifname == x.Underlay.Ifname && a.Prefix.Addr().Is4() == want4 {
				local = a.Prefix.Addr()
				break
			}
		}
	}
	// local, group and the underlay are always present, empty when
	// unset, so that dropping one from the file replaces the device
	// (Diff compares only the attributes a desired resource has).
	m["local"], m["group"], m["underlay"], m["underlay.netns"] = "", "", "", ""
	if local.IsValid() {
		m["local"] = local.String()
	}
	if x.Group.IsValid() {
		m["group"] = x.Group.String()
	}
	if x.Underlay != (End{}) {
		m["underlay"] = x.Underlay.Ifname
		m["underlay.netns"] = x.Underlay.Node
	}
	// remote is the device's default destination: the one remote, or none
	// when there are several (they are all-zero FDB entries then) so that
	// going from one remote to several, or back, updates it.
	if !x.Group.IsValid() {
		m["remote"] = ""
		if len(x.Remotes) == 1 {
			m["remote"] = x.Remotes[0].String()
		}
	}
	mtu := x.MTU
	if mtu == 0 {
		mtu = 1450
		if u, ok := ifaces[x.Underlay]; ok && u.mtu > 0 {
			overhead := 50
			if local.Is6() {
				overhead = 70
			}
			mtu = u.mtu - overhead
		}
	}
	m["mtu"] = strconv.Itoa(mtu)
	return m
}

// Features lists the kernel features the lab needs, for the preflight
// (kmod.Check): netns, veth, bridge, vxlan, nfqueue, iptables, netem,
// and what VLANs and port groups need (switchFeatures).
func (l *Lab) Features() []string {
	var fs []string
	if len(l.Nodes) > 0 {
		fs = append(fs, "netns")
	}
	if len(l.Veths) > 0 {
		fs = append(fs, "veth")
	}
	if len(l.Bridges) > 0 {
		fs = append(fs, "bridge")
	}
	if len(l.Vxlans) > 0 {
		fs = append(fs, "vxlan")
	}
	if len(l.NFQueues) > 0 {
		fs = append(fs, "nfqueue", "iptables")
	}
	if ims, _ := l.impairments(); len(ims) > 0 {
		fs = append(fs, "netem")
	}
	return append(fs, l.switchFeatures()...)
}

// switchFeatures lists what VLANs and port groups need beyond a bridge:
// VLAN sub-interfaces (vlan), VLAN-aware bridges (bridge_vlan), the port
// flags newer than the bridge itself, and tc mirroring.
func (l *Lab) switchFeatures() []string {
	var fs []string
	need := func(f string, yes bool) {
		if yes && !slices.Contains(fs, f) {
			fs = append(fs, f)
		}
	}
	for _, n := range l.Nodes {
		need("vlan", len(n.VLANs) > 0)
	}
	for _, b := range l.Bridges {
		need("bridge_vlan", b.VLANFiltering)
	}
	for _, g := range l.PortGroups {
		need("bridge_isolated", g.Isolated)
		need("bridge_locked", g.Locked)
		need("bridge_neigh_suppress", g.NeighSuppress)
		need("tc_mirred", g.Mirror != "")
		need("tbf", g.Shaping != nil)
	}
	return fs
}
