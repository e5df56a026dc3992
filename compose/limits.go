package compose

// Lengths the kernel enforces on names a lab derives from its own, checked
// by validate so that apply never fails half-way on one of them.
const (
	// maxAlias is IFALIASZ less its NUL: the room for a link's ownership
	// mark, "netcompose:<lab>[@<host>]:<kind>:<name>".
	maxAlias = 255
	// maxSocketKey is what sockaddr_un leaves of 107 bytes for the state
	// key in the supervisor's socket path,
	// "/run/netcompose/<key>/supervisor.sock" (internal/labdir).
	maxSocketKey = 107 - len("/run/netcompose/") - len("/supervisor.sock")
)

// longestKey is the longest state key the lab can have: its name, with
// "@<host>" of its longest host name when it spans machines.
func (l *Lab) longestKey() string {
	key := l.Name
	for _, h := range l.Hosts {
		if k := StateKey(l.Name, h.Name); len(k) > len(key) {
			key = k
		}
	}
	return key
}

// checkLengths reports names whose derived forms the kernel would refuse.
func (v *validator) checkLengths() {
	key := v.lab.longestKey()
	mark := func(m Meta, k Kind, name string) {
		alias := "netcompose:" + key + ":" + string(k) + ":" + name
		if len(alias) > maxAlias {
			v.errorf(m, "", "the ownership mark %q would be %d bytes, more than the %d the kernel keeps for an interface alias: shorten the lab or section name",
				truncate(alias), len(alias), maxAlias)
		}
	}
	for _, x := range v.lab.Veths {
		mark(x.Meta, KindVeth, x.Name)
	}
	for _, b := range v.lab.Bridges {
		mark(b.Meta, KindBridge, b.Ifname)
	}
	for _, x := range v.lab.Vxlans {
		mark(x.Meta, KindVxlan, x.Ifname)
	}
	for _, n := range v.lab.Nodes {
		for _, x := range n.VLANs {
			mark(n.Meta, KindVlan, x.Ifname)
		}
	}
	if (len(v.lab.NFQueues) > 0 || len(v.lab.Services) > 0) && len(key) > maxSocketKey {
		var m Meta
		if len(v.lab.NFQueues) > 0 {
			m = v.lab.NFQueues[0].Meta
		} else {
			m = v.lab.Services[0].Meta
		}
		v.errorf(m, "", "lab name %q is too long for a lab that runs processes: its supervisor's socket path allows %d bytes of lab (and host) name, it has %d",
			truncate(key), maxSocketKey, len(key))
	}
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}
