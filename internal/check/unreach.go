package check

import (
	"fmt"
	"net"
)

// unreachable explains ENETUNREACH. The kernel returns it both when the
// from namespace has no route and when a router on the path answers with
// ICMP net unreachable; only a route lookup in the from namespace tells
// which, and the reason must point at the right namespace.
func unreachable(s Spec, verb, addr string) string {
	h, done, err := handleAt(s.FromNetns)
	if err != nil {
		return fmt.Sprintf("%s %s: network is unreachable", verb, addr)
	}
	defer done()
	routes, err := h.RouteGet(net.IP(s.Target.AsSlice()))
	if err != nil || len(routes) == 0 {
		return fmt.Sprintf("%s %s: network is unreachable (no route in %s)", verb, addr, s.FromNetns)
	}
	r := routes[0]
	hop := ""
	if r.Gw != nil {
		hop = " via " + r.Gw.String()
	}
	if l, err := h.LinkByIndex(r.LinkIndex); err == nil {
		hop += " dev " + l.Attrs().Name
	}
	return fmt.Sprintf("%s %s: network is unreachable beyond %s (it routes the target%s; a router on the path has no route)",
		verb, addr, s.FromNetns, hop)
}
