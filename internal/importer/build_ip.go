package importer

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Address flags (IFA_F_*) that say nothing a file must keep: secondary
// (the kernel's order), permanent (set by hand), and DAD in progress.
const ignoredAddrFlags = unix.IFA_F_SECONDARY | unix.IFA_F_PERMANENT | unix.IFA_F_TENTATIVE | unix.IFA_F_OPTIMISTIC

// addresses writes address.IF for each created interface and lo, leaving
// out what the kernel adds by itself (127.0.0.1/8 and ::1 on lo, IPv6
// link-local addresses it generated) and noting what a file cannot say.
func (b *builder) addresses(nb *nodeBuild) {
	byIf := map[string][]string{}
	for _, ad := range nb.st.Addrs {
		l, ok := nb.byIndex[ad.LinkIndex]
		if !ok || ad.IPNet == nil {
			continue
		}
		la := l.Attrs()
		ip, _ := netip.AddrFromSlice(ad.IP)
		ip = ip.Unmap()
		ones, _ := ad.Mask.Size()
		cidr := netip.PrefixFrom(ip, ones).String()
		switch {
		case !nb.written[la.Name]:
			continue // the link is noted as not imported, with what is on it
		case la.Name == "lo" && (cidr == "127.0.0.1/8" || cidr == "::1/128"):
			continue
		case ip.Is6() && ip.IsLinkLocalUnicast() && b.kernelLinkLocal(nb, la, ip, ones):
			continue
		}
		var why []string
		if f := ad.Flags &^ ignoredAddrFlags; f != 0 {
			why = append(why, "flags "+addrFlags(f))
		}
		if ad.Flags&unix.IFA_F_PERMANENT == 0 && ip.Is6() {
			why = append(why, fmt.Sprintf("dynamic (valid %ds)", ad.ValidLft))
		}
		if ad.Peer != nil && !ad.Peer.IP.Equal(ad.IP) {
			why = append(why, "peer "+ad.Peer.String())
		}
		if want := addrScope(ip); ad.Scope != want {
			why = append(why, "scope "+netlink.Scope(ad.Scope).String())
		}
		if len(why) > 0 {
			nb.note("address %s on %s: %s", cidr, la.Name, strings.Join(why, ", "))
			continue
		}
		if ad.Label != "" && ad.Label != la.Name {
			nb.note("the label %s of address %s on %s (written without it)", ad.Label, cidr, la.Name)
		}
		byIf[la.Name] = append(byIf[la.Name], cidr)
	}
	for _, l := range nb.st.Links {
		if a := byIf[l.Attrs().Name]; len(a) > 0 {
			nb.addrs = append(nb.addrs, Value{"address." + l.Attrs().Name, strings.Join(a, " ")})
		}
	}
}

// kernelLinkLocal reports whether the IPv6 link-local address ip/bits on
// link l is the one the kernel made: fe80::/64 with the EUI-64 of the
// link's MAC, or any fe80::/64 when the link's addresses are generated
// otherwise (addr_gen_mode stable or random).
func (b *builder) kernelLinkLocal(nb *nodeBuild, l *netlink.LinkAttrs, ip netip.Addr, bits int) bool {
	if bits != 64 {
		return false
	}
	if mode := nb.st.Sysctls["ipv6/conf/"+l.Name+"/addr_gen_mode"]; mode != "" && mode != "0" {
		return true
	}
	hw := l.HardwareAddr
	if len(hw) != 6 {
		return true // lo and links without a MAC: the kernel's own
	}
	a := ip.As16()
	eui := [8]byte{hw[0] ^ 2, hw[1], hw[2], 0xff, 0xfe, hw[3], hw[4], hw[5]}
	return [8]byte(a[8:]) == eui
}

// addrScope is the scope ip addr gives an address by default.
func addrScope(ip netip.Addr) int {
	switch {
	case ip.IsLoopback():
		return unix.RT_SCOPE_HOST
	case ip.IsLinkLocalUnicast():
		return unix.RT_SCOPE_LINK
	}
	return unix.RT_SCOPE_UNIVERSE
}

func addrFlags(f int) string {
	var out []string
	for _, x := range []struct {
		bit  int
		name string
	}{{unix.IFA_F_NODAD, "nodad"}, {unix.IFA_F_DADFAILED, "dadfailed"}, {unix.IFA_F_HOMEADDRESS, "home"},
		{unix.IFA_F_DEPRECATED, "deprecated"}, {unix.IFA_F_MANAGETEMPADDR, "mngtmpaddr"},
		{unix.IFA_F_NOPREFIXROUTE, "noprefixroute"}, {unix.IFA_F_MCAUTOJOIN, "autojoin"}, {unix.IFA_F_STABLE_PRIVACY, "stable-privacy"}} {
		if f&x.bit != 0 {
			out = append(out, x.name)
			f &^= x.bit
		}
	}
	if f != 0 {
		out = append(out, fmt.Sprintf("%#x", f))
	}
	return strings.Join(out, " ")
}

// routes writes the static routes of the main table; the kernel's own
// (prefix routes of addresses, the local table) are left out, every
// other route is noted with why.
func (b *builder) routes(nb *nodeBuild) {
	for _, rt := range nb.st.Routes {
		if rt.Protocol == unix.RTPROT_KERNEL && (rt.Table == unix.RT_TABLE_MAIN || rt.Table == unix.RT_TABLE_LOCAL) {
			continue
		}
		if rt.Table == unix.RT_TABLE_LOCAL && (rt.Type == unix.RTN_LOCAL || rt.Type == unix.RTN_BROADCAST || rt.Type == unix.RTN_MULTICAST) && rt.Protocol == unix.RTPROT_KERNEL {
			continue
		}
		dev := ""
		if l, ok := nb.byIndex[rt.LinkIndex]; ok {
			dev = l.Attrs().Name
		}
		text := routeText(rt, dev)
		var why []string
		if rt.Table != unix.RT_TABLE_MAIN {
			why = append(why, "table "+strconv.Itoa(rt.Table))
		}
		if rt.Type != unix.RTN_UNICAST {
			why = append(why, "type "+routeType(rt.Type))
		}
		switch rt.Protocol {
		case unix.RTPROT_RA:
			why = append(why, "learned from a router advertisement")
		case unix.RTPROT_DHCP:
			why = append(why, "learned by DHCP")
		}
		if def := defaultMetric(rt.Family); rt.Priority != def {
			why = append(why, "metric "+strconv.Itoa(rt.Priority))
		}
		if rt.Src != nil {
			why = append(why, "src "+rt.Src.String())
		}
		if rt.Flags&unix.RTNH_F_ONLINK != 0 {
			why = append(why, "onlink")
		}
		if len(rt.MultiPath) > 0 {
			why = append(why, "several next hops")
		}
		if rt.Encap != nil || rt.Via != nil {
			why = append(why, "encapsulation or a gateway of another family")
		}
		if rt.MTU != 0 || rt.AdvMSS != 0 || rt.Hoplimit != 0 || rt.Window != 0 || rt.InitCwnd != 0 || rt.InitRwnd != 0 || rt.RtoMin != 0 || rt.Congctl != "" {
			why = append(why, "route metrics (mtu, advmss, ...)")
		}
		if rt.Tos != 0 || rt.Realm != 0 {
			why = append(why, "tos or realm")
		}
		if rt.Type == unix.RTN_UNICAST && dev == "" {
			why = append(why, "no device")
		} else if dev != "" && !nb.written[dev] {
			why = append(why, "through "+dev+", not imported")
		}
		if rt.Type == unix.RTN_UNICAST && rt.Gw == nil && rt.Scope != netlink.SCOPE_LINK {
			why = append(why, "scope "+rt.Scope.String())
		}
		if len(why) > 0 {
			nb.note("route %s: %s", text, strings.Join(why, ", "))
			continue
		}
		nb.routes = append(nb.routes, routeLine(rt, dev))
	}
}

// routeLine is a route in the file's words: DEST [via GW] dev IF.
func routeLine(rt netlink.Route, dev string) string {
	s := "default"
	if rt.Dst != nil {
		if ones, _ := rt.Dst.Mask.Size(); ones != 0 {
			s = rt.Dst.String()
		}
	}
	if rt.Gw != nil {
		s += " via " + rt.Gw.String()
	}
	return s + " dev " + dev
}

// routeText is a route in ip route's words, for a note.
func routeText(rt netlink.Route, dev string) string {
	s := routeLine(rt, dev)
	if rt.Type != unix.RTN_UNICAST {
		s = routeType(rt.Type) + " " + strings.TrimSuffix(s, " dev ")
	}
	if rt.Table != unix.RT_TABLE_MAIN {
		s += " table " + strconv.Itoa(rt.Table)
	}
	if rt.Priority != defaultMetric(rt.Family) {
		s += " metric " + strconv.Itoa(rt.Priority)
	}
	if rt.Src != nil {
		s += " src " + rt.Src.String()
	}
	if rt.Family == unix.AF_INET6 {
		s = "-6 " + s
	}
	return s
}

func defaultMetric(family int) int {
	if family == unix.AF_INET6 {
		return 1024
	}
	return 0
}

func routeType(t int) string {
	switch t {
	case unix.RTN_UNICAST:
		return "unicast"
	case unix.RTN_LOCAL:
		return "local"
	case unix.RTN_BROADCAST:
		return "broadcast"
	case unix.RTN_MULTICAST:
		return "multicast"
	case unix.RTN_BLACKHOLE:
		return "blackhole"
	case unix.RTN_UNREACHABLE:
		return "unreachable"
	case unix.RTN_PROHIBIT:
		return "prohibit"
	case unix.RTN_THROW:
		return "throw"
	case unix.RTN_NAT:
		return "nat"
	}
	return "type" + strconv.Itoa(t)
}

// neighbours collects the permanent neighbour entries of created
// interfaces as [arp:] neighbors lines, naming a MAC by the interface of
// the lab that has it; proxy entries are noted.
func (b *builder) neighbours(nb *nodeBuild) {
	owners := b.macOwners()
	for _, n := range nb.st.Neighs {
		if n.State&netlink.NUD_PERMANENT == 0 || n.IP == nil {
			continue // the cache, and the kernel's NOARP entries
		}
		dev := ""
		if l, ok := nb.byIndex[n.LinkIndex]; ok {
			dev = l.Attrs().Name
		}
		if !nb.written[dev] {
			nb.note("neighbour %s lladdr %s dev %s (the link is not imported)", n.IP, n.HardwareAddr, dev)
			continue
		}
		if len(n.HardwareAddr) != 6 {
			nb.note("neighbour %s dev %s without a 6-byte MAC", n.IP, dev)
			continue
		}
		mac := n.HardwareAddr.String()
		if o, ok := owners[mac]; ok && o != "" {
			mac = o
		}
		nb.neighbours = append(nb.neighbours, fmt.Sprintf("%s %s dev %s", n.IP, mac, dev))
	}
	for _, p := range nb.st.Proxies {
		dev := ""
		if l, ok := nb.byIndex[p.LinkIndex]; ok {
			dev = l.Attrs().Name
		}
		nb.note("proxy neighbour: ip neigh add proxy %s dev %s", p.IP, dev)
	}
}

// macOwners maps the MAC of every interface the file creates to its
// "node:if"; a MAC two interfaces share maps to "".
func (b *builder) macOwners() map[string]string {
	out := map[string]string{}
	for _, nb := range b.nodes {
		for _, l := range nb.st.Links {
			a := l.Attrs()
			if !nb.written[a.Name] || a.Name == "lo" || len(a.HardwareAddr) != 6 {
				continue
			}
			mac := a.HardwareAddr.String()
			if _, dup := out[mac]; dup {
				out[mac] = ""
				continue
			}
			out[mac] = nb.st.Node + ":" + a.Name
		}
	}
	return out
}
