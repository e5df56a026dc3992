package compose

import (
	"net/netip"
)

// Veth is a [veth:NAME] section: a veth pair between two nodes.
type Veth struct {
	Meta
	Name string
	A, B End // endpoints = NODE:IF NODE:IF
	MTU  int // mtu, default 1500
	// Impair is the delay, loss, ... keys: what netem does to the
	// packets each end sends.
	Impair *Impairment
}

// Bridge is a [bridge:NAME] section: a Linux bridge inside a node.
type Bridge struct {
	Meta
	Name      string
	Ifname    string // ifname, default NAME
	Netns     string // netns = NODE
	Ports     []string
	Addresses []netip.Prefix
	STP       bool   // stp = on|off, default off
	MTU       int    // mtu, default 1500
	MAC       string // mac; "" for the node's mac.IF or DerivedMAC
	// VLANFiltering (vlan_filtering = on|off, default off) makes the
	// bridge VLAN-aware: each port carries only its port group's VLANs.
	VLANFiltering bool
}

// Vxlan is a [vxlan:NAME] section: a VXLAN device inside a node.
type Vxlan struct {
	Meta
	Name      string
	Ifname    string // ifname, default NAME
	Netns     string // netns: where the device ends up
	VNI       int
	Underlay  End        // underlay = NODE:IF (zero if unset)
	Local     netip.Addr // local = IP (zero if unset)
	Remotes   []netip.Addr
	Group     netip.Addr // group = MULTICAST_IP
	Port      int        // port, default 4789
	Learning  bool       // learning, default on
	Bridge    string     // bridge = IFNAME: enslave to that bridge
	Addresses []netip.Prefix
	MTU       int         // mtu; 0: underlay MTU - 50, or 1450 when unknown
	TTL       int         // ttl; 0 is the kernel default (inherit)
	TOS       int         // tos; 0 is the kernel default
	MAC       string      // mac; "" for the node's mac.IF or DerivedMAC
	Impair    *Impairment // delay, loss, ...: netem on the device
}

func readVeth(r *reader) *Veth {
	v := &Veth{Name: r.s.Name}
	eps := r.list("endpoints")
	if len(eps) != 2 {
		r.errorf("endpoints", "endpoints: want two NODE:IF, got %d", len(eps))
	} else {
		for i, e := range eps {
			node, ifn, err := endpoint(e)
			if err != nil {
				r.errorf("endpoints", "endpoints: %v", err)
				continue
			}
			if i == 0 {
				v.A = End{node, ifn}
			} else {
				v.B = End{node, ifn}
			}
		}
	}
	v.MTU = r.integer("mtu", 68, 65535, 1500)
	v.Impair = readImpairment(r)
	v.Meta = r.meta
	return v
}

func readBridge(r *reader) *Bridge {
	b := &Bridge{Name: r.s.Name}
	b.Ifname = r.str("ifname", b.Name)
	if err := ifName(b.Ifname); err != nil {
		r.errorf("ifname", "bridge name: %v (set ifname = ...)", err)
	}
	b.Netns = r.str("netns", "")
	if b.Netns == "" {
		r.errorf("netns", "netns: missing (the node the bridge lives in)")
	}
	for _, p := range r.list("ports") {
		if err := ifName(p); err != nil {
			r.errorf("ports", "ports: %v", err)
			continue
		}
		b.Ports = append(b.Ports, p)
	}
	b.Addresses = prefixes(r, "address", r.strList("address"))
	b.STP = r.boolean("stp", false)
	b.VLANFiltering = r.boolean("vlan_filtering", false)
	b.MTU = r.integer("mtu", 68, 65535, 1500)
	b.MAC = readOwnMAC(r)
	b.Meta = r.meta
	return b
}

func readVxlan(r *reader) *Vxlan {
	x := &Vxlan{Name: r.s.Name}
	x.Ifname = r.str("ifname", x.Name)
	if err := ifName(x.Ifname); err != nil {
		r.errorf("ifname", "vxlan name: %v (set ifname = ...)", err)
	}
	x.Netns = r.str("netns", "")
	if x.Netns == "" {
		r.errorf("netns", "netns: missing (the node the vxlan device lives in)")
	}
	x.VNI = r.integer("vni", 1, 1<<24-1, 0)
	if _, ok := r.meta.Keys["vni"]; !ok {
		r.errorf("vni", "vni: missing (1..16777215)")
	}
	if u := r.str("underlay", ""); u != "" {
		node, ifn, err := endpoint(u)
		if err != nil {
			r.errorf("underlay", "underlay: %v", err)
		}
		x.Underlay = End{node, ifn}
	}
	x.Local = r.addr("local")
	for _, w := range r.list("remote") {
		a, err := netip.ParseAddr(w)
		if err != nil {
			r.errorf("remote", "remote: %q is not an IP address", w)
			continue
		}
		x.Remotes = append(x.Remotes, a.Unmap())
	}
	x.Group = r.addr("group")
	if x.Group.IsValid() && !x.Group.IsMulticast() {
		r.errorf("group", "group: %s is not a multicast address", x.Group)
	}
	if x.Group.IsValid() && len(x.Remotes) > 0 {
		r.errorf("group", "group and remote exclude each other")
	}
	if x.Underlay == (End{}) && !x.Local.IsValid() && len(x.Remotes) > 0 {
		r.errorf("remote", "remote needs underlay = NODE:IF or local = IP")
	}
	x.Port = r.integer("port", 1, 65535, 4789)
	x.Learning = r.boolean("learning", true)
	x.Bridge = r.str("bridge", "")
	x.Addresses = prefixes(r, "address", r.strList("address"))
	x.MTU = r.integer("mtu", 68, 65535, 0)
	x.TTL = r.integer("ttl", 0, 255, 0)
	x.TOS = r.integer("tos", 0, 255, 0)
	x.MAC = readOwnMAC(r)
	x.Impair = readImpairment(r)
	x.Meta = r.meta
	return x
}

// strList is a list value as one string, for parsers that split it.
func (r *reader) strList(key string) string {
	v, _ := r.lookup(key)
	return v
}

// addr is an optional single IP address.
func (r *reader) addr(key string) netip.Addr {
	v := r.str(key, "")
	if v == "" {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		r.errorf(key, "%s: %q is not an IP address", key, v)
		return netip.Addr{}
	}
	return a.Unmap()
}
