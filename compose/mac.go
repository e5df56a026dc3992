package compose

import (
	"crypto/sha256"
	"fmt"
	"net"

	"github.com/netcompose/netcompose/loader"
)

// MAC is a node's mac.IF key: the hardware address of its interface IF.
type MAC struct {
	Ifname string
	Addr   string // canonical, lower case: 02:00:00:00:00:01
	Pos    loader.Pos
}

// DerivedMAC is the MAC an interface gets when the file gives it none:
// derived from the lab, the node and the interface name (as Mininet's
// --mac gives hosts fixed MACs, but from names rather than a counter, so
// that adding a node changes no other MAC), locally administered and
// unicast. It is the same on every apply and on every host of a
// multi-host lab, so ARP tables and static neighbours stay valid across
// re-applies.
func DerivedMAC(lab, node, ifname string) string {
	h := sha256.Sum256([]byte(lab + "\x00" + node + "\x00" + ifname))
	hw := net.HardwareAddr(h[:6])
	hw[0] = hw[0]&^0x01 | 0x02 // unicast, locally administered
	return hw.String()
}

// MAC is the hardware address interface ifname of node gets: its
// node's mac.IF, else the mac key of the bridge or vxlan device it is,
// else its parent's for a VLAN sub-interface, else DerivedMAC. It is "" for an interface the lab does not create
// (lo).
func (l *Lab) MAC(node, ifname string) string {
	if n, ok := l.Node(node); ok {
		for _, m := range n.MACs {
			if m.Ifname == ifname {
				return m.Addr
			}
		}
	}
	for _, b := range l.Bridges {
		if b.Netns == node && b.Ifname == ifname && b.MAC != "" {
			return b.MAC
		}
	}
	for _, x := range l.Vxlans {
		if x.Netns == node && x.Ifname == ifname && x.MAC != "" {
			return x.MAC
		}
	}
	if ifname == "lo" {
		return ""
	}
	// A VLAN sub-interface has its parent's MAC, as the kernel gives it.
	if x, ok := l.vlanOf(node, ifname); ok {
		return l.MAC(node, x.Parent)
	}
	return DerivedMAC(l.Name, node, ifname)
}

// unicastMAC parses a MAC an interface can have: six bytes, unicast (the
// kernel refuses a multicast one) and not all zero.
func unicastMAC(s string) (string, error) {
	mac, err := parseMAC(s)
	if err != nil {
		return "", err
	}
	hw, _ := net.ParseMAC(mac)
	switch {
	case hw[0]&0x01 != 0:
		return "", fmt.Errorf("%s is a multicast address; an interface needs a unicast MAC (the first byte even, like 02:...)", mac)
	case mac == "00:00:00:00:00:00":
		return "", fmt.Errorf("%s is not an interface's MAC", mac)
	}
	return mac, nil
}

// readMACs reads a node's mac.IF keys.
func readMACs(r *reader) []MAC {
	var out []MAC
	for _, v := range r.family("mac.") {
		key := "mac." + v.Key
		if err := ifName(v.Key); err != nil {
			r.errorf(key, "%s: %v", key, err)
			continue
		}
		mac, err := unicastMAC(v.Value)
		if err != nil {
			r.errorf(key, "%s: %v", key, err)
			continue
		}
		out = append(out, MAC{Ifname: v.Key, Addr: mac, Pos: v.Pos})
	}
	return out
}

// readOwnMAC reads the mac key of a bridge or vxlan section.
func readOwnMAC(r *reader) string {
	v := r.str("mac", "")
	if v == "" {
		return ""
	}
	mac, err := unicastMAC(v)
	if err != nil {
		r.errorf("mac", "mac: %v", err)
	}
	return mac
}

// checkMACs refuses a mac.IF for an interface the lab does not create in
// that node (or lo, whose MAC is fixed), and one for a bridge or vxlan
// device whose section sets another with its mac key.
func (v *validator) checkMACs(n *Node) {
	for _, m := range n.MACs {
		key := "mac." + m.Ifname
		if !v.iface(n.Meta, key, n.Name, m.Ifname) {
			continue
		}
		i := v.ifaces[End{n.Name, m.Ifname}]
		if i.kind == "lo" {
			v.errorf(n.Meta, key, "%s: lo has no MAC to set", key)
			continue
		}
		own := ""
		if b := v.lab.bridge(n.Name, m.Ifname); b != nil {
			own = b.MAC
		}
		for _, x := range v.lab.Vxlans {
			if x.Netns == n.Name && x.Ifname == m.Ifname {
				own = x.MAC
			}
		}
		if own != "" && own != m.Addr {
			v.errorf(n.Meta, key, "%s: %s, but [%s] line %d sets mac = %s", key, m.Addr, i.owner.Section, i.owner.At("mac").Line, own)
		}
	}
}

// checkNeighborMACs checks the neighbours that name their MAC by the
// interface that has it (neighbors = IP NODE:IF dev IF), and fills in
// that MAC: the interface must be one the lab creates.
func (v *validator) checkNeighborMACs(a *ARP) {
	for i := range a.Neighbors {
		n := &a.Neighbors[i]
		if n.MACOf == (End{}) {
			continue
		}
		if _, ok := v.lab.Node(n.MACOf.Node); !ok {
			v.errs = append(v.errs, &loader.Error{Pos: n.Pos, Section: a.Section,
				Err: fmt.Errorf("neighbors: MAC of %s:%s: no [netns:%s] in this lab", n.MACOf.Node, n.MACOf.Ifname, n.MACOf.Node)})
			continue
		}
		if !v.ifaceAt(a.Meta, n.Pos, "neighbors", n.MACOf.Node, n.MACOf.Ifname) {
			continue
		}
		if v.ifaces[n.MACOf].kind == "lo" {
			v.errs = append(v.errs, &loader.Error{Pos: n.Pos, Section: a.Section,
				Err: fmt.Errorf("neighbors: MAC of %s:lo: lo has no MAC", n.MACOf.Node)})
			continue
		}
		n.MAC = v.lab.MAC(n.MACOf.Node, n.MACOf.Ifname)
	}
}
