package compose

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// draw builds the lab in file path and draws it as DOT and as Mermaid.
func draw(t *testing.T, path string) (lab *Lab, dot, mm *bytes.Buffer) {
	t.Helper()
	lab, err := Build(loadFile(t, path))
	if err != nil {
		t.Fatal(err)
	}
	dot, mm = new(bytes.Buffer), new(bytes.Buffer)
	if err := WriteDOT(dot, lab); err != nil {
		t.Fatal(err)
	}
	if err := WriteMermaid(mm, lab); err != nil {
		t.Fatal(err)
	}
	return lab, dot, mm
}

// The shipped labs draw as DOT and Mermaid the same way each time
// (golden files), with every namespace and every veth present.
func TestGraph(t *testing.T) {
	for _, name := range []string{"quickstart", "vxlan-tenants", "proxy-arp-firewall", "arp-multinic"} {
		t.Run(name, func(t *testing.T) {
			lab, dot, mm := draw(t, filepath.Join("..", "topologies", name+".ini"))
			for _, n := range lab.Nodes {
				if !strings.Contains(dot.String(), `"cluster_ns_`+n.Name+`"`) {
					t.Errorf("dot: no cluster for node %s", n.Name)
				}
				if !strings.Contains(mm.String(), "subgraph "+mermaidID("g/"+n.Name)+"[") {
					t.Errorf("mermaid: no subgraph for node %s", n.Name)
				}
			}
			if got := strings.Count(dot.String(), " -- "); got < len(lab.Veths) {
				t.Errorf("dot: %d edges for %d veths", got, len(lab.Veths))
			}
			golden(t, "graph/"+name+".dot", dot.Bytes())
			golden(t, "graph/"+name+".mmd", mm.Bytes())
		})
	}
}

func TestGraphHosts(t *testing.T) {
	lab, err := build(t, `
[host:m1]
underlay = 203.0.113.1
[netns:a]
host = m1
[netns:b]
`)
	if err != nil {
		t.Fatal(err)
	}
	var dot bytes.Buffer
	if err := WriteDOT(&dot, lab); err != nil {
		t.Fatal(err)
	}
	want := "subgraph \"cluster_host_m1\" {\n    label=\"host m1 (203.0.113.1)\";\n    style=dashed;\n    subgraph \"cluster_ns_a\""
	if !strings.Contains(dot.String(), want) {
		t.Errorf("host cluster missing; got:\n%s", dot.String())
	}
}

// The picture shows what a lab is about: each node's routes, rules and
// ARP settings, each interface's addresses; and its links carry no
// labels to collide (addresses sit on the interfaces), except the few
// tunnels and overlays between hosts. Every shipped lab, both formats.
func TestGraphShowsWhatTheLabDoes(t *testing.T) {
	paths, _ := filepath.Glob("../topologies/*.ini")
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			lab, dot, mm := draw(t, p)
			var want []string
			for _, n := range lab.Nodes {
				for _, rt := range n.Routes {
					want = append(want, routeText(rt))
				}
				for _, ru := range n.Rules {
					want = append(want, ruleText(ru))
				}
				for _, a := range n.Addresses {
					want = append(want, a.Prefix.String())
				}
			}
			sys, _ := lab.sysctls()
			for _, m := range sys {
				for name, s := range m {
					for _, arp := range arpSysctls {
						if strings.HasSuffix(name, "."+arp) {
							want = append(want, arp+"="+s.value)
						}
					}
				}
			}
			for _, w := range want {
				if !strings.Contains(dot.String(), w) {
					t.Errorf("dot: %q not shown", w)
				}
				if !strings.Contains(mm.String(), w) {
					t.Errorf("mermaid: %q not shown", w)
				}
			}
			for _, e := range regexp.MustCompile(`(?m)^  "[^"]*" -- "[^"]*" \[([^\]]*)\];$`).FindAllStringSubmatch(dot.String(), -1) {
				if strings.Contains(e[1], "label=") && !strings.Contains(e[1], "style=dashed") {
					t.Errorf("dot: a labelled link that is no tunnel: %s", e[0])
				}
			}
		})
	}
}
