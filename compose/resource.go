package compose

import (
	"sort"
)

// Kind is a kind of kernel object that netcompose manages. The typed lab
// graph (netns, veth, bridge, arp, ...) is lowered into resources of these
// kinds; drivers observe and change them one kind at a time.
type Kind string

// Resource kinds. Their order of creation (deletes run in reverse) is
// kindTable's, in kinds.go, with what else generic code knows of each.
const (
	KindNetns  Kind = "netns"  // a namespace <lab>-<node>
	KindVeth   Kind = "veth"   // a veth pair; lab-level, spans two nodes
	KindBridge Kind = "bridge" // a bridge device in a node
	KindVxlan  Kind = "vxlan"  // a vxlan device in a node
	KindVlan   Kind = "vlan"   // an 802.1Q (or 802.1ad) sub-interface in a node
	KindMaster Kind = "master" // an interface enslaved to a bridge
	KindBrVlan Kind = "brvlan" // the VLANs a bridge port (or the bridge itself) carries
	KindBrPort Kind = "brport" // a bridge port's flags (isolated, learning, flood, locked, neigh_suppress)
	KindBrFDB  Kind = "brfdb"  // a static FDB entry on a bridge port (a locked port's allowed MAC)
	KindMirror Kind = "mirror" // a tc filter copying a bridge port's traffic to a monitor interface
	KindAddr   Kind = "addr"   // an address on an interface
	KindSysctl Kind = "sysctl" // a net.* sysctl inside a node
	KindRoute  Kind = "route"  // a route in a node's main table
	KindRule   Kind = "rule"   // a policy-routing rule in a node
	KindNeigh  Kind = "neigh"  // a static neighbour (ARP) entry
	KindFDB    Kind = "fdb"    // a vxlan all-zero FDB entry (head-end replication)

	// KindIPTables is an iptables rule in a node that queues packets to
	// user space (an [nfqueue:] section's rule).
	KindIPTables Kind = "iptables"
	// KindNFQueue and KindService live in the lab's supervisor, not in the
	// kernel: an [nfqueue:]'s consumer and its pipeline, and a [service:].
	KindNFQueue Kind = "nfqueue"
	KindService Kind = "service"
)

// Resource is one kernel object in desired or observed state. It is a plain
// value: the attributes fully describe what the kernel should hold, so two
// resources with the same ID and equal Attrs need no change.
//
// Naming per kind (Node is the lab node, not the kernel namespace name):
//
//	netns   Node=node  Name="";                Attrs lo.up
//	veth    Node=""    Name=veth section name; Attrs a.node a.ifname b.node b.ifname mtu a.up b.up a.mac b.mac
//	bridge  Node=node  Name=ifname;            Attrs mtu stp up mac
//	vxlan   Node=node  Name=ifname;            Attrs vni local remote port group underlay underlay.netns learning ttl tos mtu up mac
//	vlan    Node=node  Name=ifname;            Attrs link id protocol up mac
//	master  Node=node  Name=ifname;            Attrs bridge
//	brvlan  Node=node  Name=port ifname (or the bridge's own); Attrs bridge pvid untagged tagged
//	brport  Node=node  Name=port ifname;       Attrs isolated learning flood locked neigh_suppress
//	brfdb   Node=node  Name=port/MAC[/VID]
//	mirror  Node=node  Name=port/ingress or port/egress; Attrs to
//	addr    Node=node  Name=ifname/CIDR
//	sysctl  Node=node  Name=dotted key;        Attrs value
//	route   Node=node  Name=destination CIDR (0.0.0.0/0 for default); Attrs via dev
//	rule    Node=node  Name=priority;          Attrs family from to iif oif ipproto sport dport action
//	neigh   Node=node  Name=ifname/IP;         Attrs mac
//	fdb     Node=node  Name=ifname/remote IP
//	iptables Node=node Name=nfqueue section;   Attrs chain protocol source destination sport dport in out queue bypass families
//	nfqueue Node=node  Name=section name;      Attrs hash (of the consumer's resolved configuration)
//	service Node=node  Name=section name;      Attrs hash
type Resource struct {
	Kind  Kind              `json:"kind"`
	Node  string            `json:"node,omitempty"`
	Name  string            `json:"name,omitempty"`
	Attrs map[string]string `json:"attrs,omitempty"`
}

// ID identifies a resource within a lab: kind/node/name.
func (r Resource) ID() string {
	return string(r.Kind) + "/" + r.Node + "/" + r.Name
}

// Ifname is the interface a node-scoped resource lives on, or "".
func (r Resource) Ifname() string {
	if f := r.Kind.Info().Ifname; f != nil {
		return f(r)
	}
	return ""
}

// End is one interface of a link: the node it sits in and its name there.
type End struct{ Node, Ifname string }

// Ends lists the interfaces a link resource creates; nil for other kinds.
func (r Resource) Ends() []End {
	if f := r.Kind.Info().Ends; f != nil {
		return f(r)
	}
	return nil
}

// ForcesReplace reports whether changing attr of a resource of kind k
// requires deleting and recreating it.
func ForcesReplace(k Kind, attr string) bool {
	for _, a := range k.Info().Replace {
		if a == attr {
			return true
		}
	}
	return false
}

// Sort orders resources by kind rank, then node, then name.
func Sort(rs []Resource) {
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if ra, rb := a.Kind.Rank(), b.Kind.Rank(); ra != rb {
			return ra < rb
		}
		if a.Node != b.Node {
			return a.Node < b.Node
		}
		return a.Name < b.Name
	})
}

// NamespaceName is the kernel name of a lab node's namespace.
func NamespaceName(lab, node string) string { return lab + "-" + node }
