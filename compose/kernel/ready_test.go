package kernel

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/labdir"
)

// TestWaitReady: after WaitReady every veth end of a fresh star has
// carrier as iproute2 sees it; an end whose peer was set down by hand has
// none, and WaitReady names it when its context ends instead of hanging.
func TestWaitReady(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	if _, err := converge(lab, star(20), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	down, err := WaitReady(ctx, lab, nil)
	if err != nil || len(down) != 0 {
		t.Fatalf("WaitReady = %v, %v; want every end up", down, err)
	}
	checkOperUp(t, lab, "hub", "l0", "l19")

	// The leaf's end set down: the hub's end stays admin up without carrier.
	ip(t, "-n", compose.NamespaceName(lab, "l3"), "link", "set", "eth0", "down")
	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	down, err = WaitReady(short, lab, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]compose.End{{Node: "hub", Ifname: "h3"}}, down); diff != "" {
		t.Errorf("ends without carrier (-want +got):\n%s", diff)
	}
}

// TestWaitReadyEnds: given ends, WaitReady looks at those only, and does
// not wait for ends that are gone, set down on purpose, or in namespaces
// the lab does not own. The hub's h0 and l0's eth0 both have ifindex 2,
// so the kernel delays their link events: they are what apply waited
// for a second for.
func TestWaitReadyEnds(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	p, err := converge(lab, star(12), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	made := vethEnds(p)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if down, err := WaitReady(ctx, lab, made); err != nil || len(down) != 0 {
		t.Fatalf("WaitReady(ends the plan made) = %v, %v; want every end up", down, err)
	}
	checkOperUp(t, lab, "hub", "l0", "l11")

	ip(t, "-n", compose.NamespaceName(lab, "l3"), "link", "set", "eth0", "down")
	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	ends := []compose.End{
		{Node: "hub", Ifname: "h3"},    // no carrier: its peer is down
		{Node: "l3", Ifname: "eth0"},   // down on purpose
		{Node: "hub", Ifname: "h5"},    // up
		{Node: "hub", Ifname: "h99"},   // no such link
		{Node: "nosuch", Ifname: "e0"}, // no such node
	}
	down, err := WaitReady(short, lab, ends)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]compose.End{{Node: "hub", Ifname: "h3"}}, down); diff != "" {
		t.Errorf("ends without carrier (-want +got):\n%s", diff)
	}
}

// checkOperUp checks with iproute2 that every veth in the nodes is UP.
func checkOperUp(t *testing.T, lab string, nodes ...string) {
	t.Helper()
	for _, node := range nodes {
		for _, l := range ipJSON(t, compose.NamespaceName(lab, node), "link", "show", "type", "veth") {
			if l["operstate"] != "UP" {
				t.Errorf("%s %v: operstate %v after WaitReady, want UP", node, l["ifname"], l["operstate"])
			}
		}
	}
}

// TestSessionFewNamespaceFiles: with room for only two namespace fds, a
// session still builds, observes and destroys a star: it creates veth
// peers into namespaces whose fds it has closed, by reopening them.
func TestSessionFewNamespaceFiles(t *testing.T) {
	requireRoot(t)
	defer func(n int) { nsKeep = n }(nsKeep)
	nsKeep = 2
	lab := newLab(t)
	desired := star(8)
	if _, err := converge(lab, desired, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	actual, err := Observe(context.Background(), lab, desired)
	if err != nil {
		t.Fatal(err)
	}
	if p := compose.Diff(lab, desired, actual); !p.Empty() {
		t.Fatalf("plan after apply: %v", planIDs(p))
	}
	for i := range 8 {
		leaf := fmt.Sprintf("l%d", i)
		l := ipJSON(t, compose.NamespaceName(lab, leaf), "link", "show", "dev", "eth0")
		if len(l) != 1 || l[0]["link_type"] != "ether" {
			t.Errorf("%s: eth0 = %v", leaf, l)
		}
	}
	if err := destroy(lab); err != nil {
		t.Fatal(err)
	}
	if left := namespaces(t, lab+"-"); len(left) > 0 {
		t.Errorf("namespaces left after destroy: %v", left)
	}
}

// TestApplyWaitsInItsSession: Apply given the ends to wait for returns
// with each of them up as iproute2 sees it (a dump, which, unlike the
// single-link requests of the wait, runs no pending link event), having
// waited in its own session.
func TestApplyWaitsInItsSession(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	p := planOf(t, lab, star(12))
	res, err := Apply(context.Background(), p, ApplyOptions{Ready: vethEnds(p), ReadyTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.ReadyErr != nil || len(res.NotReady) != 0 {
		t.Fatalf("Apply's wait: not ready %v, %v; want every end up", res.NotReady, res.ReadyErr)
	}
	checkOperUp(t, lab, "hub", "l0", "l11")
	// The record is written before Apply waits: there when it returns,
	// with the journal folded into it.
	if rec, err := loadRecord(lab); err != nil || len(rec.Nodes) != 13 {
		t.Errorf("record after Apply: %v, %v; want its 13 nodes", rec, err)
	}
	if _, err := os.Stat(labdir.MustFor(lab).Journal()); !os.IsNotExist(err) {
		t.Errorf("journal left after Apply: %v", err)
	}
}

// vethEnds lists the ends of the veths p creates or changes.
func vethEnds(p compose.Plan) []compose.End {
	var ends []compose.End
	for _, c := range p.Changes {
		if c.After != nil && c.After.Kind == compose.KindVeth {
			ends = append(ends, c.After.Ends()...)
		}
	}
	return ends
}
