package compose

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/netcompose/netcompose/loader"
)

// Each entry of a key with one entry per line (a route, a rule, a static
// neighbour) carries its own line, wherever the value was written: a
// continuation line, a YAML list item, a [DEFAULT] value.
func TestEntryLines(t *testing.T) {
	tests := []struct {
		name, file, text string
		routes, neighs   []int
	}{
		{
			name: "ini continuation lines",
			file: "lab.ini",
			text: `[netns:a]
address.eth0 = 10.0.0.1/24
route = default via 10.0.0.254

        198.51.100.0/24 via 10.0.0.9
[netns:b]
[veth:a-b]
endpoints = a:eth0 b:eth0
[arp:a]
netns = a
neighbors =
    10.0.0.2 02:00:00:00:00:02 dev eth0
    10.0.0.3 02:00:00:00:00:03 dev eth0
`,
			routes: []int{3, 5},
			neighs: []int{12, 13},
		},
		{
			name: "yaml list items",
			file: "lab.yaml",
			text: `netns:a:
  address.eth0: 10.0.0.1/24
  route:
    - default via 10.0.0.254
    - 198.51.100.0/24 via 10.0.0.9
netns:b: {}
veth:a-b:
  endpoints: a:eth0 b:eth0
arp:a:
  netns: a
  neighbors: [10.0.0.2 02:00:00:00:00:02 dev eth0,
    10.0.0.3 02:00:00:00:00:03 dev eth0]
`,
			routes: []int{4, 5},
			neighs: []int{11, 12},
		},
		{
			name: "a [DEFAULT] value read by a node",
			file: "lab.ini",
			text: `[DEFAULT]
route = default via 10.0.0.254
    198.51.100.0/24 via 10.0.0.9
[netns:a]
address.eth0 = 10.0.0.1/24
[netns:b]
address.eth0 = 10.0.0.2/24
[veth:a-b]
endpoints = a:eth0 b:eth0
`,
			routes: []int{2, 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := loader.Parse("/labs/"+tt.file, []byte(tt.text))
			if err != nil {
				t.Fatal(err)
			}
			lab, err := Build(f)
			if err != nil {
				t.Fatal(err)
			}
			var routes, neighs []int
			for _, r := range lab.Nodes[0].Routes {
				routes = append(routes, r.Pos.Line)
			}
			for _, a := range lab.ARPs {
				for _, n := range a.Neighbors {
					neighs = append(neighs, n.Pos.Line)
				}
			}
			if d := cmp.Diff(tt.routes, routes); d != "" {
				t.Errorf("route lines (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.neighs, neighs); d != "" {
				t.Errorf("neighbour lines (-want +got):\n%s", d)
			}
		})
	}
}
