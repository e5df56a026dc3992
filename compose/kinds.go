package compose

import (
	"strings"
)

// KindInfo is everything generic code — Diff, plans, their display — knows
// about one kind of resource. A kind is one file with its KindInfo (and,
// in package kernel, its driver) plus one row in kindTable.
type KindInfo struct {
	Kind Kind
	// Replace lists the attributes the kernel cannot change in place: a
	// change to one of them replaces the resource.
	Replace []string
	// Ifname is the interface a node-scoped resource lives on ("" for
	// none): it goes when that interface goes.
	Ifname func(r Resource) string
	// Ends lists the interfaces a link resource creates.
	Ends func(r Resource) []End
	// Up maps the attributes that are a link's administrative state to
	// the interface they concern ("up" of a bridge, "a.up" of a veth).
	Up func(r Resource, attr string) (End, bool)
	// Text renders the attributes of a created resource for a plan;
	// nil lists them as k=v.
	Text func(r *Resource) string
	// Quiet lists the attributes a create's line leaves out: what the
	// lowering derives when the file says nothing (a link's MAC), noise
	// on every create. A change's line still shows them.
	Quiet []string
	// Defaults maps attributes to the value that says nothing on a
	// create's line, where it would be noise (a vxlan's ttl 0, a bridge
	// without vlan_filtering, a port flag as the kernel sets it).
	Defaults map[string]string
	// Label names the resource after its kind and node; nil uses Name.
	Label func(r Resource) []string
	// Held is set for what a process of the lab holds (a queue consumer,
	// a service): it does not die with its node in the kernel, so its
	// delete runs explicitly, before the node's, never as a cascade.
	Held bool
	// TakenWith reports, beyond Ifname and the node, whether the kernel
	// removes r along with removed nodes and interfaces.
	TakenWith func(r Resource, nodes map[string]bool, ends map[End]bool) bool
	// DeleteReason explains a delete of this kind in a plan, for display.
	DeleteReason string
}

// kindTable lists every kind in creation order; deletes run in reverse.
var kindTable = []*KindInfo{
	netnsKind, vethKind, bridgeKind, vxlanKind, vlanKind, masterKind, qdiscKind,
	brvlanKind, brportKind, brfdbKind, mirrorKind,
	addrKind, sysctlKind, routeKind, ruleKind, neighKind, fdbKind,
	iptablesKind, nfqueueKind, serviceKind,
}

var kindIndex = func() map[Kind]int {
	m := map[Kind]int{}
	for i, k := range kindTable {
		m[k.Kind] = i
	}
	return m
}()

// Kinds lists every kind in creation order.
var Kinds = func() []Kind {
	var out []Kind
	for _, k := range kindTable {
		out = append(out, k.Kind)
	}
	return out
}()

// Info returns what is known of kind k; an unknown kind gets an empty
// entry (no replace attributes, no interfaces).
func (k Kind) Info() *KindInfo {
	if i, ok := kindIndex[k]; ok {
		return kindTable[i]
	}
	return &KindInfo{Kind: k}
}

// Rank is the position of k in creation order.
func (k Kind) Rank() int {
	if i, ok := kindIndex[k]; ok {
		return i
	}
	return len(kindTable)
}

// ifnameBefore is the interface part of a name "IF/rest".
func ifnameBefore(r Resource) string {
	if i := strings.IndexByte(r.Name, '/'); i >= 0 {
		return r.Name[:i]
	}
	return ""
}

// nameIsIfname is Ifname for kinds named after their interface.
func nameIsIfname(r Resource) string { return r.Name }

// upAttr is Up for a one-interface link whose state is attr "up".
func upAttr(r Resource, attr string) (End, bool) {
	return End{r.Node, r.Name}, attr == "up"
}

// ifnameAndRest labels "addr a eth0 10.0.0.1/24": the interface apart.
func ifnameAndRest(r Resource) []string {
	ifname, rest, _ := strings.Cut(r.Name, "/")
	return []string{ifname, rest}
}
