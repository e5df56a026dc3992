package compose

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// picture is the lab as boxes and lines, independent of the output
// language: each node (namespace) holds items (the namespace itself,
// bridges, vxlan devices, services, queues); links join items.
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

type pictureItem struct{ id, label, shape string }

type pictureLink struct {
	from, to, label string
	dashed          bool
}

func (l *Lab) picture() picture {
	var p picture
	addrs := l.addresses()
	addrText := func(node, ifname string) string {
		s := []string{ifname}
		for _, a := range addrs[node] {
			if a.Ifname == ifname {
				s = append(s, a.Prefix.String())
			}
		}
		return strings.Join(s, " ")
	}
	nsID := func(node string) string { return "ns/" + node }
	// portOf is the item a link end attaches to: the bridge it is a port
	// of, else the namespace.
	portOf := func(node, ifname string) string {
		for _, b := range l.Bridges {
			if b.Netns == node && slices.Contains(b.Ports, ifname) {
				return "br/" + node + "/" + b.Ifname
			}
		}
		return nsID(node)
	}
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
		p.hosts = append(p.hosts, ph)
	}
	for _, n := range l.Nodes {
		g := pictureGroup{node: n.Name, label: n.Name + " (" + l.Namespace(n.Name) + ")"}
		label := n.Name
		if n.Forwarding != nil && *n.Forwarding {
			label += "\nforwarding"
		}
		g.items = append(g.items, pictureItem{nsID(n.Name), label, "box"})
		for _, b := range l.Bridges {
			if b.Netns == n.Name {
				g.items = append(g.items, pictureItem{"br/" + n.Name + "/" + b.Ifname, "bridge " + addrText(n.Name, b.Ifname), "hexagon"})
			}
		}
		for _, x := range l.Vxlans {
			if x.Netns == n.Name {
				g.items = append(g.items, pictureItem{"vx/" + n.Name + "/" + x.Ifname,
					"vxlan " + addrText(n.Name, x.Ifname) + "\nVNI " + strconv.Itoa(x.VNI), "ellipse"})
			}
		}
		for _, s := range l.Services {
			if s.Netns == n.Name {
				what := s.Kind + " " + s.Listen.String()
				if s.Kind == "" {
					what = "command"
				}
				g.items = append(g.items, pictureItem{"svc/" + s.Name, "service " + s.Name + "\n" + what, "component"})
			}
		}
		for _, q := range l.NFQueues {
			if q.Netns == n.Name {
				g.items = append(g.items, pictureItem{"nfq/" + q.Name,
					"nfqueue " + q.Name + " (" + q.Chain + ")\npipeline " + q.Pipeline, "cds"})
			}
		}
		p.groups = append(p.groups, g)
	}
	for _, v := range l.Veths {
		pl := pictureLink{
			from:  portOf(v.A.Node, v.A.Ifname),
			to:    portOf(v.B.Node, v.B.Ifname),
			label: addrText(v.A.Node, v.A.Ifname) + " — " + addrText(v.B.Node, v.B.Ifname),
		}
		// A link between hosts is built as a VXLAN tunnel (see ForHost).
		if ha, hb := l.HostOf(v.A.Node), l.HostOf(v.B.Node); ha != hb {
			pl.label = "VXLAN tunnel VNI " + strconv.Itoa(TunnelVNI(l.Name, v.Name)) + " " + ha + "—" + hb + "\n" + pl.label
			pl.dashed = true
		}
		p.links = append(p.links, pl)
	}
	for _, x := range l.Vxlans {
		id := "vx/" + x.Netns + "/" + x.Ifname
		if br := x.Bridge; br != "" {
			p.links = append(p.links, pictureLink{from: id, to: "br/" + x.Netns + "/" + br, label: "port"})
		} else if to := portOf(x.Netns, x.Ifname); to != nsID(x.Netns) {
			p.links = append(p.links, pictureLink{from: id, to: to, label: "port"})
		}
	}
	// The overlay: vxlan devices with the same VNI on different nodes.
	for i, a := range l.Vxlans {
		for _, b := range l.Vxlans[i+1:] {
			if a.VNI == b.VNI && a.Netns != b.Netns {
				p.links = append(p.links, pictureLink{
					from: "vx/" + a.Netns + "/" + a.Ifname, to: "vx/" + b.Netns + "/" + b.Ifname,
					label: "VNI " + strconv.Itoa(a.VNI), dashed: true,
				})
			}
		}
	}
	return p
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

// WriteDOT writes the lab as a Graphviz graph: each namespace a cluster
// holding the namespace and its bridges, vxlan devices, services and
// queues; veth and vxlan links as labelled edges; hosts as outer clusters.
func WriteDOT(w io.Writer, lab *Lab) error {
	p := lab.picture()
	var b strings.Builder
	fmt.Fprintf(&b, "graph %s {\n", dotQuote(lab.Name))
	fmt.Fprintf(&b, "  label=%s;\n  node [fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n", dotQuote("lab "+lab.Name))
	writeGroup := func(g pictureGroup, indent string) {
		fmt.Fprintf(&b, "%ssubgraph %s {\n", indent, dotQuote("cluster_ns_"+g.node))
		fmt.Fprintf(&b, "%s  label=%s;\n", indent, dotQuote(g.label))
		for _, it := range g.items {
			fmt.Fprintf(&b, "%s  %s [label=%s, shape=%s];\n", indent, dotQuote(it.id), dotQuote(it.label), it.shape)
		}
		fmt.Fprintf(&b, "%s}\n", indent)
	}
	p.layout(func(h pictureHost) {
		fmt.Fprintf(&b, "  subgraph %s {\n    label=%s;\n    style=dashed;\n", dotQuote("cluster_"+h.id), dotQuote(h.label))
	}, func(g pictureGroup, onHost bool) {
		writeGroup(g, groupIndent(onHost))
	}, func(pictureHost) { b.WriteString("  }\n") })
	for _, l := range p.links {
		style := ""
		if l.dashed {
			style = ", style=dashed"
		}
		fmt.Fprintf(&b, "  %s -- %s [label=%s%s];\n", dotQuote(l.from), dotQuote(l.to), dotQuote(l.label), style)
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMermaid writes the lab as a Mermaid flowchart: namespaces (and
// hosts) as subgraphs, veth and vxlan links as labelled edges.
func WriteMermaid(w io.Writer, lab *Lab) error {
	p := lab.picture()
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	shapes := map[string][2]string{"box": {"[", "]"}, "hexagon": {"{{", "}}"}, "ellipse": {"([", "])"}, "component": {"[[", "]]"}, "cds": {"[/", "/]"}}
	writeGroup := func(g pictureGroup, indent string) {
		fmt.Fprintf(&b, "%ssubgraph %s[%s]\n", indent, mermaidID("g/"+g.node), mermaidText(g.label))
		for _, it := range g.items {
			s := shapes[it.shape]
			fmt.Fprintf(&b, "%s  %s%s%s%s\n", indent, mermaidID(it.id), s[0], mermaidText(it.label), s[1])
		}
		fmt.Fprintf(&b, "%send\n", indent)
	}
	p.layout(func(h pictureHost) {
		fmt.Fprintf(&b, "  subgraph %s[%s]\n", mermaidID(h.id), mermaidText(h.label))
	}, func(g pictureGroup, onHost bool) {
		writeGroup(g, groupIndent(onHost))
	}, func(pictureHost) { b.WriteString("  end\n") })
	for _, l := range p.links {
		arrow := "---"
		if l.dashed {
			arrow = "-.-"
		}
		fmt.Fprintf(&b, "  %s %s|%s| %s\n", mermaidID(l.from), arrow, mermaidText(l.label), mermaidID(l.to))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func dotQuote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	return `"` + strings.ReplaceAll(s, "\n", `\n`) + `"`
}

// mermaidID maps an item id to the characters Mermaid accepts in
// identifiers: "/" becomes "__", and any other byte outside [a-zA-Z0-9]
// "_XX" in hex, so distinct ids stay distinct.
func mermaidID(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
			b.WriteByte(c)
		case c == '/':
			b.WriteString("__")
		default:
			fmt.Fprintf(&b, "_%02x", c)
		}
	}
	return b.String()
}

// mermaidText quotes a label; Mermaid wants #quot; for quotes and <br/>
// for line breaks.
func mermaidText(s string) string {
	s = strings.ReplaceAll(s, `"`, "#quot;")
	return `"` + strings.ReplaceAll(s, "\n", "<br/>") + `"`
}
