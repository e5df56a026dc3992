package kernel

import (
	"context"
	"fmt"
	"sort"

	"github.com/netcompose/netcompose/internal/netlinksafe"

	"github.com/vishvananda/netlink"
)

// NodeStatus is what a node's namespace holds, for `netcompose status`.
type NodeStatus struct {
	Node       string      `json:"node"`
	Namespace  string      `json:"namespace"`
	Interfaces []Interface `json:"interfaces"`
	Routes     []Route     `json:"routes"`
}

// Interface is one link in a node, owned by the lab or not.
type Interface struct {
	Name      string   `json:"name"`
	Kind      string   `json:"kind"`  // veth, bridge, loopback, ...
	State     string   `json:"state"` // operational state: up, down, lowerlayerdown, unknown
	MTU       int      `json:"mtu"`
	MAC       string   `json:"mac,omitempty"`
	Master    string   `json:"master,omitempty"`
	Owned     bool     `json:"owned"` // carries the lab's mark
	Addresses []string `json:"addresses,omitempty"`
}

// Route is one route of the node's main table.
type Route struct {
	Dst   string `json:"dst"`
	Via   string `json:"via,omitempty"`
	Dev   string `json:"dev,omitempty"`
	Owned bool   `json:"owned"` // installed by netcompose (RouteProtocol)
}

// Inspect reports every node the lab's state record lists and whose
// namespace exists, sorted by node.
func Inspect(ctx context.Context, lab string) ([]NodeStatus, error) {
	rec, err := loadRecord(lab)
	if err != nil {
		return nil, err
	}
	s := newSession(lab, rec)
	defer s.close()
	var out []NodeStatus
	for _, node := range s.ownedNodes() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		st, err := s.inspect(node)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

func (s *session) inspect(node string) (NodeStatus, error) {
	st := NodeStatus{Node: node, Namespace: s.nsName(node)}
	h, err := s.handle(node)
	if err != nil {
		return st, err
	}
	links, err := netlinksafe.Dump(h.LinkList)
	if err != nil {
		return st, fmt.Errorf("netns %s: links: %w", st.Namespace, err)
	}
	addrs, err := netlinksafe.Dump(func() ([]netlink.Addr, error) { return h.AddrList(nil, netlink.FAMILY_ALL) })
	if err != nil {
		return st, fmt.Errorf("netns %s: addresses: %w", st.Namespace, err)
	}
	routes, err := netlinksafe.Dump(func() ([]netlink.Route, error) { return h.RouteList(nil, netlink.FAMILY_ALL) })
	if err != nil {
		return st, fmt.Errorf("netns %s: routes: %w", st.Namespace, err)
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	sort.Slice(links, func(i, j int) bool { return links[i].Attrs().Index < links[j].Attrs().Index })
	for _, l := range links {
		a := l.Attrs()
		_, _, owned := s.owner(a.Alias)
		ifc := Interface{Name: a.Name, Kind: l.Type(), State: a.OperState.String(), MTU: a.MTU,
			MAC: a.HardwareAddr.String(), Master: names[a.MasterIndex], Owned: owned}
		if a.Flags&1 == 0 { // IFF_UP: say "down" for a link set down by hand
			ifc.State = "down"
		}
		for _, ad := range addrs {
			if ad.LinkIndex == a.Index && ad.IPNet != nil {
				ifc.Addresses = append(ifc.Addresses, ad.IPNet.String())
			}
		}
		st.Interfaces = append(st.Interfaces, ifc)
	}
	for _, rt := range routes {
		dst := rt.Dst
		if dst == nil {
			dst = defaultDst(rt.Family)
		}
		r := Route{Dst: dst.String(), Dev: names[rt.LinkIndex], Owned: rt.Protocol == RouteProtocol}
		if rt.Gw != nil {
			r.Via = rt.Gw.String()
		}
		st.Routes = append(st.Routes, r)
	}
	return st, nil
}
