package compose

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// summary is a plan as "symbol id" lines, for compact expectations.
func summary(p Plan) []string {
	var s []string
	for _, c := range p.Changes {
		line := c.Action.Symbol() + " " + c.ID
		if c.Cascade {
			line += " (cascade)"
		}
		s = append(s, line)
	}
	return s
}

func TestDiff(t *testing.T) {
	type m = map[string]string
	ns := func(n string) Resource { return Resource{Kind: KindNetns, Node: n} }
	veth := func(mtu, bnode string) Resource {
		return Resource{Kind: KindVeth, Name: "ab", Attrs: m{"a.node": "a", "a.ifname": "eth0", "b.node": bnode, "b.ifname": "eth0", "mtu": mtu}}
	}
	addr := Resource{Kind: KindAddr, Node: "a", Name: "eth0/10.0.0.1/24"}
	br := Resource{Kind: KindBridge, Node: "a", Name: "br0", Attrs: m{"mtu": "1500"}}
	vx := Resource{Kind: KindVxlan, Node: "x", Name: "vx0", Attrs: m{"vni": "1", "underlay": "eth0", "underlay.netns": "a"}}
	tests := []struct {
		name            string
		desired, actual []Resource
		want            []string
	}{
		{"nothing to do", []Resource{ns("a")}, []Resource{ns("a")}, nil},
		{"new lab creates in kind order",
			[]Resource{addr, veth("1500", "b"), ns("b"), ns("a")}, nil,
			[]string{"+ netns/a/", "+ netns/b/", "+ veth//ab", "+ addr/a/eth0/10.0.0.1/24"}},
		{"mtu change updates in place",
			[]Resource{ns("a"), ns("b"), veth("9000", "b")}, []Resource{ns("a"), ns("b"), veth("1500", "b")},
			[]string{"~ veth//ab"}},
		{"moved peer replaces the veth and recreates its addresses",
			[]Resource{ns("a"), ns("b"), ns("c"), veth("1500", "c"), addr},
			[]Resource{ns("a"), ns("b"), ns("c"), veth("1500", "b"), addr},
			[]string{"± veth//ab", "+ addr/a/eth0/10.0.0.1/24"}},
		{"moved underlay peer recreates the vxlan on it",
			[]Resource{ns("a"), ns("b"), ns("c"), veth("1500", "c"), vx},
			[]Resource{ns("a"), ns("b"), ns("c"), veth("1500", "b"), vx},
			[]string{"± veth//ab", "+ vxlan/x/vx0"}},
		{"removed underlay node takes the vxlan along",
			[]Resource{ns("b"), ns("x")},
			[]Resource{ns("a"), ns("b"), ns("x"), veth("1500", "b"), vx},
			[]string{"- netns/a/", "- veth//ab (cascade)", "- vxlan/x/vx0 (cascade)"}},
		{"removed bridge is deleted, its address and ports go with it",
			[]Resource{ns("a")},
			[]Resource{ns("a"), br, {Kind: KindAddr, Node: "a", Name: "br0/10.0.0.1/24"}, {Kind: KindMaster, Node: "a", Name: "p0", Attrs: m{"bridge": "br0"}}},
			[]string{"- bridge/a/br0", "- master/a/p0 (cascade)", "- addr/a/br0/10.0.0.1/24 (cascade)"}},
		{"attribute left out of the file is not managed",
			[]Resource{{Kind: KindBridge, Node: "a", Name: "br0", Attrs: m{"mtu": "1500"}}},
			[]Resource{{Kind: KindBridge, Node: "a", Name: "br0", Attrs: m{"mtu": "1500", "stp": "on"}}},
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := summary(Diff("t", tt.desired, tt.actual))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}

// A desired lab applied to the kernel state it describes plans nothing:
// lowering is deterministic and Diff agrees with itself.
func TestShippedLabsDiffClean(t *testing.T) {
	lab, err := Build(loadFile(t, "../topologies/vxlan-tenants.ini"))
	if err != nil {
		t.Fatal(err)
	}
	if p := Diff(lab.Name, lab.Resources(), lab.Resources()); !p.Empty() {
		t.Errorf("plan of a lab against itself: %v", summary(p))
	}
	if p := Diff(lab.Name, nil, lab.Resources()); len(p.Changes) != len(lab.Resources()) {
		t.Errorf("destroy plans %d changes for %d resources", len(p.Changes), len(lab.Resources()))
	}
}

func TestStepsCreateOnLinkRoutesFirst(t *testing.T) {
	route := func(dest, via string) Resource {
		a := map[string]string{"dev": "eth0"}
		if via != "" {
			a["via"] = via
		}
		return Resource{Kind: KindRoute, Node: "web", Name: dest, Attrs: a}
	}
	desired := []Resource{route("10.2.0.0/24", "10.2.0.1"), route("10.2.0.1/32", "")}
	var got []string
	for _, s := range Diff("l", desired, nil).Steps() {
		got = append(got, s.After.Name)
	}
	if diff := cmp.Diff([]string{"10.2.0.1/32", "10.2.0.0/24"}, got); diff != "" {
		t.Errorf("create order (-want +got):\n%s", diff)
	}
	got = nil
	for _, s := range Diff("l", nil, desired).Steps() {
		got = append(got, s.Before.Name)
	}
	if diff := cmp.Diff([]string{"10.2.0.0/24", "10.2.0.1/32"}, got); diff != "" {
		t.Errorf("delete order (-want +got):\n%s", diff)
	}
}

// What a replaced parent takes along gets a cascaded delete step before
// its recreate, so that a failed run's undo brings it back.
func TestStepsOfARecreatedChild(t *testing.T) {
	v := func(b string) Resource {
		return Resource{Kind: KindVeth, Name: "ab", Attrs: map[string]string{"a.node": "a", "a.ifname": "eth0", "b.node": b, "b.ifname": "eth0"}}
	}
	addr := Resource{Kind: KindAddr, Node: "a", Name: "eth0/10.0.0.1/24"}
	var got []string
	for _, s := range Diff("l", []Resource{v("c"), addr}, []Resource{v("b"), addr}).Steps() {
		line := string(s.Op) + " " + stepID(s)
		if s.Cascade {
			line += " (cascade)"
		}
		got = append(got, line)
	}
	want := []string{"delete addr/a/eth0/10.0.0.1/24 (cascade)", "delete veth//ab", "create veth//ab", "create addr/a/eth0/10.0.0.1/24"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
}

func stepID(s Step) string {
	if s.After != nil {
		return s.After.ID()
	}
	return s.Before.ID()
}
