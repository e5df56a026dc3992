package compose

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// picture is the lab as boxes and lines, independent of the output
// language: each node (namespace) is a group holding an item that says
// what the node does (forwarding, routes, rules, node-wide ARP settings)
// and one item per interface (a veth end, a bridge, a vxlan device) with
// its addresses and ARP settings, plus its services and queues. Links
// join interfaces: veths, bridge ports, the overlay of vxlan devices.
// Addresses sit on the interfaces, not on the links, so that links need
// no labels to collide with each other.
type picture struct {
	hosts  []pictureHost // clusters of clusters, when the lab has [host:]
	groups []pictureGroup
	links  []pictureLink
}

type pictureHost struct {
	id, label string
	nodes     []string // node names placed on this host
}

type pictureGroup struct {
	node, label string
	items       []pictureItem
}

// pictureItem is one box: lines[0] is its title.
type pictureItem struct {
	id    string
	lines []string
	shape string // box, port, hexagon, ellipse, component, cds
	left  bool   // a list (routes, rules): lines read left-aligned
}

type pictureLink struct {
	from, to, label string
	dashed          bool
	// hidden links only steer the layout (see layoutLinks).
	hidden bool
}

func (l *Lab) picture() picture {
	d := l.pictureData()
	p := picture{hosts: l.pictureHosts()}
	for _, n := range l.Nodes {
		p.groups = append(p.groups, d.group(n))
	}
	p.links = append(p.links, d.layoutLinks(p.groups)...)
	p.links = append(p.links, d.vethLinks()...)
	p.links = append(p.links, d.portLinks()...)
	p.links = append(p.links, d.overlayLinks()...)
	return p
}

// pictureData is what drawing the lab needs to look up.
type pictureData struct {
	lab     *Lab
	addrs   map[string][]Address
	sysctls map[string]map[string]sysctlSource
	neighs  map[End][]Neighbor
}

func (l *Lab) pictureData() *pictureData {
	sys, _ := l.sysctls()
	d := &pictureData{lab: l, addrs: l.addresses(), sysctls: sys, neighs: map[End][]Neighbor{}}
	for _, a := range l.ARPs {
		for _, n := range a.Neighbors {
			e := End{a.Netns, n.Ifname}
			d.neighs[e] = append(d.neighs[e], n)
		}
	}
	return d
}

func (l *Lab) pictureHosts() []pictureHost {
	var out []pictureHost
	for _, h := range l.Hosts {
		ph := pictureHost{id: "host_" + h.Name, label: "host " + h.Name}
		if h.Underlay.IsValid() {
			ph.label += " (" + h.Underlay.String() + ")"
		}
		for _, n := range l.Nodes {
			if l.HostOf(n.Name) == h.Name {
				ph.nodes = append(ph.nodes, n.Name)
			}
		}
		out = append(out, ph)
	}
	return out
}

// group is a node's box of boxes: the node itself, its bridges, vxlan
// devices and other interfaces, its services and queues.
func (d *pictureData) group(n *Node) pictureGroup {
	l := d.lab
	g := pictureGroup{node: n.Name, label: n.Name + " (" + l.Namespace(n.Name) + ")"}
	g.items = append(g.items, d.nodeItem(n))
	for _, b := range l.Bridges {
		if b.Netns == n.Name {
			lines := append([]string{b.Ifname + " (bridge)"}, d.ifaceLines(n.Name, b.Ifname)...)
			if b.STP {
				lines = append(lines, "stp on")
			}
			if b.VLANFiltering {
				lines = append(lines, "vlan filtering")
			}
			for _, pg := range l.PortGroups {
				if pg.Bridge == b.Name {
					lines = append(lines, pg.summary())
				}
			}
			g.items = append(g.items, pictureItem{id: itemID(l, n.Name, b.Ifname), lines: lines, shape: "hexagon"})
		}
	}
	for _, x := range l.Vxlans {
		if x.Netns == n.Name {
			lines := append([]string{x.Ifname + " (vxlan)", "VNI " + strconv.Itoa(x.VNI)}, d.ifaceLines(n.Name, x.Ifname)...)
			g.items = append(g.items, pictureItem{id: itemID(l, n.Name, x.Ifname), lines: lines, shape: "ellipse"})
		}
	}
	for _, x := range n.VLANs {
		title := fmt.Sprintf("%s (vlan %d)", x.Ifname, x.ID)
		if x.Protocol == Proto8021AD {
			title = fmt.Sprintf("%s (802.1ad %d)", x.Ifname, x.ID)
		}
		lines := append([]string{title}, d.ifaceLines(n.Name, x.Ifname)...)
		g.items = append(g.items, pictureItem{id: itemID(l, n.Name, x.Ifname), lines: lines, shape: "port"})
	}
	for _, ifname := range d.plainIfaces(n.Name) {
		lines := append([]string{ifname}, d.ifaceLines(n.Name, ifname)...)
		g.items = append(g.items, pictureItem{id: itemID(l, n.Name, ifname), lines: lines, shape: "port"})
	}
	g.items = append(g.items, l.processItems(n.Name)...)
	return g
}

// nodeItem says what the node does: forwarding, its node-wide ARP
// settings (conf.all, conf.default), routes and rules.
func (d *pictureData) nodeItem(n *Node) pictureItem {
	lines := []string{n.Name}
	if n.Forwarding != nil && *n.Forwarding {
		lines = append(lines, "forwarding")
	}
	for _, conf := range []string{"all", "default"} {
		if s := d.arpSettings(n.Name, conf); s != "" {
			lines = append(lines, "conf."+conf+": "+s)
		}
	}
	for _, rt := range n.Routes {
		lines = append(lines, routeText(rt))
	}
	for _, ru := range n.Rules {
		lines = append(lines, ruleText(ru))
	}
	return pictureItem{id: "ns/" + n.Name, lines: lines, shape: "box", left: len(lines) > 1}
}

// plainIfaces are the node's veth ends, and lo when it has addresses, in
// natural order.
func (d *pictureData) plainIfaces(node string) []string {
	var out []string
	for _, v := range d.lab.Veths {
		for _, e := range []End{v.A, v.B} {
			if e.Node == node {
				out = append(out, e.Ifname)
			}
		}
	}
	if slices.ContainsFunc(d.addrs[node], func(a Address) bool { return a.Ifname == "lo" }) {
		out = append(out, "lo")
	}
	slices.SortFunc(out, compareNatural)
	return out
}

// ifaceLines describe an interface under its title: its addresses, its
// ARP settings, its static neighbours.
func (d *pictureData) ifaceLines(node, ifname string) []string {
	var lines []string
	for _, a := range d.addrs[node] {
		if a.Ifname == ifname {
			lines = append(lines, a.Prefix.String())
		}
	}
	if s := d.arpSettings(node, ifname); s != "" {
		lines = append(lines, s)
	}
	for _, n := range d.neighs[End{node, ifname}] {
		lines = append(lines, "neigh "+n.IP.String()+" "+n.MAC)
	}
	return lines
}

// arpSysctls are the settings the ARP labs are about, as shown.
var arpSysctls = []string{"proxy_arp", "arp_ignore", "arp_announce", "arp_filter", "arp_accept"}

// arpSettings lists the ARP sysctls the lab sets on conf (an interface,
// all or default) of node: "proxy_arp=1 arp_ignore=0".
func (d *pictureData) arpSettings(node, conf string) string {
	var s []string
	for _, name := range arpSysctls {
		if v, ok := d.sysctls[node]["net.ipv4.conf."+conf+"."+name]; ok {
			s = append(s, name+"="+v.value)
		}
	}
	return strings.Join(s, " ")
}

// processItems are the node's services and queues.
func (l *Lab) processItems(node string) []pictureItem {
	var out []pictureItem
	for _, s := range l.Services {
		if s.Netns == node {
			what := s.Kind + " " + s.Listen.String()
			if s.Kind == "" {
				what = "command"
			}
			out = append(out, pictureItem{id: "svc/" + s.Name, lines: []string{"service " + s.Name, what}, shape: "component"})
		}
	}
	for _, q := range l.NFQueues {
		if q.Netns == node {
			out = append(out, pictureItem{id: "nfq/" + q.Name,
				lines: []string{"nfqueue " + q.Name + " (" + q.Chain + ")", "pipeline " + q.Pipeline}, shape: "cds"})
		}
	}
	return out
}

// itemID is the item of interface ifname of node: br/ for a bridge, vx/
// for a vxlan device, if/ for anything else.
func itemID(l *Lab, node, ifname string) string {
	if l.bridge(node, ifname) != nil {
		return "br/" + node + "/" + ifname
	}
	for _, x := range l.Vxlans {
		if x.Netns == node && x.Ifname == ifname {
			return "vx/" + node + "/" + ifname
		}
	}
	return "if/" + node + "/" + ifname
}

// layoutLinks put each node's box above its items, so that the links of
// a host leave it from below, except above bridge ports: a port sits
// above its bridge (portLinks), so that a switch's ports face the hosts
// above it and its bridge and box sit below them.
func (d *pictureData) layoutLinks(groups []pictureGroup) []pictureLink {
	ports := map[string]bool{}
	for _, l := range d.portLinks() {
		ports[l.from] = true
	}
	var out []pictureLink
	for _, g := range groups {
		for _, it := range g.items[1:] {
			if !ports[it.id] {
				out = append(out, pictureLink{from: g.items[0].id, to: it.id, hidden: true})
			}
		}
	}
	return out
}

// vethLinks join the two ends of each veth; one between hosts is built
// as a VXLAN tunnel (see ForHost), and drawn dashed and labelled so.
func (d *pictureData) vethLinks() []pictureLink {
	l := d.lab
	var out []pictureLink
	for _, v := range l.Veths {
		pl := pictureLink{from: itemID(l, v.A.Node, v.A.Ifname), to: itemID(l, v.B.Node, v.B.Ifname)}
		if ha, hb := l.HostOf(v.A.Node), l.HostOf(v.B.Node); ha != hb {
			pl.label = "VXLAN tunnel VNI " + strconv.Itoa(TunnelVNI(l.Name, v.Name)) + "\n" + ha + "—" + hb
			pl.dashed = true
		}
		out = append(out, pl)
	}
	return out
}

// portLinks join each port to its bridge.
func (d *pictureData) portLinks() []pictureLink {
	l := d.lab
	var out []pictureLink
	for _, b := range l.Bridges {
		for _, p := range b.Ports {
			out = append(out, pictureLink{from: itemID(l, b.Netns, p), to: itemID(l, b.Netns, b.Ifname)})
		}
	}
	for _, x := range l.Vxlans {
		if b := l.bridge(x.Netns, x.Bridge); b != nil && !slices.Contains(b.Ports, x.Ifname) {
			out = append(out, pictureLink{from: itemID(l, x.Netns, x.Ifname), to: itemID(l, x.Netns, b.Ifname)})
		}
	}
	for _, g := range l.PortGroups {
		b := l.bridgeNamed(g.Bridge)
		if b == nil {
			continue
		}
		for _, p := range g.Ports {
			if p != b.Ifname && !l.enslavedElsewhere(b, p) {
				out = append(out, pictureLink{from: itemID(l, b.Netns, p), to: itemID(l, b.Netns, b.Ifname)})
			}
		}
	}
	for _, n := range l.Nodes {
		for _, x := range n.VLANs {
			out = append(out, pictureLink{from: itemID(l, n.Name, x.Ifname), to: itemID(l, n.Name, x.Parent), dashed: true})
		}
	}
	return out
}

// overlayLinks join vxlan devices with the same VNI on different nodes.
func (d *pictureData) overlayLinks() []pictureLink {
	l := d.lab
	var out []pictureLink
	for i, a := range l.Vxlans {
		for _, b := range l.Vxlans[i+1:] {
			if a.VNI == b.VNI && a.Netns != b.Netns {
				out = append(out, pictureLink{
					from: itemID(l, a.Netns, a.Ifname), to: itemID(l, b.Netns, b.Ifname),
					label: "VNI " + strconv.Itoa(a.VNI), dashed: true,
				})
			}
		}
	}
	return out
}

// routeText is a route as the file writes it: "default via 10.0.0.254",
// "10.2.0.1/32 dev eth0".
func routeText(rt Route) string {
	s := []string{"route"}
	if rt.Dest.Bits() == 0 {
		s = append(s, "default")
	} else {
		s = append(s, rt.Dest.String())
	}
	if rt.Via.IsValid() {
		s = append(s, "via", rt.Via.String())
	}
	if rt.Dev != "" {
		s = append(s, "dev", rt.Dev)
	}
	return strings.Join(s, " ")
}

// ruleText is a rule as the file writes it, priority left out.
func ruleText(ru Rule) string {
	s := []string{"rule"}
	add := func(word, v string) {
		if v != "" {
			s = append(s, word, v)
		}
	}
	if ru.From.IsValid() {
		add("from", ru.From.String())
	}
	if ru.To.IsValid() {
		add("to", ru.To.String())
	}
	add("iif", ru.Iif)
	add("oif", ru.Oif)
	add("ipproto", ru.IPProto)
	add("sport", ru.Sport)
	add("dport", ru.Dport)
	return strings.Join(append(s, ru.Action), " ")
}

// layout walks the picture in drawing order, for every writer alike: each
// host (open, its namespaces, close), then the namespaces on no host.
func (p picture) layout(open func(pictureHost), group func(g pictureGroup, onHost bool), close func(pictureHost)) {
	placed := map[string]bool{}
	for _, h := range p.hosts {
		open(h)
		for _, n := range h.nodes {
			for _, g := range p.groups {
				if g.node == n {
					group(g, true)
				}
			}
			placed[n] = true
		}
		close(h)
	}
	for _, g := range p.groups {
		if !placed[g.node] {
			group(g, false)
		}
	}
}

// groupIndent indents a namespace's group one level deeper inside a host.
func groupIndent(onHost bool) string {
	if onHost {
		return "    "
	}
	return "  "
}
