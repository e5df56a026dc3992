package importer

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
)

// BuildOptions say how a snapshot is written.
type BuildOptions struct {
	// DeriveMACs leaves MACs out (netcompose derives them from the
	// names); by default each interface keeps the MAC it has.
	DeriveMACs bool
	// Command is the command line that imported, for the header.
	Command string
}

// builder turns a snapshot into a File.
type builder struct {
	o      BuildOptions
	snap   *Snapshot
	file   *File
	nodes  []*nodeBuild
	byNode map[string]*nodeBuild
	links  []*Section // veth, bridge, vxlan sections, at the end
	// vxlans wait until every other link is known: their underlay must
	// be one the file creates.
	vxlans []pendingVxlan
	arps   []*Section
	taken  map[string]bool // "type:name" of sections
	// pairs are the veths written, by "node:if" of either end.
	pairs map[string]bool
}

type pendingVxlan struct {
	nb *nodeBuild
	l  *netlink.Vxlan
}

// nodeBuild is one node being written.
type nodeBuild struct {
	st      *NodeState
	sec     *Section
	byIndex map[int]netlink.Link
	// written are the interfaces the file creates in the node, lo
	// included: what addresses, routes and sysctls may name.
	written map[string]bool
	macs    []Value // mac.IF
	addrs   []Value // address.IF
	routes  []string
	rules   []string
	sysctls []Value // forwarding, ipv6, sysctl.*
	// neighbours are [arp:] neighbors lines.
	neighbours []string
}

// Build turns what Read found into the file that rebuilds it, under the
// lab name lab.
func Build(lab string, snap *Snapshot, o BuildOptions) *File {
	b := &builder{o: o, snap: snap, file: &File{Lab: lab}, byNode: map[string]*nodeBuild{},
		taken: map[string]bool{}, pairs: map[string]bool{}}
	var names []string
	for _, st := range snap.Nodes {
		nb := &nodeBuild{st: st, sec: &Section{Type: "netns", Name: st.Node}, byIndex: map[int]netlink.Link{},
			written: map[string]bool{"lo": true}}
		for _, l := range st.Links {
			nb.byIndex[l.Attrs().Index] = l
		}
		b.nodes = append(b.nodes, nb)
		b.byNode[st.Node] = nb
		b.taken["netns:"+st.Node] = true
		names = append(names, fmt.Sprintf("%s (netns %s)", st.Node, st.Netns))
	}
	b.file.Header = []string{
		"Imported by netcompose from hand-built namespaces: " + strings.Join(names, ", ") + ".",
	}
	if o.Command != "" {
		b.file.Header = append(b.file.Header, o.Command)
	}
	b.file.Header = append(b.file.Header,
		`Lines "# not imported: ..." are what this file cannot say: rebuild those by hand.`)
	for _, nb := range b.nodes {
		b.linksOf(nb)
	}
	for _, p := range b.vxlans {
		b.vxlan(p.nb, p.l)
	}
	for _, nb := range b.nodes {
		b.ports(nb)
		b.linkAttrs(nb)
		b.addresses(nb)
		b.routes(nb)
		b.policyRules(nb)
		b.neighbours(nb)
		b.sysctls(nb) // with the neighbours: [arp:] sections hold both
		b.leftovers(nb)
	}
	for _, nb := range b.nodes {
		s := nb.sec
		s.Values = append(s.Values, nb.addrs...)
		s.Values = append(s.Values, nb.macs...)
		if len(nb.routes) > 0 {
			s.add("route", strings.Join(nb.routes, "\n"))
		}
		if len(nb.rules) > 0 {
			s.add("rule", strings.Join(nb.rules, "\n"))
		}
		s.Values = append(s.Values, nb.sysctls...)
		b.file.Sections = append(b.file.Sections, s)
	}
	b.file.Sections = append(b.file.Sections, b.links...)
	b.file.Sections = append(b.file.Sections, b.arps...)
	return b.file
}

// note adds a "not imported" comment before the node's section.
func (nb *nodeBuild) note(format string, args ...any) {
	nb.sec.Notes = append(nb.sec.Notes, "not imported: "+fmt.Sprintf(format, args...))
}

// name is a section name of typ not yet taken: want, else want-2, ...
func (b *builder) name(typ, want string) string {
	n := want
	for i := 2; b.taken[typ+":"+n]; i++ {
		n = want + "-" + strconv.Itoa(i)
	}
	b.taken[typ+":"+n] = true
	return n
}

// linksOf writes the veth, bridge and vxlan devices of a node and notes
// the links of other kinds.
func (b *builder) linksOf(nb *nodeBuild) {
	for _, l := range nb.st.Links {
		a := l.Attrs()
		switch l := l.(type) {
		case *netlink.Veth:
			b.veth(nb, l)
		case *netlink.Bridge:
			b.bridge(nb, l)
		case *netlink.Vxlan:
			b.vxlans = append(b.vxlans, pendingVxlan{nb, l})
		default:
			if a.EncapType == "loopback" {
				continue
			}
			nb.note("link %s (%s): netcompose makes veth, bridge and vxlan devices; what is on %s (addresses, routes, sysctls) is left out with it",
				a.Name, l.Type(), a.Name)
		}
	}
}

// veth writes the [veth:] of a veth pair once, from whichever end comes
// first; an end whose peer is in no imported namespace is noted.
func (b *builder) veth(nb *nodeBuild, l *netlink.Veth) {
	a := l.Attrs()
	here := nb.st.Node + ":" + a.Name
	if b.pairs[here] {
		nb.written[a.Name] = true
		return
	}
	peerNode := nb
	if a.NetNsID >= 0 {
		node, ok := nb.st.Peers[a.NetNsID]
		if !ok {
			where := fmt.Sprintf("a namespace not imported (netnsid %d)", a.NetNsID)
			if a.NetNsID == nb.st.HomeID {
				where = "the namespace netcompose runs in (the machine's)"
			}
			nb.note("veth %s: its peer (ifindex %d) is in %s (import that namespace too); what is on %s is left out with it", a.Name, a.ParentIndex, where, a.Name)
			return
		}
		peerNode = b.byNode[node]
	}
	peer, ok := peerNode.byIndex[a.ParentIndex]
	if !ok {
		nb.note("veth %s: its peer (ifindex %d in %s) is gone", a.Name, a.ParentIndex, peerNode.st.Node)
		return
	}
	pa := peer.Attrs()
	there := peerNode.st.Node + ":" + pa.Name
	b.pairs[here], b.pairs[there] = true, true
	nb.written[a.Name], peerNode.written[pa.Name] = true, true
	want := nb.st.Node + "-" + peerNode.st.Node
	if m, ok := marked(a, "veth"); ok {
		want = m
	}
	sec := &Section{Type: "veth", Name: b.name("veth", want)}
	sec.add("endpoints", here+" "+there)
	if a.MTU != pa.MTU {
		sec.Notes = append(sec.Notes, fmt.Sprintf("not imported: the ends' MTUs differ (%s %d, %s %d); a veth has one: written as %d", here, a.MTU, there, pa.MTU, a.MTU))
	}
	if a.MTU != 1500 {
		sec.add("mtu", strconv.Itoa(a.MTU))
	}
	b.links = append(b.links, sec)
}

// bridge writes a [bridge:] (its ports once every link is known).
func (b *builder) bridge(nb *nodeBuild, l *netlink.Bridge) {
	a := l.Attrs()
	nb.written[a.Name] = true
	sec := &Section{Type: "bridge", Name: b.linkName("bridge", nb, a)}
	sec.add("netns", nb.st.Node)
	if sec.Name != a.Name {
		sec.add("ifname", a.Name)
	}
	if nb.st.STP[a.Index] {
		sec.add("stp", "on")
	}
	if a.MTU != 1500 {
		sec.add("mtu", strconv.Itoa(a.MTU))
	}
	// Settings a [bridge:] cannot say, where they differ from the
	// kernel's defaults.
	var others []string
	if l.VlanFiltering != nil && *l.VlanFiltering {
		others = append(others, "vlan_filtering 1")
	}
	if l.MulticastSnooping != nil && !*l.MulticastSnooping {
		others = append(others, "mcast_snooping 0")
	}
	if l.AgeingTime != nil && *l.AgeingTime != 30000 {
		others = append(others, fmt.Sprintf("ageing_time %d", *l.AgeingTime))
	}
	if l.GroupFwdMask != nil && *l.GroupFwdMask != 0 {
		others = append(others, fmt.Sprintf("group_fwd_mask %#x", *l.GroupFwdMask))
	}
	if len(others) > 0 {
		sec.Notes = append(sec.Notes, fmt.Sprintf("not imported: bridge %s: %s", a.Name, strings.Join(others, ", ")))
	}
	b.links = append(b.links, sec)
}

// linkName is the section name of a bridge or vxlan device l of a node:
// the name netcompose marked it with, if it did; else its name when no
// other node has a link of that name, else NODE-IFNAME.
func (b *builder) linkName(typ string, nb *nodeBuild, l *netlink.LinkAttrs) string {
	if m, ok := marked(l, typ); ok {
		return b.name(typ, m)
	}
	ifname := l.Name
	for _, o := range b.nodes {
		if o == nb {
			continue
		}
		for _, l := range o.st.Links {
			if l.Attrs().Name == ifname {
				return b.name(typ, nb.st.Node+"-"+ifname)
			}
		}
	}
	return b.name(typ, ifname)
}

// ports adds to each bridge of a node the links enslaved to it that the
// file creates, and notes the others.
func (b *builder) ports(nb *nodeBuild) {
	for _, sec := range b.links {
		if sec.Type != "bridge" || valueOf(sec, "netns") != nb.st.Node {
			continue
		}
		br := valueOf(sec, "ifname")
		if br == "" {
			br = sec.Name
		}
		var ports []string
		for _, l := range nb.st.Links {
			a := l.Attrs()
			m, ok := nb.byIndex[a.MasterIndex]
			if a.MasterIndex == 0 || !ok || m.Attrs().Name != br {
				continue
			}
			if nb.written[a.Name] {
				ports = append(ports, a.Name)
			} else {
				sec.Notes = append(sec.Notes, fmt.Sprintf("not imported: port %s of bridge %s (a link not imported)", a.Name, br))
			}
		}
		if len(ports) > 0 {
			sec.add("ports", strings.Join(ports, " "))
		}
	}
	for _, l := range nb.st.Links {
		a := l.Attrs()
		if m, ok := nb.byIndex[a.MasterIndex]; ok && nb.written[a.Name] {
			if _, isBridge := m.(*netlink.Bridge); !isBridge {
				nb.note("%s is enslaved to %s (%s), which is not imported", a.Name, m.Attrs().Name, m.Type())
			}
		}
	}
}

// linkAttrs writes each created interface's MAC and notes what else of
// it the file cannot say.
func (b *builder) linkAttrs(nb *nodeBuild) {
	for _, l := range nb.st.Links {
		a := l.Attrs()
		if !nb.written[a.Name] {
			continue
		}
		if a.Flags&net.FlagUp == 0 {
			nb.note("%s is down: netcompose brings every link (and lo) up", a.Name)
		}
		if a.Name == "lo" {
			continue
		}
		if !b.o.DeriveMACs && len(a.HardwareAddr) == 6 {
			nb.macs = append(nb.macs, Value{"mac." + a.Name, a.HardwareAddr.String()})
		}
		if a.Alias != "" && !strings.HasPrefix(a.Alias, "netcompose:") {
			// netcompose's own mark comes back with apply.
			nb.note("the alias %q of %s (netcompose marks its links with their alias)", a.Alias, a.Name)
		}
		if len(a.AltNames) > 0 {
			nb.note("the altnames %s of %s", strings.Join(a.AltNames, " "), a.Name)
		}
	}
}

// leftovers notes what is in the namespace but no kind of the file: extra
// qdiscs, static bridge forwarding entries, firewall rules, and what
// could not be read.
func (b *builder) leftovers(nb *nodeBuild) {
	for _, l := range nb.st.Links {
		a := l.Attrs()
		for _, q := range nb.st.Qdiscs[a.Index] {
			nb.note("qdisc %s on %s (tc qdisc)", q, a.Name)
		}
	}
	own := map[string]bool{}
	for _, l := range nb.st.Links {
		own[l.Attrs().HardwareAddr.String()] = true
	}
	for _, f := range nb.st.FDB {
		l, ok := nb.byIndex[f.LinkIndex]
		if !ok || len(f.HardwareAddr) != 6 || f.HardwareAddr[0]&1 != 0 || own[f.HardwareAddr.String()] {
			continue // multicast and the links' own addresses are the kernel's
		}
		if _, vx := l.(*netlink.Vxlan); vx && isZeroMAC(f.HardwareAddr) {
			continue // a remote, written with the vxlan device
		}
		if f.State&(netlink.NUD_PERMANENT|netlink.NUD_NOARP) == 0 {
			continue // learned
		}
		line := fmt.Sprintf("bridge fdb add %s dev %s", f.HardwareAddr, l.Attrs().Name)
		if f.IP != nil {
			line += " dst " + f.IP.String()
		}
		if f.Vlan > 0 {
			line += fmt.Sprintf(" vlan %d", f.Vlan)
		}
		nb.note("static forwarding entry: %s", line)
	}
	for _, r := range nb.st.Firewall {
		nb.note("firewall rule: %s", r)
	}
	for _, n := range nb.st.Notes {
		nb.note("%s", n)
	}
}

// marked is the section name in netcompose's mark on a link of a lab it
// applied ("netcompose:LAB:KIND:NAME"), so that a lab imported back keeps
// its sections' names.
func marked(a *netlink.LinkAttrs, kind string) (string, bool) {
	rest, ok := strings.CutPrefix(a.Alias, "netcompose:")
	if !ok {
		return "", false
	}
	p := strings.SplitN(rest, ":", 3)
	if len(p) != 3 || p[1] != kind || !safe().MatchString(p[2]) {
		return "", false
	}
	return p[2], true
}

func valueOf(s *Section, key string) string {
	for _, v := range s.Values {
		if v.Key == key {
			return v.Value
		}
	}
	return ""
}
