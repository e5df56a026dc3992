package compose

import (
	"fmt"
	"io"
	"strings"
)

// dotShapes are the Graphviz node attributes of each picture shape.
var dotShapes = map[string]string{
	"box":       `shape=box`,
	"port":      `shape=box, style=rounded, fontsize=11`,
	"hexagon":   `shape=hexagon`,
	"ellipse":   `shape=ellipse`,
	"component": `shape=component`,
	"cds":       `shape=cds`,
}

// WriteDOT writes the lab as a Graphviz graph: each namespace a cluster
// holding what the node does (forwarding, routes, rules, ARP settings),
// its interfaces with their addresses and ARP settings, and its services
// and queues; veths, bridge ports and the vxlan overlay as edges; hosts
// as outer clusters. Render it with dot -Tpng.
func WriteDOT(w io.Writer, lab *Lab) error {
	p := lab.picture()
	var b strings.Builder
	fmt.Fprintf(&b, "graph %s {\n", dotQuote(lab.Name))
	fmt.Fprintf(&b, "  label=%s;\n  fontname=\"Helvetica\";\n  nodesep=0.3;\n", dotQuote("lab "+lab.Name))
	b.WriteString("  node [fontname=\"Helvetica\", fontsize=12];\n  edge [fontname=\"Helvetica\", fontsize=10];\n")
	writeGroup := func(g pictureGroup, indent string) {
		fmt.Fprintf(&b, "%ssubgraph %s {\n", indent, dotQuote("cluster_ns_"+g.node))
		fmt.Fprintf(&b, "%s  label=%s;\n", indent, dotQuote(g.label))
		for _, it := range g.items {
			fmt.Fprintf(&b, "%s  %s [label=%s, %s];\n", indent, dotQuote(it.id), dotLabel(it), dotShapes[it.shape])
		}
		fmt.Fprintf(&b, "%s}\n", indent)
	}
	p.layout(func(h pictureHost) {
		fmt.Fprintf(&b, "  subgraph %s {\n    label=%s;\n    style=dashed;\n", dotQuote("cluster_"+h.id), dotQuote(h.label))
	}, func(g pictureGroup, onHost bool) {
		writeGroup(g, groupIndent(onHost))
	}, func(pictureHost) { b.WriteString("  }\n") })
	for _, l := range p.links {
		var attrs []string
		if l.label != "" {
			attrs = append(attrs, "label="+dotQuote(l.label))
		}
		switch {
		case l.hidden:
			attrs = append(attrs, "style=invis")
		case l.dashed:
			// a tunnel between hosts places no host above another
			attrs = append(attrs, "style=dashed", "constraint=false")
		}
		fmt.Fprintf(&b, "  %s -- %s", dotQuote(l.from), dotQuote(l.to))
		if len(attrs) > 0 {
			fmt.Fprintf(&b, " [%s]", strings.Join(attrs, ", "))
		}
		b.WriteString(";\n")
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// dotLabel is an item's label: its lines centred, or for a list
// left-aligned (\l ends a left-aligned line in Graphviz).
func dotLabel(it pictureItem) string {
	if !it.left {
		return dotQuote(strings.Join(it.lines, "\n"))
	}
	var b strings.Builder
	for _, l := range it.lines {
		b.WriteString(strings.TrimSuffix(dotQuote(l), `"`)[1:] + `\l`)
	}
	return `"` + b.String() + `"`
}

// mermaidShapes are the Mermaid brackets of each picture shape.
var mermaidShapes = map[string][2]string{
	"box": {"[", "]"}, "port": {"(", ")"}, "hexagon": {"{{", "}}"}, "ellipse": {"([", "])"},
	"component": {"[[", "]]"}, "cds": {"[/", "/]"},
}

// WriteMermaid writes the lab as a Mermaid flowchart: namespaces (and
// hosts) as subgraphs holding the node's and its interfaces' boxes,
// veths, bridge ports and the vxlan overlay as edges.
func WriteMermaid(w io.Writer, lab *Lab) error {
	p := lab.picture()
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	writeGroup := func(g pictureGroup, indent string) {
		fmt.Fprintf(&b, "%ssubgraph %s[%s]\n", indent, mermaidID("g/"+g.node), mermaidText(g.label))
		for _, it := range g.items {
			s := mermaidShapes[it.shape]
			fmt.Fprintf(&b, "%s  %s%s%s%s\n", indent, mermaidID(it.id), s[0], mermaidText(strings.Join(it.lines, "\n")), s[1])
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
		switch {
		case l.hidden:
			arrow = "~~~"
		case l.dashed:
			arrow = "-.-"
		}
		if l.label == "" {
			fmt.Fprintf(&b, "  %s %s %s\n", mermaidID(l.from), arrow, mermaidID(l.to))
			continue
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
