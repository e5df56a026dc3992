package compose

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// The shipped labs draw as DOT and Mermaid the same way each time
// (golden files), with every namespace and every veth present.
func TestGraph(t *testing.T) {
	for _, name := range []string{"quickstart", "vxlan-tenants", "proxy-arp-firewall"} {
		t.Run(name, func(t *testing.T) {
			lab, err := Build(loadFile(t, filepath.Join("..", "topologies", name+".ini")))
			if err != nil {
				t.Fatal(err)
			}
			var dot, mm bytes.Buffer
			if err := WriteDOT(&dot, lab); err != nil {
				t.Fatal(err)
			}
			if err := WriteMermaid(&mm, lab); err != nil {
				t.Fatal(err)
			}
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
