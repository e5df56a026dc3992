package compose

// The kinds that are links, and a link's membership of a bridge.

var vethKind = &KindInfo{
	Kind:    KindVeth,
	Replace: []string{"a.node", "a.ifname", "b.node", "b.ifname"},
	Quiet:   []string{"a.mac", "b.mac"},
	Ends: func(r Resource) []End {
		return []End{{r.Attrs["a.node"], r.Attrs["a.ifname"]}, {r.Attrs["b.node"], r.Attrs["b.ifname"]}}
	},
	Up: func(r Resource, attr string) (End, bool) {
		switch attr {
		case "a.up":
			return End{r.Attrs["a.node"], r.Attrs["a.ifname"]}, true
		case "b.up":
			return End{r.Attrs["b.node"], r.Attrs["b.ifname"]}, true
		}
		return End{}, false
	},
}

var bridgeKind = &KindInfo{
	Kind:     KindBridge,
	Quiet:    []string{"mac"},
	Defaults: map[string]string{"vlan_filtering": "off"},
	Ifname:   nameIsIfname,
	Ends:     func(r Resource) []End { return []End{{r.Node, r.Name}} },
	Up:       upAttr,
}

var vxlanKind = &KindInfo{
	Kind:     KindVxlan,
	Replace:  []string{"vni", "local", "port", "group", "underlay", "underlay.netns", "learning", "ttl", "tos"},
	Quiet:    []string{"mac"},
	Defaults: map[string]string{"ttl": "0", "tos": "0"},
	Ifname:   nameIsIfname,
	Ends:     func(r Resource) []End { return []End{{r.Node, r.Name}} },
	Up:       upAttr,
	// The kernel deletes a vxlan device with its underlay link, from
	// whichever namespace the device sits in.
	TakenWith: func(r Resource, nodes map[string]bool, ends map[End]bool) bool {
		u := r.Attrs["underlay.netns"]
		return u != "" && (nodes[u] || ends[End{u, r.Attrs["underlay"]}])
	},
}

var masterKind = &KindInfo{
	Kind:   KindMaster,
	Ifname: nameIsIfname,
	// A port leaves its bridge when the bridge goes.
	TakenWith: func(r Resource, _ map[string]bool, ends map[End]bool) bool {
		return ends[End{r.Node, r.Attrs["bridge"]}]
	},
}
