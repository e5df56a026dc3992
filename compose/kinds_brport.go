package compose

// The flags of one bridge port that stand for a vSphere port group's
// security policy (docs/vswitch.md): isolated, learning, flood, locked
// and neigh_suppress, each "on" or "off". A port whose flags are all as
// the kernel sets them has no brport resource.

// BrPortFlags are a brport's attributes, each with the kernel's default.
var BrPortFlags = map[string]string{
	"isolated":       "off",
	"learning":       "on",
	"flood":          "on",
	"locked":         "off",
	"neigh_suppress": "off",
}

var brportKind = &KindInfo{
	Kind:     KindBrPort,
	Ifname:   nameIsIfname,
	Defaults: BrPortFlags,
	// A port's flags go when it leaves its bridge.
	TakenWith: func(r Resource, _ map[string]bool, ends map[End]bool) bool {
		return ends[End{r.Node, r.Attrs["bridge"]}]
	},
	Quiet: []string{"bridge"},
}
