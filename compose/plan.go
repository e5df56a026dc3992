package compose

import (
	"maps"
	"slices"
	"sort"
	"strings"
)

// Action is what a plan does to one resource (Terraform's plans.Action).
type Action string

const (
	Create  Action = "create"  // +
	Update  Action = "update"  // ~ in place
	Delete  Action = "delete"  // -
	Replace Action = "replace" // ± delete, then create
)

// Symbol is the one-character mark Terraform users know.
func (a Action) Symbol() string {
	switch a {
	case Create:
		return "+"
	case Update:
		return "~"
	case Delete:
		return "-"
	case Replace:
		return "±"
	}
	return "?"
}

// Change is one planned change. Before is the observed resource, After the
// desired one (nil for a delete). Before is nil for a create, except for a
// resource recreated with its parent: there it is what the parent's delete
// takes along, so that a failed run can bring it back.
type Change struct {
	Action Action    `json:"action"`
	ID     string    `json:"id"`
	Before *Resource `json:"before,omitempty"`
	After  *Resource `json:"after,omitempty"`
	// Cascade marks a delete that happens by itself when its parent (the
	// namespace, or the interface it lives on) is deleted: it is shown but
	// needs no kernel call.
	Cascade bool `json:"cascade,omitempty"`
	// Reason says why, for display only: never decide anything on it.
	Reason string `json:"reason,omitempty"`
}

// Resource is the resource the change is about (After, else Before).
func (c Change) Resource() Resource {
	if c.After != nil {
		return *c.After
	}
	return *c.Before
}

// Plan is the set of changes that converges a lab's actual state to its
// desired state. It is a plain value: print it, serialise it, apply it later.
type Plan struct {
	Lab     string   `json:"lab"`
	Changes []Change `json:"changes"`
	// Prior is the observed state the plan was made from (Terraform's
	// prior state): what a failed apply rolls back to, side effects and all.
	Prior []Resource `json:"-"`
}

// Empty reports whether the plan changes nothing.
func (p Plan) Empty() bool { return len(p.Changes) == 0 }

// Counts returns how many resources the plan adds, changes and destroys,
// counting a replace as one add and one destroy, as Terraform does.
func (p Plan) Counts() (add, change, destroy int) {
	for _, c := range p.Changes {
		switch c.Action {
		case Create:
			add++
		case Update:
			change++
		case Delete:
			destroy++
		case Replace:
			add++
			destroy++
		}
	}
	return
}

// Step is one primitive operation of a plan, in execution order.
type Step struct {
	Op      Action // Create, Update or Delete
	Before  *Resource
	After   *Resource
	Cascade bool
}

// Steps expands the plan into primitive operations in execution order:
// every delete first, children before parents (reverse kind rank), then
// creates and updates, parents before children. A replace contributes its
// delete to the first phase and its create to the second; so does a
// resource recreated with its parent, whose delete is a cascaded step
// (no kernel call, but an undo that restores it if the run fails).
func (p Plan) Steps() []Step {
	var dels, rest []Step
	for _, c := range p.Changes {
		switch c.Action {
		case Delete:
			dels = append(dels, Step{Op: Delete, Before: c.Before, Cascade: c.Cascade})
		case Create:
			if c.Before != nil {
				dels = append(dels, Step{Op: Delete, Before: c.Before, Cascade: true})
			}
			rest = append(rest, Step{Op: Create, After: c.After})
		case Replace:
			dels = append(dels, Step{Op: Delete, Before: c.Before})
			rest = append(rest, Step{Op: Create, After: c.After})
		default:
			rest = append(rest, Step{Op: c.Action, Before: c.Before, After: c.After})
		}
	}
	res := func(s Step) Resource {
		if s.After != nil {
			return *s.After
		}
		return *s.Before
	}
	sort.SliceStable(dels, func(i, j int) bool { return stage(res(dels[i])) > stage(res(dels[j])) })
	sort.SliceStable(rest, func(i, j int) bool { return stage(res(rest[i])) < stage(res(rest[j])) })
	return append(dels, rest...)
}

// stage orders steps: by kind rank, and among routes on-link ones (no
// gateway) first, since the kernel refuses a route via a gateway it cannot
// reach yet ("network is unreachable"): 10.2.0.1/32 dev eth0 must exist
// before 10.2.0.0/24 via 10.2.0.1. A sysctl of the whole node (not of one
// interface) goes right after the namespaces, before any link: the
// node's conf.default.* then applies to the lab's links too, and
// ipv6 = off (conf.all.disable_ipv6) keeps the kernel from setting IPv6
// up on them at all.
func stage(r Resource) int {
	switch {
	case r.Kind == KindSysctl && nodeWide(r.Name):
		return 2*KindNetns.Rank() + 1
	case r.Kind == KindRoute && r.Attrs["via"] != "":
		return 2*r.Kind.Rank() + 1
	}
	return 2 * r.Kind.Rank()
}

// nodeWide reports whether a sysctl is the whole node's rather than one
// interface's: net.*.conf.IF.* and net.*.neigh.IF.* are IF's, unless IF is
// all or default.
func nodeWide(key string) bool {
	p := strings.Split(key, ".")
	return len(p) < 5 || p[0] != "net" || (p[2] != "conf" && p[2] != "neigh") || p[3] == "all" || p[3] == "default"
}

// Diff plans the changes that turn actual into desired. Only attributes
// present in a desired resource are compared: an attribute the file leaves
// out is not managed. Removing a namespace or an interface takes everything
// on it along: those resources are planned as cascaded deletes, or as
// creates when the file still wants them.
func Diff(lab string, desired, actual []Resource) Plan {
	want := index(desired)
	have := index(actual)

	changes := map[string]Change{}
	removedNodes := map[string]bool{}
	removedEnds := map[End]bool{}
	for id, a := range have {
		d, ok := want[id]
		switch {
		case !ok:
			changes[id] = Change{Action: Delete, ID: id, Before: ptr(a), Reason: deleteReason(a)}
		case forcesReplace(d, a):
			changes[id] = Change{Action: Replace, ID: id, Before: ptr(a), After: ptr(d), Reason: replaceReason(d, a)}
		case !sameAttrs(d, a):
			changes[id] = Change{Action: Update, ID: id, Before: ptr(a), After: ptr(d)}
		default:
			continue
		}
		markRemoved(changes[id], removedNodes, removedEnds)
	}
	for id, d := range want {
		if _, ok := have[id]; !ok {
			changes[id] = Change{Action: Create, ID: id, After: ptr(d)}
		}
	}

	// Propagate removals to what lives on removed nodes and interfaces,
	// until nothing more goes: a removed bridge takes its ports' membership,
	// a removed veth takes the addresses on both ends, and so on.
	for grew := true; grew; {
		grew = false
		for id, a := range have {
			// Re-plan what is still untouched, updated in place, or deleted
			// on its own: once its parent goes, it goes with it.
			if c, ok := changes[id]; ok && c.Action != Update && (c.Action != Delete || c.Cascade) {
				continue
			}
			if !onRemoved(a, removedNodes, removedEnds) {
				continue
			}
			if d, ok := want[id]; ok {
				changes[id] = Change{Action: Create, ID: id, Before: ptr(a), After: ptr(d), Reason: "recreated with its parent"}
			} else {
				changes[id] = Change{Action: Delete, ID: id, Before: ptr(a), Cascade: true, Reason: "removed with its parent"}
			}
			markRemoved(Change{Action: Delete, Before: ptr(a)}, removedNodes, removedEnds)
			grew = true
		}
	}

	// Changes read in kind order, and within a kind by name as people
	// count: h2 before h10, 10.0.0.9 before 10.0.0.10.
	out := Plan{Lab: lab, Changes: make([]Change, 0, len(changes)), Prior: actual}
	for _, id := range slices.SortedFunc(maps.Keys(changes), compareNatural) {
		out.Changes = append(out.Changes, changes[id])
	}
	sort.SliceStable(out.Changes, func(i, j int) bool {
		return out.Changes[i].Resource().Kind.Rank() < out.Changes[j].Resource().Kind.Rank()
	})
	return out
}

func index(rs []Resource) map[string]Resource {
	m := make(map[string]Resource, len(rs))
	for _, r := range rs {
		m[r.ID()] = r
	}
	return m
}

func ptr(r Resource) *Resource { return &r }

func sameAttrs(desired, actual Resource) bool {
	for k, v := range desired.Attrs {
		if actual.Attrs[k] != v {
			return false
		}
	}
	return true
}

func forcesReplace(desired, actual Resource) bool {
	return replaceReason(desired, actual) != ""
}

// deleteReason explains a delete where it may surprise: the lab owns its
// links whole, as nmstate owns the interfaces it manages, so an address
// or a static neighbour on one of them (or on lo of its own namespaces)
// that the file does not name goes, even one added by hand.
func deleteReason(actual Resource) string { return actual.Kind.Info().DeleteReason }

func replaceReason(desired, actual Resource) string {
	for _, k := range slices.Sorted(maps.Keys(desired.Attrs)) {
		if ForcesReplace(desired.Kind, k) && actual.Attrs[k] != desired.Attrs[k] {
			return k + " cannot change in place"
		}
	}
	return ""
}

// markRemoved records what disappears from the kernel when c runs.
func markRemoved(c Change, nodes map[string]bool, ends map[End]bool) {
	if c.Action != Delete && c.Action != Replace {
		return
	}
	r := *c.Before
	if r.Kind == KindNetns {
		nodes[r.Node] = true
	}
	for _, e := range r.Ends() {
		ends[e] = true
	}
}

// onRemoved reports whether r disappears with a removed node or interface.
// What a process holds (KindInfo.Held) never does: it is deleted on its
// own, before the node.
func onRemoved(r Resource, nodes map[string]bool, ends map[End]bool) bool {
	info := r.Kind.Info()
	if r.Kind == KindNetns || info.Held {
		return false
	}
	if nodes[r.Node] {
		return true
	}
	for _, e := range r.Ends() {
		if nodes[e.Node] {
			return true
		}
	}
	if info.TakenWith != nil && info.TakenWith(r, nodes, ends) {
		return true
	}
	// A link is not removed by its own removal: a deleted bridge or vxlan
	// device marks its own end, and must still be deleted, not cascaded.
	if len(r.Ends()) > 0 {
		return false
	}
	ifn := r.Ifname()
	return ifn != "" && ends[End{r.Node, ifn}]
}
