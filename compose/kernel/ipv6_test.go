package kernel

import (
	"context"
	"testing"

	"github.com/netcompose/netcompose/compose"
)

// TestIPv6Off: a node's net.ipv6.conf.all.disable_ipv6 = 1 (what
// ipv6 = off lowers to) is set before the node's links are made, and the
// links come up without IPv6, as iproute2 sees it; dropping it from the
// file restores the kernel's default, and IPv6 comes back on the links.
func TestIPv6Off(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	off := res(compose.KindSysctl, "hub", "net.ipv6.conf.all.disable_ipv6", "value", "1")
	// A sysctl of one interface still waits for it (the node's go first).
	neigh := res(compose.KindSysctl, "hub", "net.ipv4.neigh.h0.base_reachable_time_ms", "value", "12000")
	desired := append(star(3), off, neigh)
	compose.Sort(desired)
	if _, err := converge(lab, desired, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	hub := compose.NamespaceName(lab, "hub")
	if got := ipJSON(t, hub, "-6", "addr", "show"); len(got) != 0 {
		t.Errorf("IPv6 addresses in the hub with ipv6 = off: %v", got)
	}
	if got := sysctl(t, hub, "net.ipv4.neigh.h0.base_reachable_time_ms"); got != "12000" {
		t.Errorf("neigh.h0.base_reachable_time_ms = %s, want 12000", got)
	}
	if got := sysctl(t, hub, "net.ipv6.conf.default.disable_ipv6"); got != "1" {
		t.Errorf("default.disable_ipv6 = %s, want 1", got)
	}
	if got := sysctl(t, compose.NamespaceName(lab, "l0"), "net.ipv6.conf.all.disable_ipv6"); got != "0" {
		t.Errorf("a leaf without the key: all.disable_ipv6 = %s, want 0", got)
	}
	actual, err := Observe(context.Background(), lab, desired)
	if err != nil {
		t.Fatal(err)
	}
	if p := compose.Diff(lab, desired, actual); !p.Empty() {
		t.Fatalf("plan after apply: %v", planIDs(p))
	}

	if _, err := converge(lab, star(3), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := sysctl(t, hub, "net.ipv6.conf.all.disable_ipv6"); got != "0" {
		t.Errorf("after dropping ipv6 = off: all.disable_ipv6 = %s, want 0", got)
	}
	found := false
	for _, a := range ipJSON(t, hub, "-6", "addr", "show", "dev", "h0") {
		for _, ai := range a["addr_info"].([]any) {
			found = found || ai.(map[string]any)["scope"] == "link"
		}
	}
	if !found {
		t.Error("after dropping ipv6 = off: no IPv6 link-local address on h0")
	}
}
