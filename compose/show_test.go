package compose

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/compose")

// golden compares got with testdata/compose/NAME, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("..", "testdata", "compose", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

func planFixture() Plan {
	type m = map[string]string
	actual := []Resource{
		{Kind: KindNetns, Node: "a"},
		{Kind: KindNetns, Node: "old"},
		{Kind: KindVeth, Name: "r1-r2", Attrs: m{"a.node": "a", "a.ifname": "eth0", "b.node": "old", "b.ifname": "eth0", "mtu": "1500"}},
		{Kind: KindAddr, Node: "old", Name: "eth0/10.0.0.2/24"},
		{Kind: KindVxlan, Node: "a", Name: "vx", Attrs: m{"vni": "41", "port": "4789", "mtu": "1450"}},
		{Kind: KindSysctl, Node: "a", Name: "net.ipv4.ip_forward", Attrs: m{"value": "0"}},
	}
	desired := []Resource{
		{Kind: KindNetns, Node: "a"},
		{Kind: KindNetns, Node: "b"},
		{Kind: KindVxlan, Node: "a", Name: "vx", Attrs: m{"vni": "42", "port": "4789", "mtu": "1450"}},
		{Kind: KindSysctl, Node: "a", Name: "net.ipv4.ip_forward", Attrs: m{"value": "1"}},
		{Kind: KindVeth, Name: "a-b", Attrs: m{"a.node": "a", "a.ifname": "eth1", "b.node": "b", "b.ifname": "eth0", "mtu": "1500"}},
	}
	return Diff("demo", desired, actual)
}

// cascadePlan removes node old by hand-built changes: its address goes
// with the namespace and needs no kernel call.
func cascadePlan() Plan {
	ns := Resource{Kind: KindNetns, Node: "old"}
	addr := Resource{Kind: KindAddr, Node: "old", Name: "eth0/10.0.0.2/24"}
	veth := Resource{Kind: KindVeth, Name: "r1-r2", Attrs: map[string]string{"a.node": "a", "a.ifname": "eth0", "b.node": "old", "b.ifname": "eth0", "mtu": "9000"}}
	veth2 := veth
	veth2.Attrs = map[string]string{"a.node": "a", "a.ifname": "eth0", "b.node": "old", "b.ifname": "eth0", "mtu": "1500"}
	return Plan{Lab: "demo", Changes: []Change{
		{Action: Delete, ID: ns.ID(), Before: &ns},
		{Action: Update, ID: veth.ID(), Before: &veth2, After: &veth},
		{Action: Delete, ID: addr.ID(), Before: &addr, Cascade: true, Reason: "removed with its parent"},
	}}
}

// linkStatePlan is the drift of links set down by hand: one end of a
// veth, a bridge and a vxlan device, and a veth with both ends down whose
// MTU changed too.
func linkStatePlan() Plan {
	type m = map[string]string
	veth := func(aUp, bUp, mtu string) m {
		return m{"a.node": "server", "a.ifname": "eth0", "a.up": aUp, "b.node": "fw", "b.ifname": "eth1", "b.up": bUp, "mtu": mtu}
	}
	actual := []Resource{
		{Kind: KindVeth, Name: "server-fw", Attrs: veth("false", "true", "1500")},
		{Kind: KindVeth, Name: "both", Attrs: m{"a.node": "fw", "a.ifname": "eth2", "a.up": "false", "b.node": "sw", "b.ifname": "p1", "b.up": "false", "mtu": "1500"}},
		{Kind: KindBridge, Node: "sw", Name: "br0", Attrs: m{"mtu": "1500", "stp": "off", "up": "false"}},
		{Kind: KindVxlan, Node: "sw", Name: "vx0", Attrs: m{"vni": "7", "mtu": "1450", "up": "false"}},
	}
	desired := []Resource{
		{Kind: KindVeth, Name: "server-fw", Attrs: veth("true", "true", "1500")},
		{Kind: KindVeth, Name: "both", Attrs: m{"a.node": "fw", "a.ifname": "eth2", "a.up": "true", "b.node": "sw", "b.ifname": "p1", "b.up": "true", "mtu": "9000"}},
		{Kind: KindBridge, Node: "sw", Name: "br0", Attrs: m{"mtu": "1500", "stp": "off", "up": "true"}},
		{Kind: KindVxlan, Node: "sw", Name: "vx0", Attrs: m{"vni": "8", "mtu": "1450", "up": "true"}},
		{Kind: KindBridge, Node: "sw", Name: "br1", Attrs: m{"mtu": "1500", "stp": "off", "up": "true"}},
	}
	return Diff("demo", desired, actual)
}

func TestWritePlan(t *testing.T) {
	tests := []struct {
		name  string
		plan  Plan
		color bool
	}{
		{"plan.txt", planFixture(), false},
		{"plan-color.txt", planFixture(), true},
		{"plan-empty.txt", Plan{Lab: "demo"}, false},
		{"plan-cascade.txt", cascadePlan(), false},
		{"plan-cascade-color.txt", cascadePlan(), true},
		{"plan-linkstate.txt", linkStatePlan(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WritePlan(&b, tt.plan, tt.color); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name, b.Bytes())
		})
	}
}

func TestPlanJSON(t *testing.T) {
	p := planFixture()
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "plan.json", append(data, '\n'))
	var back Plan
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	p.Prior = nil // the observed state is for rollback, not for the file
	if diff := cmp.Diff(p, back); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}
}

// The plan of a fresh quickstart, as docs/language.md shows it.
func TestWritePlanQuickstart(t *testing.T) {
	lab, err := Build(loadFile(t, "../topologies/quickstart.ini"))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WritePlan(&b, Diff(lab.Name, lab.Resources(), nil), false); err != nil {
		t.Fatal(err)
	}
	golden(t, "plan-quickstart.txt", b.Bytes())
}
