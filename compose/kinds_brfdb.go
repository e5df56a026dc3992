package compose

import "strings"

// A static FDB entry on a bridge port ("bridge fdb add MAC dev PORT master
// static [vlan VID]"): on a locked port, the MACs that may send. Name is
// "PORT/MAC", or "PORT/MAC/VID" on a VLAN-aware bridge.

var brfdbKind = &KindInfo{
	Kind:   KindBrFDB,
	Ifname: ifnameBefore,
	Label: func(r Resource) []string {
		p := strings.Split(r.Name, "/")
		if len(p) == 3 {
			return []string{p[0], p[1], "vlan", p[2]}
		}
		return p
	},
	TakenWith: func(r Resource, _ map[string]bool, ends map[End]bool) bool {
		return ends[End{r.Node, r.Attrs["bridge"]}]
	},
	Quiet: []string{"bridge"},
}
