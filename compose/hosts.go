package compose

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"strings"
)

// StateKey names what one apply owns on a machine: the lab itself, or
// the lab's slice for one host as "<lab>@<host>". Two slices of one lab
// applied on the same machine (simulated hosts) then keep separate state
// records and locks, while their namespaces are still named <lab>-<node>.
func StateKey(lab, host string) string {
	if host == "" {
		return lab
	}
	return lab + "@" + host
}

// SplitStateKey is the inverse of StateKey. Neither a lab nor a host name
// can hold "@" (see safeName).
func SplitStateKey(key string) (lab, host string) {
	lab, host, _ = strings.Cut(key, "@")
	return lab, host
}

// HostOf is the host a node is placed on: its host key, else the first
// [host:] of the lab; "" when the lab declares no hosts.
func (l *Lab) HostOf(node string) string {
	if n, ok := l.Node(node); ok && n.Host != "" {
		return n.Host
	}
	if len(l.Hosts) > 0 {
		return l.Hosts[0].Name
	}
	return ""
}

func (l *Lab) host(name string) *Host {
	for _, h := range l.Hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// Tunnel is a veth link whose two ends sit on different hosts: each host
// builds a VXLAN device named like its end instead, with this VNI.
type Tunnel struct {
	Link  *Veth
	VNI   int
	HostA string // the host of Link.A
	HostB string // the host of Link.B
}

// TunnelVNI derives a link's VNI from the lab and link name: FNV-1a over
// "<lab>/<link>", folded to 24 bits, never 0. It is the same on every
// machine and in every run, so the two ends agree without talking.
func TunnelVNI(lab, link string) int {
	h := fnv.New32a()
	h.Write([]byte(lab + "/" + link))
	s := h.Sum32()
	v := int((s >> 24) ^ (s & 0xffffff))
	if v == 0 {
		v = 1
	}
	return v
}

// Tunnels lists the lab's cross-host veth links with their VNIs, in file
// order. Two tunnels with the same VNI, or a tunnel whose VNI a [vxlan:]
// device also uses, are an error naming both.
func (l *Lab) Tunnels() ([]Tunnel, error) {
	var out []Tunnel
	var errs []string
	used := map[int]string{}
	for _, x := range l.Vxlans {
		used[x.VNI] = "[vxlan:" + x.Name + "]"
	}
	for _, v := range l.Veths {
		ha, hb := l.HostOf(v.A.Node), l.HostOf(v.B.Node)
		if ha == hb {
			continue
		}
		t := Tunnel{Link: v, VNI: TunnelVNI(l.Name, v.Name), HostA: ha, HostB: hb}
		if prev, ok := used[t.VNI]; ok {
			errs = append(errs, fmt.Sprintf("VNI %d of link [veth:%s] collides with %s: rename one of them", t.VNI, v.Name, prev))
		}
		used[t.VNI] = "link [veth:" + v.Name + "]"
		out = append(out, t)
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("lab %s: %s", l.Name, strings.Join(errs, "; "))
	}
	return out, nil
}

// ForHost returns the slice of the lab that host builds: the nodes placed
// on it, the links and devices inside them, and for every veth whose ends
// sit on different hosts a VXLAN device in place of this host's end, named
// like that end (so its address.IF keys still apply), with the link's
// VNI, this host's underlay as local and the peer host's as remote.
// [vxlan:] devices without underlay or local take this host's underlay
// address as local. The slice keeps the lab's name: namespaces are named
// <lab>-<node> on every host (see StateKey for what keeps slices apart).
func (l *Lab) ForHost(host string) (*Lab, error) {
	if len(l.Hosts) == 0 {
		return nil, fmt.Errorf("lab %s: --host %s: the lab declares no [host:] sections", l.Name, host)
	}
	me := l.host(host)
	if me == nil {
		return nil, fmt.Errorf("lab %s: no [host:%s] (hosts: %s)", l.Name, host, strings.Join(l.hostNames(), ", "))
	}
	tunnels, err := l.Tunnels()
	if err != nil {
		return nil, err
	}
	here := func(node string) bool { return l.HostOf(node) == host }
	s := &Lab{Name: l.Name, Path: l.Path, Kmods: l.Kmods, Hosts: l.Hosts}
	for _, n := range l.Nodes {
		if here(n.Name) {
			s.Nodes = append(s.Nodes, n)
		}
	}
	for _, v := range l.Veths {
		if here(v.A.Node) && here(v.B.Node) {
			s.Veths = append(s.Veths, v)
		}
	}
	for _, b := range l.Bridges {
		if here(b.Netns) {
			s.Bridges = append(s.Bridges, b)
		}
	}
	vx, err := l.vxlansOn(host, me, here)
	if err != nil {
		return nil, err
	}
	tv, err := l.tunnelsOn(host, me, tunnels)
	if err != nil {
		return nil, err
	}
	s.Vxlans = append(vx, tv...)
	s.PortGroups = placed(l.PortGroups, func(g *PortGroup) bool {
		b := l.bridgeNamed(g.Bridge)
		return b != nil && here(b.Netns)
	})
	s.ARPs = placed(l.ARPs, func(a *ARP) bool { return here(a.Netns) })
	s.NFQueues = placed(l.NFQueues, func(q *NFQueue) bool { return here(q.Netns) })
	s.Filters, s.Pipelines = l.Filters, l.Pipelines
	s.Services = placed(l.Services, func(sv *Service) bool { return here(sv.Netns) })
	s.Checks = placed(l.Checks, func(c *Check) bool { return here(c.From) })
	return s, nil
}

// vxlansOn keeps the [vxlan:] devices of nodes on host, with the host's
// underlay address as their local address where they name none.
func (l *Lab) vxlansOn(host string, me *Host, here func(string) bool) ([]*Vxlan, error) {
	var out []*Vxlan
	for _, x := range l.Vxlans {
		if !here(x.Netns) {
			continue
		}
		if x.Underlay != (End{}) && !here(x.Underlay.Node) {
			return nil, fmt.Errorf("[vxlan:%s]: underlay %s:%s is on host %s, the device on host %s",
				x.Name, x.Underlay.Node, x.Underlay.Ifname, l.HostOf(x.Underlay.Node), host)
		}
		if x.Underlay == (End{}) && !x.Local.IsValid() && me.Underlay.IsValid() {
			c := *x
			c.Local = me.Underlay
			x = &c
		}
		out = append(out, x)
	}
	return out, nil
}

// tunnelsOn turns this host's end of each veth that crosses to another
// host into a vxlan device towards the peer's underlay address.
func (l *Lab) tunnelsOn(host string, me *Host, tunnels []Tunnel) ([]*Vxlan, error) {
	var out []*Vxlan
	for _, t := range tunnels {
		var end End
		var peer string
		switch host {
		case t.HostA:
			end, peer = t.Link.A, t.HostB
		case t.HostB:
			end, peer = t.Link.B, t.HostA
		default:
			continue
		}
		ph := l.host(peer)
		if !me.Underlay.IsValid() || ph == nil || !ph.Underlay.IsValid() {
			return nil, fmt.Errorf("link [veth:%s] crosses from host %s to %s: both need underlay = IP", t.Link.Name, host, peer)
		}
		mtu := 0 // the lowering's default for a tunnel: 1450
		if _, ok := t.Link.Keys["mtu"]; ok {
			mtu = t.Link.MTU
		}
		out = append(out, &Vxlan{
			Meta:     t.Link.Meta,
			Name:     t.Link.Name,
			Ifname:   end.Ifname,
			Netns:    end.Node,
			VNI:      t.VNI,
			Local:    me.Underlay,
			Remotes:  []netip.Addr{ph.Underlay},
			Port:     4789,
			Learning: true,
			MTU:      mtu,
			// The link's impairment goes with its end: netem on the
			// tunnel device, as it would be on the veth end.
			Impair: t.Link.Impair,
		})
	}
	return out, nil
}

// placed keeps the sections of a kind that sit on this host.
func placed[T any](all []T, here func(T) bool) []T {
	var out []T
	for _, x := range all {
		if here(x) {
			out = append(out, x)
		}
	}
	return out
}

// OneMachine reports why the whole lab cannot be built on one machine, or
// nil. A lab without hosts, or whose hosts are stitched only by veth
// links, can: the links stay veth pairs. A [vxlan:] device on a host's
// underlay (no underlay = NODE:IF) would be created in the machine's own
// namespace, and its peers on the other hosts would clash with it, so
// such a lab is applied per host (--host).
func (l *Lab) OneMachine() error {
	if len(l.Hosts) < 2 {
		return nil
	}
	for _, x := range l.Vxlans {
		if x.Underlay == (End{}) {
			return fmt.Errorf("lab %s: [vxlan:%s] sits on a host's underlay: apply the lab per host with --host NAME (one of %s)",
				l.Name, x.Name, strings.Join(l.hostNames(), ", "))
		}
	}
	return nil
}

func (l *Lab) hostNames() []string {
	var names []string
	for _, h := range l.Hosts {
		names = append(names, h.Name)
	}
	return names
}

// FeaturesFor lists the kernel features host's slice needs; for "", what
// the lab needs wherever it is built: the whole lab's features and every
// host slice's (a cross-host link is a veth pair in the one, a VXLAN
// tunnel in the other).
func (l *Lab) FeaturesFor(host string) ([]string, error) {
	if host != "" {
		s, err := l.ForHost(host)
		if err != nil {
			return nil, err
		}
		return s.Features(), nil
	}
	fs := l.Features()
	for _, h := range l.Hosts {
		s, err := l.ForHost(h.Name)
		if err != nil {
			return nil, err
		}
		for _, f := range s.Features() {
			if !slices.Contains(fs, f) {
				fs = append(fs, f)
			}
		}
	}
	return fs, nil
}
