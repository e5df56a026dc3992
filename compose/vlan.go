package compose

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/netcompose/netcompose/loader"
)

// VLAN is one VLAN sub-interface of a node, from its vlan or svlan key:
// PARENT.VID, like eth0.10, over the node's interface PARENT.
type VLAN struct {
	Ifname   string // eth0.10
	Parent   string // eth0
	ID       int    // 10
	Protocol string // 802.1Q (vlan), or 802.1ad (svlan: the outer tag of QinQ)
	Pos      loader.Pos
}

// VLAN protocols as the kernel and iproute2 name them.
const (
	Proto8021Q  = "802.1Q"
	Proto8021AD = "802.1ad"
)

// readVLANs reads a node's vlan (802.1Q) and svlan (802.1ad) keys.
func readVLANs(r *reader) []VLAN {
	var out []VLAN
	for _, key := range []string{"vlan", "svlan"} {
		proto := Proto8021Q
		if key == "svlan" {
			proto = Proto8021AD
		}
		v, ok := r.value(key)
		if !ok {
			continue
		}
		for _, w := range strings.Fields(v.Value) {
			x, err := parseVLANName(w)
			if err != nil {
				r.errorf(key, "%s: %v", key, err)
				continue
			}
			x.Protocol, x.Pos = proto, v.Pos
			out = append(out, x)
		}
	}
	return out
}

// parseVLANName splits "eth0.10" into its parent and VID.
func parseVLANName(name string) (VLAN, error) {
	if err := ifName(name); err != nil {
		return VLAN{}, err
	}
	i := strings.LastIndexByte(name, '.')
	if i <= 0 {
		return VLAN{}, fmt.Errorf("%q: want PARENT.VID, like eth0.10", name)
	}
	id, err := strconv.Atoi(name[i+1:])
	if err != nil || id < 1 || id > 4094 || strconv.Itoa(id) != name[i+1:] {
		return VLAN{}, fmt.Errorf("%q: the VID after the last dot must be a number in 1..4094", name)
	}
	return VLAN{Ifname: name, Parent: name[:i], ID: id}, nil
}

// checkVLANs checks a node's VLAN sub-interfaces: each over an interface
// of the node that carries Ethernet frames, and no VID twice with one
// protocol on one parent (the kernel refuses it).
func (v *validator) checkVLANs(n *Node) {
	seen := map[string]string{}
	key := func(x VLAN) string {
		if x.Protocol == Proto8021AD {
			return "svlan"
		}
		return "vlan"
	}
	for _, x := range n.VLANs {
		if !v.ifaceAt(n.Meta, x.Pos, key(x), n.Name, x.Parent) {
			continue
		}
		if v.ifaces[End{n.Name, x.Parent}].kind == "lo" {
			v.errorAt(n.Meta, x.Pos, "%s: %s: lo carries no VLANs", key(x), x.Ifname)
			continue
		}
		id := fmt.Sprintf("%s/%s/%d", x.Parent, x.Protocol, x.ID)
		if prev, ok := seen[id]; ok {
			v.errorAt(n.Meta, x.Pos, "%s: %s: %s already carries VID %d (%s)", key(x), x.Ifname, x.Parent, x.ID, prev)
		}
		seen[id] = x.Ifname
	}
}

// vlanOf is the VLAN sub-interface ifname of node, if it is one.
func (l *Lab) vlanOf(node, ifname string) (VLAN, bool) {
	if n, ok := l.Node(node); ok {
		for _, x := range n.VLANs {
			if x.Ifname == ifname {
				return x, true
			}
		}
	}
	return VLAN{}, false
}
