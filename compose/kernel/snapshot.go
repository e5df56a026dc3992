package kernel

import (
	"fmt"

	"github.com/netcompose/netcompose/internal/bridgeport"
	"github.com/netcompose/netcompose/internal/netlinksafe"

	"github.com/netcompose/netcompose/compose"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// snapshot is what one node's namespace holds, dumped once per Observe;
// drivers derive their resources from it.
type snapshot struct {
	node    string
	byIndex map[int]netlink.Link
	owned   map[int]mark // the lab's links by ifindex
	addrs   []netlink.Addr
	routes  []netlink.Route
	sysctls map[string]string // key -> value, for the keys asked for
	// ports are the bridges and bridge ports, by ifindex, with their
	// flags and VLANs: only in a node where the lab has a bridge.
	ports map[int]bridgeport.Port
	// fdb is the node's bridge forwarding database (AF_BRIDGE neighbours):
	// only in a node where the lab has a bridge or a vxlan device.
	fdb    []netlink.Neigh
	dumps  map[compose.Kind]any // what dumping kinds read here (dumper)
	qdiscs []netlink.Qdisc      // read once, by qdiscList
}

// mark is the ownership mark of a link, from its alias.
type mark struct {
	kind compose.Kind
	name string
}

func (s *session) snapshot(node string, sysctlKeys []string) (*snapshot, error) {
	h, err := s.handle(node)
	if err != nil {
		return nil, err
	}
	snap := &snapshot{node: node, byIndex: map[int]netlink.Link{}, owned: map[int]mark{}}
	links, err := netlinksafe.Dump(h.LinkList)
	if err != nil {
		return nil, fmt.Errorf("netns %s: links: %w", s.nsName(node), err)
	}
	for _, l := range links {
		a := l.Attrs()
		snap.byIndex[a.Index] = l
		if k, name, ok := s.owner(a.Alias); ok {
			snap.owned[a.Index] = mark{k, name}
		} else if p, ok := s.rec.pending[compose.End{Node: node, Ifname: a.Name}]; ok && a.Alias == "" {
			// Created by a run killed before it could mark it (journal.go);
			// Apply marks it before anything else.
			snap.owned[a.Index] = mark{p.kind, p.name}
		}
	}
	// Addresses are the lab's on its links and on lo (address.lo), which
	// every namespace has: dump them always.
	snap.addrs, err = netlinksafe.Dump(func() ([]netlink.Addr, error) { return h.AddrList(nil, netlink.FAMILY_ALL) })
	if err != nil {
		return nil, fmt.Errorf("netns %s: addresses: %w", s.nsName(node), err)
	}
	if snap.hasOwned(compose.KindBridge) {
		if snap.ports, err = s.bridgePorts(node); err != nil {
			return nil, fmt.Errorf("netns %s: bridge ports: %w", s.nsName(node), err)
		}
	}
	if snap.hasOwned(compose.KindBridge) || snap.hasOwned(compose.KindVxlan) {
		// Static entries on bridge ports (brfdb) and a vxlan's remotes (fdb).
		snap.fdb, err = netlinksafe.Dump(func() ([]netlink.Neigh, error) { return h.NeighList(0, unix.AF_BRIDGE) })
		if err != nil {
			return nil, fmt.Errorf("netns %s: bridge fdb: %w", s.nsName(node), err)
		}
	}
	snap.routes, err = s.ourRoutes(h)
	if err != nil {
		return nil, fmt.Errorf("netns %s: routes: %w", s.nsName(node), err)
	}
	if len(sysctlKeys) > 0 {
		snap.sysctls, err = s.readSysctls(node, sysctlKeys)
		if err != nil {
			return nil, err
		}
	}
	return snap, nil
}

// qdiscList dumps the node's qdiscs once per snapshot: the qdisc and the
// mirror kinds both read them.
func (sn *snapshot) qdiscList(s *session) ([]netlink.Qdisc, error) {
	if sn.qdiscs != nil {
		return sn.qdiscs, nil
	}
	h, err := s.handle(sn.node)
	if err != nil {
		return nil, err
	}
	qs, err := netlinksafe.Dump(func() ([]netlink.Qdisc, error) { return h.QdiscList(nil) })
	if err != nil {
		return nil, err
	}
	if qs == nil {
		qs = []netlink.Qdisc{}
	}
	sn.qdiscs = qs
	return qs, nil
}

// hasOwned reports whether the node holds a link of the lab of kind k.
func (sn *snapshot) hasOwned(k compose.Kind) bool {
	for _, m := range sn.owned {
		if m.kind == k {
			return true
		}
	}
	return false
}

// bridgePorts dumps the node's bridges and bridge ports, by ifindex.
func (s *session) bridgePorts(node string) (map[int]bridgeport.Port, error) {
	sock, err := s.rawSocket(node)
	if err != nil {
		return nil, err
	}
	ports, err := netlinksafe.Dump(func() ([]bridgeport.Port, error) { return bridgeport.Dump(sock) })
	if err != nil {
		return nil, err
	}
	m := make(map[int]bridgeport.Port, len(ports))
	for _, p := range ports {
		m[p.Index] = p
	}
	return m, nil
}

// ifname is the name of the link with index i in the snapshot, or "".
func (sn *snapshot) ifname(i int) string {
	if l, ok := sn.byIndex[i]; ok {
		return l.Attrs().Name
	}
	return ""
}

// ourRoutes dumps the main-table routes marked with RouteProtocol. With
// strict checking on the socket the kernel filters by table and protocol
// itself, so a namespace's kernel and local routes never cross; it is
// switched off again because the netlink package's address dump request
// does not pass the strict checks.
func (s *session) ourRoutes(h *netlink.Handle) ([]netlink.Route, error) {
	filter := &netlink.Route{Protocol: RouteProtocol, Table: unix.RT_TABLE_MAIN}
	mask := netlink.RT_FILTER_PROTOCOL | netlink.RT_FILTER_TABLE
	strict := h.SetStrictCheck(true) == nil
	rs, err := netlinksafe.Dump(func() ([]netlink.Route, error) { return h.RouteListFiltered(netlink.FAMILY_ALL, filter, mask) })
	if strict {
		if err := h.SetStrictCheck(false); err != nil {
			return nil, err
		}
	}
	return rs, err
}
