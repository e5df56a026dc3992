package importer

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
)

// vxlan writes a [vxlan:] device. netcompose creates a device in the
// namespace of its underlay node (whose interface carries the tunnel),
// or in the machine's own namespace when it names none, and moves it into
// its node: the kernel opens the tunnel's socket where the device was
// created. So the hand-built device's creating namespace (its link
// netnsid, or its own) decides the underlay written.
func (b *builder) vxlan(nb *nodeBuild, l *netlink.Vxlan) {
	a := l.Attrs()
	sec := &Section{Type: "vxlan", Name: b.linkName("vxlan", nb, a)}
	sec.add("netns", nb.st.Node)
	if sec.Name != a.Name {
		sec.add("ifname", a.Name)
	}
	sec.add("vni", strconv.Itoa(l.VxlanId))
	underlay, why, ok := b.underlay(nb, l)
	if !ok {
		nb.note("vxlan %s (vni %d): %s", a.Name, l.VxlanId, why)
		return
	}
	if why != "" {
		sec.Notes = append(sec.Notes, "note: "+why)
	}
	nb.written[a.Name] = true
	if underlay != "" {
		sec.add("underlay", underlay)
	}
	if l.SrcAddr != nil && !l.SrcAddr.IsUnspecified() {
		sec.add("local", l.SrcAddr.String())
	}
	var remotes []string
	switch g := l.Group; {
	case g == nil || g.IsUnspecified():
	case g.IsMulticast():
		sec.add("group", g.String())
	default:
		remotes = append(remotes, g.String())
	}
	// Head-end replication: one all-zero forwarding entry per remote (the
	// default remote is one of them).
	for _, f := range nb.st.FDB {
		if f.LinkIndex == a.Index && isZeroMAC(f.HardwareAddr) && f.IP != nil && !slices.Contains(remotes, f.IP.String()) {
			remotes = append(remotes, f.IP.String())
		}
	}
	if len(remotes) > 0 {
		sec.add("remote", strings.Join(remotes, " "))
	}
	if len(remotes) > 1 && l.Group != nil && !l.Group.IsUnspecified() && !l.Group.IsMulticast() {
		sec.Notes = append(sec.Notes, fmt.Sprintf("note: the default remote %s of %s is written as one remote of several: "+
			"netcompose gives such a device no default, only one all-zero forwarding entry per remote (the same flooding)", l.Group, a.Name))
	}
	if l.Port != 4789 {
		sec.add("port", strconv.Itoa(l.Port))
	}
	if !l.Learning {
		sec.add("learning", "off")
	}
	if l.TTL != 0 {
		sec.add("ttl", strconv.Itoa(l.TTL))
	}
	if l.TOS != 0 {
		sec.add("tos", strconv.Itoa(l.TOS))
	}
	sec.add("mtu", strconv.Itoa(a.MTU))
	var others []string
	for _, o := range []struct {
		on   bool
		name string
	}{{l.Proxy, "proxy"}, {l.RSC, "rsc"}, {l.L2miss, "l2miss"}, {l.L3miss, "l3miss"}, {l.GBP, "gbp"}, {l.FlowBased, "external"}, {l.NoAge, "ageing 0"}} {
		if o.on {
			others = append(others, o.name)
		}
	}
	if !l.NoAge && l.Age != 0 && l.Age != 300 {
		others = append(others, fmt.Sprintf("ageing %d", l.Age))
	}
	if l.Limit != 0 {
		others = append(others, fmt.Sprintf("maxaddress %d", l.Limit))
	}
	if len(others) > 0 {
		sec.Notes = append(sec.Notes, fmt.Sprintf("not imported: vxlan %s: %s", a.Name, strings.Join(others, ", ")))
	}
	b.links = append(b.links, sec)
}

// underlay is what the vxlan device's underlay key says ("" for the
// machine's namespace), a remark when the file differs from the device
// in a way that does not matter, or why the device cannot be written.
func (b *builder) underlay(nb *nodeBuild, l *netlink.Vxlan) (underlay, why string, ok bool) {
	a := l.Attrs()
	creator := nb
	if a.NetNsID >= 0 {
		node, known := nb.st.Peers[a.NetNsID]
		switch {
		case known:
			creator = b.byNode[node]
		case a.NetNsID == nb.st.HomeID:
			creator = nil // the machine's namespace
		default:
			return "", fmt.Sprintf("created in a namespace not imported (netnsid %d), where its tunnel's socket is; import that namespace too", a.NetNsID), false
		}
	}
	if creator == nil {
		if l.VtepDevIndex != 0 {
			return "", fmt.Sprintf("%s is bound to link #%d of the machine's namespace; netcompose binds a device without an underlay node to none", a.Name, l.VtepDevIndex), true
		}
		return "", "", true
	}
	if l.VtepDevIndex != 0 {
		dev, ok := creator.byIndex[l.VtepDevIndex]
		if !ok {
			return "", fmt.Sprintf("its underlay link #%d in %s is gone", l.VtepDevIndex, creator.st.Node), false
		}
		if !creator.written[dev.Attrs().Name] {
			return "", fmt.Sprintf("its underlay %s of %s is not imported", dev.Attrs().Name, creator.st.Node), false
		}
		return creator.st.Node + ":" + dev.Attrs().Name, "", true
	}
	// No dev: netcompose needs an underlay interface to create the
	// device in that node; the one holding the local address changes
	// nothing but the binding.
	if l.SrcAddr != nil && !l.SrcAddr.IsUnspecified() {
		for _, ad := range creator.st.Addrs {
			if ad.IP.Equal(l.SrcAddr) {
				if dev, ok := creator.byIndex[ad.LinkIndex]; ok && creator.written[dev.Attrs().Name] {
					return creator.st.Node + ":" + dev.Attrs().Name,
						fmt.Sprintf("%s has no underlay device; underlay names %s, which holds its local address, so that it is created in %s", a.Name, dev.Attrs().Name, creator.st.Node), true
				}
			}
		}
	}
	return "", fmt.Sprintf("created in %s with neither an underlay device nor a local address on one: netcompose would create it in the machine's namespace", creator.st.Node), false
}
