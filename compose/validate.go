package compose

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/netcompose/netcompose/loader"
)

// iface is one interface of the lab: who creates it and where.
type iface struct {
	kind  string // veth, bridge, vxlan, lo
	owner Meta
	mtu   int // 0 when unknown
}

// interfaces indexes every interface the lab creates, by node and name;
// duplicates are reported by validate.
func (l *Lab) interfaces() map[End]iface {
	m := map[End]iface{}
	for _, n := range l.Nodes {
		m[End{n.Name, "lo"}] = iface{kind: "lo", owner: n.Meta}
	}
	for _, v := range l.Veths {
		m[v.A] = iface{"veth", v.Meta, v.MTU}
		m[v.B] = iface{"veth", v.Meta, v.MTU}
	}
	for _, b := range l.Bridges {
		m[End{b.Netns, b.Ifname}] = iface{"bridge", b.Meta, b.MTU}
	}
	for _, x := range l.Vxlans {
		m[End{x.Netns, x.Ifname}] = iface{"vxlan", x.Meta, x.MTU}
	}
	for _, n := range l.Nodes {
		for _, x := range n.VLANs {
			m[End{n.Name, x.Ifname}] = iface{kind: "vlan", owner: n.Meta}
		}
	}
	return m
}

// validator collects the cross-section problems of a lab.
type validator struct {
	lab    *Lab
	errs   []error
	ifaces map[End]iface
}

func (v *validator) errorf(m Meta, key, format string, args ...any) {
	v.errs = append(v.errs, m.errorf(key, format, args...))
}

// errorAt is errorf at pos: the line of one entry of a multi-line key
// (a route, a rule, a neighbour).
func (v *validator) errorAt(m Meta, pos loader.Pos, format string, args ...any) {
	v.errs = append(v.errs, &loader.Error{Pos: pos, Section: m.Section, Err: fmt.Errorf(format, args...)})
}

// node reports whether name is a node of the lab, complaining at key if not.
func (v *validator) node(m Meta, key, name string) bool {
	if name == "" {
		return false
	}
	if _, ok := v.lab.Node(name); !ok {
		msg := fmt.Sprintf("%s: no [netns:%s] in this lab", key, name)
		var names []string
		for _, n := range v.lab.Nodes {
			names = append(names, n.Name)
		}
		if s := suggest(name, names); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		v.errorf(m, key, "%s", msg)
		return false
	}
	return true
}

// iface reports whether node has an interface ifname, complaining at
// key's line if not.
func (v *validator) iface(m Meta, key, node, ifname string) bool {
	return v.ifaceAt(m, m.At(key), key, node, ifname)
}

// ifaceAt is iface complaining at pos: the line of one entry of a
// multi-line key (a route, a neighbour).
func (v *validator) ifaceAt(m Meta, pos loader.Pos, key, node, ifname string) bool {
	if _, ok := v.ifaces[End{node, ifname}]; ok {
		return true
	}
	var names []string
	for e := range v.ifaces {
		if e.Node == node {
			names = append(names, e.Ifname)
		}
	}
	slices.Sort(names)
	msg := fmt.Sprintf("%s: node %s has no interface %q", key, node, ifname)
	if s := suggest(ifname, names); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	} else if len(names) > 0 {
		msg += " (it has " + strings.Join(names, ", ") + ")"
	}
	v.errorAt(m, pos, "%s", msg)
	return false
}

func (l *Lab) validate() error {
	v := &validator{lab: l, ifaces: map[End]iface{}}
	v.uniqueInterfaces()
	for _, n := range l.Nodes {
		v.checkNode(n)
	}
	for _, x := range l.Veths {
		v.node(x.Meta, "endpoints", x.A.Node)
		v.node(x.Meta, "endpoints", x.B.Node)
	}
	v.checkBridges()
	v.checkPortGroups()
	for _, x := range l.Vxlans {
		v.checkVxlan(x)
	}
	for _, a := range l.ARPs {
		if !v.node(a.Meta, "netns", a.Netns) {
			continue
		}
		for _, i := range a.Interfaces {
			if i != "all" {
				v.iface(a.Meta, "interfaces", a.Netns, i)
			}
		}
		for _, n := range a.Neighbors {
			v.ifaceAt(a.Meta, n.Pos, "neighbors", a.Netns, n.Ifname)
		}
		v.checkNeighborMACs(a)
	}
	v.checkPackets()
	for _, s := range l.Services {
		v.node(s.Meta, "netns", s.Netns)
	}
	for _, c := range l.Checks {
		v.checkCheck(c)
	}
	v.checkCycles()
	v.checkLengths()
	_, errs := l.sysctls()
	v.errs = append(v.errs, errs...)
	_, errs = l.impairments()
	v.errs = append(v.errs, errs...)
	return errors.Join(v.errs...)
}

// uniqueInterfaces builds the interface index, reporting an interface
// that two sections both create in one namespace.
func (v *validator) uniqueInterfaces() {
	for _, n := range v.lab.Nodes {
		v.ifaces[End{n.Name, "lo"}] = iface{kind: "lo", owner: n.Meta}
	}
	add := func(e End, i iface, key string) {
		if e.Node == "" || e.Ifname == "" {
			return
		}
		if prev, ok := v.ifaces[e]; ok {
			if prev.kind == "lo" {
				v.errorf(i.owner, key, "%s: interface lo exists in every namespace", key)
			} else {
				v.errorf(i.owner, key, "%s: interface %s in node %s is already created by [%s] at line %d",
					key, e.Ifname, e.Node, prev.owner.Section, prev.owner.Pos.Line)
			}
			return
		}
		v.ifaces[e] = i
	}
	for _, x := range v.lab.Veths {
		add(x.A, iface{"veth", x.Meta, x.MTU}, "endpoints")
		add(x.B, iface{"veth", x.Meta, x.MTU}, "endpoints")
	}
	for _, b := range v.lab.Bridges {
		add(End{b.Netns, b.Ifname}, iface{"bridge", b.Meta, b.MTU}, "ifname")
	}
	for _, x := range v.lab.Vxlans {
		add(End{x.Netns, x.Ifname}, iface{"vxlan", x.Meta, x.MTU}, "ifname")
	}
	for _, n := range v.lab.Nodes {
		for _, x := range n.VLANs {
			key := "vlan"
			if x.Protocol == Proto8021AD {
				key = "svlan"
			}
			add(End{n.Name, x.Ifname}, iface{kind: "vlan", owner: n.Meta}, key)
		}
	}
}

func (v *validator) checkNode(n *Node) {
	if len(v.lab.Name)+1+len(n.Name) > 255 {
		v.errorf(n.Meta, "", "namespace name %s is longer than 255 bytes", NamespaceName(v.lab.Name, n.Name))
	}
	seen := map[string]bool{}
	for _, a := range n.Addresses {
		key := "address." + a.Ifname
		if !v.iface(n.Meta, key, n.Name, a.Ifname) {
			continue
		}
		if seen[a.Ifname+"/"+a.Prefix.Addr().String()] {
			v.errorf(n.Meta, key, "%s: address %s given twice", key, a.Prefix.Addr())
		}
		seen[a.Ifname+"/"+a.Prefix.Addr().String()] = true
	}
	dests := map[netip.Prefix]bool{}
	for _, r := range n.Routes {
		if r.Dev == "" || v.ifaceAt(n.Meta, r.Pos, "route", n.Name, r.Dev) {
			v.checkGateway(n, r)
		}
		if dests[r.Dest] {
			v.errorAt(n.Meta, r.Pos, "route: destination %s given twice", r.Dest)
		}
		dests[r.Dest] = true
	}
	v.checkRules(n)
	v.checkVLANs(n)
	v.checkMACs(n)
	v.checkImpairments(n)
	v.checkIPv6Off(n)
	if n.Host != "" && !slices.ContainsFunc(v.lab.Hosts, func(h *Host) bool { return h.Name == n.Host }) {
		v.errorf(n.Meta, "host", "host: no [host:%s] in this lab", n.Host)
	}
}

// checkIPv6Off refuses IPv6 addresses, routes and rules in a node with
// ipv6 = off: the kernel would refuse them at apply.
func (v *validator) checkIPv6Off(n *Node) {
	if n.IPv6 == nil || *n.IPv6 {
		return
	}
	off := func(what string) string {
		return fmt.Sprintf("%s is IPv6, but node %s has ipv6 = off (line %d)", what, n.Name, n.At("ipv6").Line)
	}
	for _, a := range n.Addresses {
		if a.Prefix.Addr().Is6() {
			v.errorf(n.Meta, "address."+a.Ifname, "address.%s: %s", a.Ifname, off(a.Prefix.String()))
		}
	}
	for _, b := range v.lab.Bridges {
		for _, p := range b.Addresses {
			if b.Netns == n.Name && p.Addr().Is6() {
				v.errorf(b.Meta, "address", "address: %s", off(p.String()))
			}
		}
	}
	for _, x := range v.lab.Vxlans {
		for _, p := range x.Addresses {
			if x.Netns == n.Name && p.Addr().Is6() {
				v.errorf(x.Meta, "address", "address: %s", off(p.String()))
			}
		}
	}
	for _, r := range n.Routes {
		if r.Dest.Addr().Is6() {
			v.errorAt(n.Meta, r.Pos, "route %s: %s", r.Dest, off("the destination"))
		}
	}
	for _, ru := range n.Rules {
		if ru.Family() == "inet6" {
			v.errorAt(n.Meta, ru.Pos, "rule: %s", off("the rule"))
		}
	}
}

func (v *validator) checkBridges() {
	enslaved := map[End]Meta{}
	enslave := func(m Meta, key string, e End) {
		if prev, ok := enslaved[e]; ok {
			v.errorf(m, key, "%s: %s in node %s is already a port of [%s]", key, e.Ifname, e.Node, prev.Section)
			return
		}
		enslaved[e] = m
	}
	for _, b := range v.lab.Bridges {
		if !v.node(b.Meta, "netns", b.Netns) {
			continue
		}
		for _, p := range b.Ports {
			if p == b.Ifname {
				v.errorf(b.Meta, "ports", "ports: bridge %s cannot be its own port", p)
				continue
			}
			if v.bridgePort(b.Meta, b.Netns, p) {
				enslave(b.Meta, "ports", End{b.Netns, p})
			}
		}
	}
	for _, x := range v.lab.Vxlans {
		if x.Bridge == "" || x.Netns == "" {
			continue
		}
		i, ok := v.ifaces[End{x.Netns, x.Bridge}]
		if !ok || i.kind != "bridge" {
			v.errorf(x.Meta, "bridge", "bridge: node %s has no bridge %q", x.Netns, x.Bridge)
			continue
		}
		if b := v.lab.bridge(x.Netns, x.Bridge); b != nil && slices.Contains(b.Ports, x.Ifname) {
			continue // listed in the bridge's ports too: one membership
		}
		enslave(x.Meta, "bridge", End{x.Netns, x.Ifname})
	}
	for _, g := range v.lab.PortGroups {
		b := v.lab.bridgeNamed(g.Bridge)
		if b == nil {
			continue // reported by checkPortGroups
		}
		if _, ok := v.lab.Node(b.Netns); !ok {
			continue // reported at the bridge
		}
		for _, p := range g.Ports {
			if p == b.Ifname || !v.bridgePort(g.Meta, b.Netns, p) {
				continue
			}
			if !v.lab.enslavedElsewhere(b, p) {
				enslave(g.Meta, "ports", End{b.Netns, p})
			}
		}
	}
}

// bridgePort reports whether p, listed at m's ports, is an interface of
// node that the kernel can put in a bridge, complaining if not.
func (v *validator) bridgePort(m Meta, node, p string) bool {
	if !v.iface(m, "ports", node, p) {
		return false
	}
	switch v.ifaces[End{node, p}].kind {
	case "bridge":
		v.errorf(m, "ports", "ports: %s is a bridge, and the kernel does not put a bridge in a bridge", p)
		return false
	case "lo":
		v.errorf(m, "ports", "ports: lo cannot be a bridge port")
		return false
	}
	return true
}

func (l *Lab) bridge(node, ifname string) *Bridge {
	for _, b := range l.Bridges {
		if b.Netns == node && b.Ifname == ifname {
			return b
		}
	}
	return nil
}

func (v *validator) checkVxlan(x *Vxlan) {
	v.node(x.Meta, "netns", x.Netns)
	// The underlay may sit in another node: the device is then created
	// next to its underlay and moved into netns (the kernel keeps the link).
	if x.Underlay != (End{}) && v.node(x.Meta, "underlay", x.Underlay.Node) {
		v.iface(x.Meta, "underlay", x.Underlay.Node, x.Underlay.Ifname)
	}
	// The kernel caps a vxlan device's MTU at its underlay's minus the
	// encapsulation, silently on create and with an error on change: a
	// larger mtu (often inherited from [DEFAULT]) would never converge.
	if u, ok := v.ifaces[x.Underlay]; ok && x.MTU > 0 && u.mtu > 0 {
		overhead := 50
		if x.Local.Is6() || x.Group.Is6() || len(x.Remotes) > 0 && x.Remotes[0].Is6() {
			overhead = 70
		}
		if x.MTU > u.mtu-overhead {
			v.errorf(x.Meta, "mtu", "mtu: %d is more than underlay %s:%s's mtu %d minus the %d bytes of encapsulation (at most %d)",
				x.MTU, x.Underlay.Node, x.Underlay.Ifname, u.mtu, overhead, u.mtu-overhead)
		}
	}
	if x.Local.IsValid() {
		for _, r := range x.Remotes {
			if r.Is4() != x.Local.Is4() {
				v.errorf(x.Meta, "remote", "remote: %s and local %s are of different families", r, x.Local)
			}
		}
	}
}

func (v *validator) checkPackets() {
	stage := func(name string) bool {
		return slices.ContainsFunc(v.lab.Pipelines, func(p *Pipeline) bool { return p.Name == name }) ||
			slices.ContainsFunc(v.lab.Filters, func(f *Filter) bool { return f.Name == name })
	}
	for _, q := range v.lab.NFQueues {
		if v.node(q.Meta, "netns", q.Netns) {
			for _, k := range []string{"in", "out"} {
				i := map[string]string{"in": q.In, "out": q.Out}[k]
				if i != "" && !strings.HasSuffix(i, "+") {
					v.iface(q.Meta, k, q.Netns, i)
				}
			}
		}
		if q.Pipeline != "" && !stage(q.Pipeline) {
			v.errorf(q.Meta, "pipeline", "pipeline: no [pipeline:%s] or [filter:%s] in this lab", q.Pipeline, q.Pipeline)
		}
	}
	for _, p := range v.lab.Pipelines {
		for _, s := range p.Stages {
			if !stage(s) {
				v.errorf(p.Meta, "pipeline", "pipeline: no [pipeline:%s] or [filter:%s] in this lab", s, s)
			}
		}
	}
}

func (v *validator) checkCheck(c *Check) {
	v.checkCapture(c)
	if v.node(c.Meta, "from", c.From) && c.Interface != "" {
		v.iface(c.Meta, "interface", c.From, c.Interface)
	}
	if c.ToNode != "" {
		v.node(c.Meta, "to", c.ToNode)
	}
	if c.ReplyFrom != "" {
		v.node(c.Meta, "reply_from", c.ReplyFrom)
	}
	for _, a := range c.Answer {
		node, ifn, hasIf := strings.Cut(a, ":")
		if v.node(c.Meta, "answer", node) && hasIf {
			v.iface(c.Meta, "answer", node, ifn)
		}
	}
}

// checkCycles finds loops among pipelines (a pipeline that reaches
// itself) and vxlan devices stacked on each other.
func (v *validator) checkCycles() {
	edges := map[string][]string{}
	metas := map[string]Meta{}
	keys := map[string]string{}
	for _, p := range v.lab.Pipelines {
		id := "pipeline:" + p.Name
		metas[id], keys[id] = p.Meta, "pipeline"
		for _, s := range p.Stages {
			edges[id] = append(edges[id], "pipeline:"+s)
		}
	}
	for _, x := range v.lab.Vxlans {
		id := "vxlan:" + x.Netns + ":" + x.Ifname
		metas[id], keys[id] = x.Meta, "underlay"
		if x.Underlay != (End{}) {
			edges[id] = append(edges[id], "vxlan:"+x.Underlay.Node+":"+x.Underlay.Ifname)
		}
	}
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var visit func(id string)
	visit = func(id string) {
		color[id] = grey
		stack = append(stack, id)
		for _, to := range edges[id] {
			if _, ok := metas[to]; !ok {
				continue
			}
			switch color[to] {
			case grey:
				i := slices.Index(stack, to)
				chain := append(slices.Clone(stack[i:]), to)
				for j := range chain {
					chain[j] = "[" + metas[chain[j]].Section + "]"
				}
				v.errorf(metas[to], keys[to], "cycle: %s", strings.Join(chain, " -> "))
			case white:
				visit(to)
			}
		}
		stack = stack[:len(stack)-1]
		color[id] = black
	}
	ids := make([]string, 0, len(metas))
	for id := range metas {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if color[id] == white {
			visit(id)
		}
	}
}

// checkGateway refuses a route whose gateway is on no subnet of the node
// (of its dev, when it names one): the kernel would refuse it at apply
// ("Nexthop has invalid gateway") after other changes were made.
func (v *validator) checkGateway(n *Node, r Route) {
	if !r.Via.IsValid() || r.Via.IsLinkLocalUnicast() {
		return
	}
	// The gateway's subnets: the node's addresses, and its on-link routes
	// (a /32 address reaches its gateway through "GW/32 dev IF").
	var subnets []string
	reach := func(ifname string, p netip.Prefix) bool {
		if r.Dev != "" && ifname != "" && ifname != r.Dev {
			return false
		}
		if p.Masked().Contains(r.Via) {
			return true
		}
		subnets = append(subnets, strings.TrimSpace(ifname+" "+p.Masked().String()))
		return false
	}
	for _, a := range v.lab.addresses()[n.Name] {
		if reach(a.Ifname, a.Prefix) {
			return
		}
	}
	for _, o := range n.Routes {
		if !o.Via.IsValid() && reach(o.Dev, o.Dest) {
			return
		}
	}
	where := "no interface of " + n.Name + " has an address"
	if len(subnets) > 0 {
		where = n.Name + "'s subnets are " + strings.Join(subnets, ", ")
	}
	if r.Dev != "" {
		where += " (on " + r.Dev + ")"
	}
	v.errorAt(n.Meta, r.Pos, "route %s: gateway %s is on no subnet of the node: %s", r.Dest, r.Via, where)
}
