package check

import (
	"fmt"
	"net/netip"

	"github.com/netcompose/netcompose/internal/netlinksafe"

	"github.com/vishvananda/netlink"
)

// neighbourHint looks at the from namespace's view of the path to s.Target
// after traffic got no answer: when the next hop never answered ARP (or
// neighbour discovery), that is the likelier cause than a filter, and the
// reason should say so. It returns "" when it learns nothing.
func neighbourHint(s Spec) string {
	h, closeH, err := handleAt(s.FromNetns)
	if err != nil {
		return ""
	}
	defer closeH()
	routes, err := h.RouteGet(s.Target.AsSlice())
	if err != nil || len(routes) == 0 {
		return ""
	}
	rt := routes[0]
	hop := s.Target
	if gw, ok := netip.AddrFromSlice(rt.Gw); ok && rt.Gw != nil {
		hop = gw.Unmap()
	}
	family := netlink.FAMILY_V4
	if hop.Is6() {
		family = netlink.FAMILY_V6
	}
	neighs, err := netlinksafe.Dump(func() ([]netlink.Neigh, error) { return h.NeighList(rt.LinkIndex, family) })
	if err != nil {
		return ""
	}
	ifname := fmt.Sprint(rt.LinkIndex)
	if l, err := h.LinkByIndex(rt.LinkIndex); err == nil {
		ifname = l.Attrs().Name
	}
	for _, n := range neighs {
		if a, ok := netip.AddrFromSlice(n.IP); !ok || a.Unmap() != hop {
			continue
		}
		if n.State&(netlink.NUD_INCOMPLETE|netlink.NUD_FAILED) == 0 {
			return ""
		}
		what := "next hop"
		if hop == s.Target {
			what = "target"
		}
		proto := "ARP"
		if hop.Is6() {
			proto = "neighbour discovery"
		}
		return fmt.Sprintf("%s %s did not answer %s on %s", what, hop, proto, ifname)
	}
	return ""
}

// withHint explains a "no answer" cause: with the neighbour hint when
// there is one, else with guess (if any).
func withHint(s Spec, cause, guess string) string {
	if hint := neighbourHint(s); hint != "" {
		guess = hint
	}
	if guess == "" {
		return cause
	}
	return cause + " (" + guess + ")"
}
