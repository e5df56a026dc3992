package compose

// An 802.1Q VLAN sub-interface (eth0.10), or an 802.1ad one (the outer,
// service tag of QinQ), in a node over a parent link of that node.

var vlanKind = &KindInfo{
	Kind: KindVlan,
	// The kernel changes neither the parent, the VID nor the protocol of
	// a VLAN device.
	Replace: []string{"link", "id", "protocol"},
	Quiet:   []string{"mac"},
	Ifname:  nameIsIfname,
	Ends:    func(r Resource) []End { return []End{{r.Node, r.Name}} },
	Up:      upAttr,
	// The kernel deletes a VLAN device with its parent.
	TakenWith: func(r Resource, _ map[string]bool, ends map[End]bool) bool {
		return ends[End{r.Node, r.Attrs["link"]}]
	},
}
