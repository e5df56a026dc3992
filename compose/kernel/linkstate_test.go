package kernel

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/netcompose/netcompose/compose"
)

// linkStateLab: a veth a:eth0 <-> sw:p0 whose sw end is a port of br0, and
// a vxlan device vx0 in sw on the underlay veth a:u0 <-> sw:u0, also on
// br0. No address, route or neighbour lives on the links the tests set
// down, so that nothing but their state drifts.
const linkStateLab = `
[netns:a]
address.u0 = 10.5.0.2/24
[netns:sw]
address.u0 = 10.5.0.1/24
[veth:a-sw]
endpoints = a:eth0 sw:p0
[veth:under]
endpoints = a:u0 sw:u0
[bridge:br0]
netns = sw
ports = p0
[vxlan:vx0]
netns = sw
underlay = sw:u0
vni = 100
remote = 10.5.0.2
bridge = br0
`

// linkUp reports whether `ip -j` shows dev in ns administratively up: the
// independent eye on IFF_UP.
func linkUp(t *testing.T, ns, dev string) bool {
	t.Helper()
	l := ipJSON(t, ns, "link", "show", "dev", dev)
	if len(l) != 1 {
		t.Fatalf("ip link show dev %s in %s: %d links", dev, ns, len(l))
	}
	flags, _ := l[0]["flags"].([]any)
	return slices.Contains(flags, any("UP"))
}

// downs are the links the tests set down by hand: node, ifname.
var downs = [][2]string{{"a", "eth0"}, {"sw", "br0"}, {"sw", "vx0"}}

// setDown sets every link of downs down with ip, as an operator would.
func setDown(t *testing.T, lab string) {
	t.Helper()
	for _, d := range downs {
		ns := compose.NamespaceName(lab, d[0])
		ip(t, "-n", ns, "link", "set", d[1], "down")
		if linkUp(t, ns, d[1]) {
			t.Fatalf("%s %s: still up after ip link set down", ns, d[1])
		}
	}
}

func TestLinkSetDownIsRepaired(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	desired := lowered(t, linkStateLab)
	applyFile(t, lab, linkStateLab)
	for _, l := range [][2]string{{"a", "eth0"}, {"sw", "p0"}, {"a", "u0"}, {"sw", "u0"}, {"sw", "br0"}, {"sw", "vx0"}} {
		if !linkUp(t, compose.NamespaceName(lab, l[0]), l[1]) {
			t.Errorf("%s %s: down after a fresh apply", l[0], l[1])
		}
	}

	setDown(t, lab)
	actual, err := Observe(context.Background(), lab, desired)
	if err != nil {
		t.Fatal(err)
	}
	p := compose.Diff(lab, desired, actual)
	want := []string{"update bridge/sw/br0", "update veth//a-sw", "update vxlan/sw/vx0"}
	if d := cmp.Diff(want, planIDs(p)); d != "" {
		t.Fatalf("plan after links set down (-want +got):\n%s", d)
	}
	var b bytes.Buffer
	if err := compose.WritePlan(&b, p, false); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"~ veth a-sw  up: a:eth0 down → up\n",
		"~ bridge sw br0  up: down → up\n",
		"~ vxlan sw vx0  up: down → up\n",
	} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("plan text lacks %q:\n%s", line, b.String())
		}
	}

	if _, err := Apply(context.Background(), p, ApplyOptions{}); err != nil {
		t.Fatalf("apply: %v", err)
	}
	for _, d := range downs {
		if !linkUp(t, compose.NamespaceName(lab, d[0]), d[1]) {
			t.Errorf("%s %s: still down after apply", d[0], d[1])
		}
	}
	actual, err = Observe(context.Background(), lab, desired)
	if err != nil {
		t.Fatal(err)
	}
	if again := compose.Diff(lab, desired, actual); !again.Empty() {
		t.Errorf("re-plan after repair not empty: %v", planIDs(again))
	}
}

// A failed apply undoes the repair: the links set down by hand are down
// again, as they were.
func TestLinkSetDownRollback(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	applyFile(t, lab, linkStateLab)
	setDown(t, lab)

	desired := append(lowered(t, linkStateLab), res(compose.KindSysctl, "sw", "net.ipv4.no_such_key", "value", "1"))
	compose.Sort(desired)
	p, err := converge(lab, desired, ApplyOptions{})
	if !isApplyError(err) {
		t.Fatalf("apply: %v, want an *ApplyError", err)
	}
	if want := []string{"create sysctl/sw/net.ipv4.no_such_key", "update bridge/sw/br0", "update veth//a-sw", "update vxlan/sw/vx0"}; !cmp.Equal(want, planIDs(p)) {
		t.Fatalf("plan: %v, want %v", planIDs(p), want)
	}
	for _, d := range downs {
		if linkUp(t, compose.NamespaceName(lab, d[0]), d[1]) {
			t.Errorf("%s %s: up after the rollback, was down", d[0], d[1])
		}
	}
	// The other end of the veth was up and stays so.
	if !linkUp(t, compose.NamespaceName(lab, "sw"), "p0") {
		t.Errorf("sw p0: down after the rollback, was up")
	}
}
