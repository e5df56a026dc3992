package compose

import (
	"sort"
	"strings"
)

// Kind is a kind of kernel object that netcompose manages. The typed lab
// graph (netns, veth, bridge, arp, ...) is lowered into resources of these
// kinds; drivers observe and change them one kind at a time.
type Kind string

// Resource kinds in the order they are created (deletes run in reverse).
// A kind's rank is its index here.
const (
	KindNetns  Kind = "netns"  // a namespace <lab>-<node>
	KindVeth   Kind = "veth"   // a veth pair; lab-level, spans two nodes
	KindBridge Kind = "bridge" // a bridge device in a node
	KindVxlan  Kind = "vxlan"  // a vxlan device in a node
	KindMaster Kind = "master" // an interface enslaved to a bridge
	KindAddr   Kind = "addr"   // an address on an interface
	KindSysctl Kind = "sysctl" // a net.* sysctl inside a node
	KindRoute  Kind = "route"  // a route in a node's main table
	KindRule   Kind = "rule"   // a policy-routing rule in a node
	KindNeigh  Kind = "neigh"  // a static neighbour (ARP) entry
	KindFDB    Kind = "fdb"    // a vxlan all-zero FDB entry (head-end replication)
)

// Kinds lists every kind in creation order.
var Kinds = []Kind{KindNetns, KindVeth, KindBridge, KindVxlan, KindMaster,
	KindAddr, KindSysctl, KindRoute, KindRule, KindNeigh, KindFDB}

// Rank is the position of k in creation order.
func (k Kind) Rank() int {
	for i, x := range Kinds {
		if x == k {
			return i
		}
	}
	return len(Kinds)
}

// Resource is one kernel object in desired or observed state. It is a plain
// value: the attributes fully describe what the kernel should hold, so two
// resources with the same ID and equal Attrs need no change.
//
// Naming per kind (Node is the lab node, not the kernel namespace name):
//
//	netns   Node=node  Name=""
//	veth    Node=""    Name=veth section name; Attrs a.node a.ifname b.node b.ifname mtu a.up b.up
//	bridge  Node=node  Name=ifname;            Attrs mtu stp up
//	vxlan   Node=node  Name=ifname;            Attrs vni local remote port group underlay underlay.netns learning ttl tos mtu up
//	master  Node=node  Name=ifname;            Attrs bridge
//	addr    Node=node  Name=ifname/CIDR
//	sysctl  Node=node  Name=dotted key;        Attrs value
//	route   Node=node  Name=destination CIDR (0.0.0.0/0 for default); Attrs via dev
//	rule    Node=node  Name=priority;          Attrs family from to iif oif ipproto sport dport action
//	neigh   Node=node  Name=ifname/IP;         Attrs mac
//	fdb     Node=node  Name=ifname/remote IP
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
	switch r.Kind {
	case KindBridge, KindVxlan, KindMaster:
		return r.Name
	case KindAddr, KindNeigh, KindFDB:
		if i := strings.IndexByte(r.Name, '/'); i >= 0 {
			return r.Name[:i]
		}
	case KindRoute:
		return r.Attrs["dev"]
	case KindSysctl:
		// net.ipv4.conf.IF.key and net.ipv6.conf.IF.key depend on IF.
		p := strings.Split(r.Name, ".")
		if len(p) >= 5 && p[0] == "net" && p[2] == "conf" && p[3] != "all" && p[3] != "default" {
			return strings.Join(p[3:len(p)-1], ".")
		}
	}
	return ""
}

// End is one interface of a link: the node it sits in and its name there.
type End struct{ Node, Ifname string }

// Ends lists the interfaces a link resource creates; nil for other kinds.
func (r Resource) Ends() []End {
	switch r.Kind {
	case KindVeth:
		return []End{{r.Attrs["a.node"], r.Attrs["a.ifname"]}, {r.Attrs["b.node"], r.Attrs["b.ifname"]}}
	case KindBridge, KindVxlan:
		return []End{{r.Node, r.Name}}
	}
	return nil
}

// replaceAttrs are the attributes the kernel cannot change in place: a
// change to one of them replaces the resource.
var replaceAttrs = map[Kind]map[string]bool{
	KindVeth:  {"a.node": true, "a.ifname": true, "b.node": true, "b.ifname": true},
	KindRule:  {"family": true, "from": true, "to": true, "iif": true, "oif": true, "ipproto": true, "sport": true, "dport": true, "action": true},
	KindVxlan: {"vni": true, "local": true, "port": true, "group": true, "underlay": true, "underlay.netns": true, "learning": true, "ttl": true, "tos": true},
}

// ForcesReplace reports whether changing attr of a resource of kind k
// requires deleting and recreating it.
func ForcesReplace(k Kind, attr string) bool { return replaceAttrs[k][attr] }

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
