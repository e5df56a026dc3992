package kernel

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/netcompose/netcompose/compose"
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
	for _, node := range []string{"hub", "l0", "l19"} {
		for _, l := range ipJSON(t, compose.NamespaceName(lab, node), "link", "show", "type", "veth") {
			if l["operstate"] != "UP" {
				t.Errorf("%s %v: operstate %v after WaitReady, want UP", node, l["ifname"], l["operstate"])
			}
		}
	}

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
