package compose

// The VLANs one port of a VLAN-aware bridge carries (bridge vlan): its
// PVID, the VIDs it sends untagged and those it sends tagged. Name is the
// port, or the bridge itself for what the bridge's own interface carries.

var brvlanKind = &KindInfo{
	Kind:   KindBrVlan,
	Ifname: nameIsIfname,
	// A port's VLANs go when it leaves its bridge, and so when the
	// bridge goes.
	TakenWith: func(r Resource, _ map[string]bool, ends map[End]bool) bool {
		return ends[End{r.Node, r.Attrs["bridge"]}]
	},
	Quiet: []string{"bridge"},
}
