package compose

import "strings"

// The kinds that live in one node: the namespace itself and what is
// configured in it.

var netnsKind = &KindInfo{
	Kind: KindNetns,
	// lo is every namespace's own link.
	Up: func(r Resource, attr string) (End, bool) { return End{r.Node, "lo"}, attr == "lo.up" },
}

var addrKind = &KindInfo{
	Kind:         KindAddr,
	Ifname:       ifnameBefore,
	Label:        ifnameAndRest,
	DeleteReason: "not in the file; the lab owns its links",
}

var sysctlKind = &KindInfo{
	Kind: KindSysctl,
	// net.ipv4.conf.IF.key, net.ipv6.conf.IF.key and net.*.neigh.IF.key
	// depend on IF.
	Ifname: func(r Resource) string {
		p := strings.Split(r.Name, ".")
		if len(p) >= 5 && p[0] == "net" && (p[2] == "conf" || p[2] == "neigh") && p[3] != "all" && p[3] != "default" {
			return strings.Join(p[3:len(p)-1], ".")
		}
		return ""
	},
	Text: func(r *Resource) string { return " = " + r.Attrs["value"] },
}

var routeKind = &KindInfo{
	Kind:   KindRoute,
	Ifname: func(r Resource) string { return r.Attrs["dev"] },
	Label: func(r Resource) []string {
		switch r.Name {
		case "0.0.0.0/0":
			return []string{"default"}
		case "::/0":
			return []string{"default (IPv6)"}
		}
		return []string{r.Name}
	},
}

var ruleKind = &KindInfo{
	Kind:    KindRule,
	Replace: []string{"family", "from", "to", "iif", "oif", "ipproto", "sport", "dport", "action"},
	Text:    func(r *Resource) string { return "  " + RuleText(r.Attrs) },
}

var neighKind = &KindInfo{
	Kind:         KindNeigh,
	Ifname:       ifnameBefore,
	Label:        ifnameAndRest,
	DeleteReason: "not in the file; the lab owns its links",
}

var fdbKind = &KindInfo{
	Kind:   KindFDB,
	Ifname: ifnameBefore,
	Label:  ifnameAndRest,
}
