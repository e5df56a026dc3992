package kernel

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/netcompose/netcompose/compose"
)

// macLab: a veth a:eth0 <-> b:eth0 with a's end given a MAC, a bridge in
// b with its own, a vxlan device in b and a veth end (b:p0) that take the
// derived one.
const macLab = `
[DEFAULT]
lab = macs
[netns:a]
mac.eth0 = 02:00:00:00:0a:01
[netns:b]
[veth:a-b]
endpoints = a:eth0 b:eth0
[veth:p]
endpoints = a:p0 b:p0
[bridge:br0]
netns = b
ports = p0
mac = 02:00:00:00:0b:00
[vxlan:vx0]
netns = b
vni = 42
local = 198.51.100.1
`

// Links get their MACs in one apply, also those of a lab applied before
// links had fixed MACs; they keep them across applies, and a MAC changed
// by hand (or in the file) is set back in place: the same ifindex, no
// replace. Checked with ip -j link.
func TestLinkMACs(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	ns := func(node string) string { return compose.NamespaceName(lab, node) }
	want := map[[2]string]string{
		{"a", "eth0"}: "02:00:00:00:0a:01",
		{"a", "p0"}:   compose.DerivedMAC("macs", "a", "p0"),
		{"b", "eth0"}: compose.DerivedMAC("macs", "b", "eth0"),
		{"b", "p0"}:   compose.DerivedMAC("macs", "b", "p0"),
		{"b", "br0"}:  "02:00:00:00:0b:00",
		{"b", "vx0"}:  compose.DerivedMAC("macs", "b", "vx0"),
	}
	link := func(node, ifname string) map[string]any {
		t.Helper()
		return ipJSON(t, ns(node), "link", "show", "dev", ifname)[0]
	}
	check := func(when string, want map[[2]string]string) {
		t.Helper()
		for e, mac := range want {
			if got := link(e[0], e[1])["address"]; got != mac {
				t.Errorf("%s: %s:%s has MAC %v, want %s", when, e[0], e[1], got, mac)
			}
		}
	}
	// A lab applied before links had fixed MACs: the kernel chose them.
	// One apply sets them, in place; the next finds nothing to do.
	var old []compose.Resource
	for _, r := range lowered(t, macLab) {
		r.Attrs = maps.Clone(r.Attrs)
		delete(r.Attrs, "mac")
		delete(r.Attrs, "a.mac")
		delete(r.Attrs, "b.mac")
		old = append(old, r)
	}
	if _, err := converge(lab, old, ApplyOptions{}); err != nil {
		t.Fatalf("apply without MACs: %v", err)
	}
	p := applyFile(t, lab, macLab)
	wantPlan := []string{"update bridge/b/br0", "update veth//a-b", "update veth//p", "update vxlan/b/vx0"}
	if d := cmp.Diff(wantPlan, planIDs(p)); d != "" {
		t.Fatalf("plan of a lab applied without MACs (-want +got):\n%s", d)
	}
	check("after apply", want)

	// A bridge whose port comes and goes keeps the MAC it was given
	// instead of taking its ports' smallest.
	ip(t, "-n", ns("b"), "link", "set", "dev", "p0", "nomaster")
	ip(t, "-n", ns("b"), "link", "set", "dev", "p0", "master", "br0")
	check("after a port left and came back", want)

	index := map[[2]string]any{}
	for e := range want {
		index[e] = link(e[0], e[1])["ifindex"]
	}
	for _, e := range [][2]string{{"a", "eth0"}, {"b", "p0"}, {"b", "br0"}, {"b", "vx0"}} {
		ip(t, "-n", ns(e[0]), "link", "set", "dev", e[1], "address", "02:00:00:00:ee:ee")
	}
	actual, err := Observe(context.Background(), lab, lowered(t, macLab))
	if err != nil {
		t.Fatal(err)
	}
	p = compose.Diff(lab, lowered(t, macLab), actual)
	if d := cmp.Diff(wantPlan, planIDs(p)); d != "" {
		t.Fatalf("plan after MACs changed by hand (-want +got):\n%s", d)
	}
	applyFile(t, lab, macLab)
	check("after repair", want)
	for e, i := range index {
		if got := link(e[0], e[1])["ifindex"]; got != i {
			t.Errorf("%s:%s: ifindex %v, was %v: changing its MAC recreated it", e[0], e[1], got, i)
		}
	}

	// A new MAC in the file is an update in place too.
	changed := strings.Replace(macLab, "[netns:b]\n", "[netns:b]\nmac.eth0 = 02:00:00:00:0b:01\n", 1)
	p = applyFile(t, lab, changed)
	if d := cmp.Diff([]string{"update veth//a-b"}, planIDs(p)); d != "" {
		t.Errorf("plan of a MAC given in the file (-want +got):\n%s", d)
	}
	want[[2]string{"b", "eth0"}] = "02:00:00:00:0b:01"
	check("after the file changed", want)

	// Created afresh, every link has its MAC from the start.
	if err := destroy(lab); err != nil {
		t.Fatal(err)
	}
	applyFile(t, lab, changed)
	check("after a fresh apply", want)
}
