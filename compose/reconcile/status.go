package reconcile

import (
	"context"
	"maps"
	"slices"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/compose/kernel"
)

// Status is what `netcompose status` shows of an applied lab: first what
// differs from the file (the plan apply would run) and what apply would
// refuse, then every node the file or the state record names with what
// the lab owns in it, the links between nodes, and the lab's processes as
// its supervisor reports them.
type Status struct {
	Lab string `json:"lab"`
	// InSync: the plan is empty (Problems may still stop an apply).
	InSync bool         `json:"in_sync"`
	Drift  compose.Plan `json:"drift"`
	// Problems are what apply would refuse before changing anything: a
	// namespace in the way, a route of someone else's, a tunnel whose
	// local address is not here.
	Problems []string     `json:"problems,omitempty"`
	Nodes    []NodeStatus `json:"nodes"`
	// Links are the lab-level kernel resources (veth pairs) as observed;
	// their changes are LinkDrift.
	Links     []compose.Resource `json:"links"`
	LinkDrift []compose.Change   `json:"link_drift,omitempty"`
	// Processes is nil for a lab that runs none and has no supervisor.
	Processes *ProcessStatus `json:"processes,omitempty"`
}

// NodeState is how a node stands against the file.
type NodeState string

const (
	NodeInSync  NodeState = "in sync"
	NodeDrifted NodeState = "drifted"
	// NodeMissing: the file wants the node and its namespace is not
	// there, or is not the lab's (Problems says which).
	NodeMissing NodeState = "missing"
	// NodeExtra: the lab owns the node and the file no longer names it:
	// apply destroys it.
	NodeExtra NodeState = "not in the file"
)

// NodeStatus is one node: the kernel's view of its namespace (every
// interface, the lab's or not, and the main table), what the lab owns in
// it as resources (plan words), and its part of the drift.
type NodeStatus struct {
	kernel.NodeStatus
	State NodeState `json:"state"`
	// Reason says why a node is missing.
	Reason string `json:"reason,omitempty"`
	// Resources are the lab's resources in the node as observed, the
	// namespace itself and processes left out, in creation order.
	Resources []compose.Resource `json:"resources"`
	Drift     []compose.Change   `json:"drift"`
}

// Inspect observes the lab's kernel state and processes, diffs them
// against t, and describes them (Status). opt.UnderlayNetns is where the
// lab's tunnels would be created (CheckUnderlay); a Processes that is a
// Reporter describes the processes.
func Inspect(ctx context.Context, t Target, opt Options) (*Status, error) {
	desired, actual, err := observe(ctx, t, opt)
	if err != nil {
		return nil, err
	}
	p := compose.Diff(t.Key, desired, actual)
	st := &Status{Lab: t.Key, InSync: p.Empty(), Drift: p, Links: []compose.Resource{}}
	st.Problems = problems(t, opt, desired, p)
	if st.Nodes, err = nodeStatus(ctx, t.Key, desired, actual, p); err != nil {
		return nil, err
	}
	for _, r := range actual {
		if r.Node == "" && !r.Kind.Info().Held {
			st.Links = append(st.Links, r)
		}
	}
	for _, c := range p.Changes {
		if r := c.Resource(); r.Node == "" && !r.Kind.Info().Held {
			st.LinkDrift = append(st.LinkDrift, c)
		}
	}
	if st.Processes, err = processStatus(ctx, t.Key, desired, actual, opt.Processes); err != nil {
		return nil, err
	}
	return st, nil
}

// problems lists what apply would refuse, as Run and diff would say it;
// desired is t lowered.
func problems(t Target, opt Options, desired []compose.Resource, p compose.Plan) []string {
	var out []string
	add := func(err error) {
		if err == nil {
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				out = append(out, e.Error())
			}
			return
		}
		out = append(out, err.Error())
	}
	// CheckUnderlay of the lab already lowered: CheckLocal looks only
	// at its tunnels.
	add(kernel.CheckLocal(t.Key, desired, opt.UnderlayNetns))
	obs, err := kernel.Obstacles(p, opt.Adopt)
	add(err)
	for _, o := range obs {
		add(o)
	}
	return out
}

// nodeStatus describes every node the file wants or the lab owns, sorted
// by name; a change counts for the node it is in (lab-level changes, the
// veth pairs, for none), so the nodes' drift adds up to the plan's.
func nodeStatus(ctx context.Context, key string, desired, actual []compose.Resource, p compose.Plan) ([]NodeStatus, error) {
	seen, err := kernel.Inspect(ctx, key)
	if err != nil {
		return nil, err
	}
	recorded := map[string]bool{} // recorded nodes whose namespace is gone
	for _, n := range kernel.Lab(key).Missing {
		recorded[n] = true
	}
	lab, _ := compose.SplitStateKey(key)
	byNode := map[string]*NodeStatus{}
	want := map[string]bool{}
	for _, r := range desired {
		if r.Kind == compose.KindNetns {
			want[r.Node] = true
		}
	}
	for _, k := range seen {
		byNode[k.Node] = &NodeStatus{NodeStatus: k, State: NodeInSync, Resources: []compose.Resource{}}
	}
	for node := range want {
		if _, ok := byNode[node]; ok {
			continue
		}
		ns := &NodeStatus{NodeStatus: kernel.NodeStatus{Node: node, Namespace: compose.NamespaceName(lab, node)},
			State: NodeMissing, Resources: []compose.Resource{}, Reason: "no namespace: apply creates it"}
		if recorded[node] {
			ns.Reason = "its namespace is gone (deleted by hand?): apply creates it again"
		}
		byNode[node] = ns
	}
	for node, ns := range byNode {
		if !want[node] {
			ns.State = NodeExtra
		}
	}
	for _, r := range actual {
		if ns := byNode[r.Node]; ns != nil && r.Node != "" && r.Kind != compose.KindNetns && !r.Kind.Info().Held {
			ns.Resources = append(ns.Resources, r)
		}
	}
	for _, c := range p.Changes {
		if ns := byNode[c.Resource().Node]; ns != nil {
			ns.Drift = append(ns.Drift, c)
			if ns.State == NodeInSync {
				ns.State = NodeDrifted
			}
		}
	}
	out := []NodeStatus{}
	for _, node := range slices.Sorted(maps.Keys(byNode)) {
		if byNode[node].Drift == nil {
			byNode[node].Drift = []compose.Change{}
		}
		out = append(out, *byNode[node])
	}
	return out, nil
}
