package compose

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/netcompose/netcompose/loader"
)

// Node is a [netns:NAME] section: a host of the lab, one network namespace.
type Node struct {
	Meta
	Name       string
	Sysctls    []Sysctl  // sysctl.<net.dotted.name> = V
	Addresses  []Address // address.<ifname> = CIDR...
	MACs       []MAC     // mac.<ifname> = MAC
	VLANs      []VLAN    // vlan = PARENT.VID... (802.1Q), svlan = PARENT.VID... (802.1ad)
	Routes     []Route   // route = DEST [via GW] [dev IF], one per line
	Rules      []Rule    // rule = [SELECTORS] ACTION, one per line
	Forwarding *bool     // forwarding = on|off; nil leaves the kernel default
	IPv6       *bool     // ipv6 = on|off; nil leaves the kernel default (on)
	Host       string    // host = HOSTNAME: placement in a multi-host lab
	// Impairs is the delay.IF, loss.IF, ... keys: what netem does to the
	// packets interface IF sends.
	Impairs map[string]*Impairment
}

// Sysctl is one net.* sysctl inside a node, value as the kernel prints it.
type Sysctl struct {
	Name, Value string
	Pos         loader.Pos
}

// Address is one address on an interface.
type Address struct {
	Ifname string
	Prefix netip.Prefix // host form: 10.0.0.1/24
	Pos    loader.Pos
}

// Route is one static route in a node's main table.
type Route struct {
	Dest netip.Prefix // masked; 0.0.0.0/0 or ::/0 for default
	Via  netip.Addr   // zero when the route is on-link
	Dev  string       // "" lets the lowering pick the interface
	Pos  loader.Pos
}

func readNode(r *reader) *Node {
	n := &Node{Name: r.s.Name}
	if err := safeName(n.Name); err != nil {
		r.errorf("", "node name: %v", err)
	}
	for _, v := range r.family("sysctl.") {
		name := v.Key
		if err := sysctlName(name); err != nil {
			r.errorf("sysctl."+name, "sysctl.%s: %v", name, err)
			continue
		}
		n.Sysctls = append(n.Sysctls, Sysctl{Name: name, Value: sysctlValue(v.Value), Pos: v.Pos})
	}
	for _, v := range r.family("address.") {
		if err := ifName(v.Key); err != nil {
			r.errorf("address."+v.Key, "address.%s: %v", v.Key, err)
			continue
		}
		for _, p := range prefixes(r, "address."+v.Key, v.Value) {
			n.Addresses = append(n.Addresses, Address{Ifname: v.Key, Prefix: p, Pos: v.Pos})
		}
	}
	n.MACs = readMACs(r)
	n.Impairs = readNodeImpairments(r)
	n.VLANs = readVLANs(r)
	for _, e := range r.lines("route") {
		rt, err := parseRoute(e.words)
		if err != nil {
			r.errorAt(e.pos, "route %q: %v", e.text(), err)
			continue
		}
		rt.Pos = e.pos
		n.Routes = append(n.Routes, rt)
	}
	for _, e := range r.lines("rule") {
		ru, err := parseRule(e.words)
		if err != nil {
			r.errorAt(e.pos, "rule %q: %v", e.text(), err)
			continue
		}
		ru.Pos = e.pos
		n.Rules = append(n.Rules, ru)
	}
	n.Forwarding = r.optBool("forwarding")
	n.IPv6 = r.optBool("ipv6")
	n.Host = r.str("host", "")
	n.Meta = r.meta
	return n
}

// prefixes parses a list of CIDRs in host form, reporting bad ones.
func prefixes(r *reader, key, v string) []netip.Prefix {
	var out []netip.Prefix
	for _, w := range strings.Fields(v) {
		p, err := netip.ParsePrefix(w)
		if err != nil {
			r.errorf(key, "%s: %q is not an address with a prefix length (like 10.0.0.1/24)", key, w)
			continue
		}
		out = append(out, netip.PrefixFrom(p.Addr().Unmap(), p.Bits()))
	}
	return out
}

// parseRoute reads "DEST [via GW] [dev IF]".
func parseRoute(w []string) (Route, error) {
	var rt Route
	var err error
	switch w[0] {
	case "default":
		rt.Dest = netip.Prefix{} // family decided by the gateway below
	default:
		if rt.Dest, err = netip.ParsePrefix(w[0]); err != nil {
			a, aerr := netip.ParseAddr(w[0])
			if aerr != nil {
				return rt, fmt.Errorf("%q is not a destination (CIDR or default)", w[0])
			}
			rt.Dest = netip.PrefixFrom(a, a.BitLen())
		}
		rt.Dest = rt.Dest.Masked()
	}
	for i := 1; i < len(w); i += 2 {
		if i+1 >= len(w) {
			return rt, fmt.Errorf("%q needs a value", w[i])
		}
		switch w[i] {
		case "via":
			if rt.Via, err = netip.ParseAddr(w[i+1]); err != nil {
				return rt, fmt.Errorf("gateway %q is not an IP address", w[i+1])
			}
			rt.Via = rt.Via.Unmap()
		case "dev":
			if err := ifName(w[i+1]); err != nil {
				return rt, fmt.Errorf("dev: %v", err)
			}
			rt.Dev = w[i+1]
		default:
			return rt, fmt.Errorf("unknown word %q (want via GW or dev IF)", w[i])
		}
	}
	if !rt.Via.IsValid() && rt.Dev == "" {
		return rt, fmt.Errorf("needs via GW or dev IF")
	}
	if w[0] == "default" {
		if rt.Via.IsValid() && rt.Via.Is6() {
			rt.Dest = netip.MustParsePrefix("::/0")
		} else {
			rt.Dest = netip.MustParsePrefix("0.0.0.0/0")
		}
	}
	if rt.Via.IsValid() && rt.Via.Is4() != rt.Dest.Addr().Is4() {
		return rt, fmt.Errorf("gateway %s and destination %s are of different families", rt.Via, rt.Dest)
	}
	return rt, nil
}
