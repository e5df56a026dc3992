package kernel

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netcompose/netcompose/compose"
)

// CheckLocal looks for a tunnel's local address in the namespace that
// would create the tunnel: the simulated machine's (--underlay-netns) or
// this process's own.
func TestCheckLocal(t *testing.T) {
	requireRoot(t)
	hosts, _ := simHosts(t, 2) // host i holds 192.0.2.i
	tunnel := func(node, local string) compose.Resource {
		return compose.Resource{Kind: compose.KindVxlan, Node: node, Name: "eth0",
			Attrs: map[string]string{"local": local, "underlay": "", "underlay.netns": "", "vni": "7"}}
	}
	overNode := tunnel("n3", "192.0.2.99")
	overNode.Attrs["underlay"], overNode.Attrs["underlay.netns"] = "e0", "u"

	for _, tc := range []struct {
		name     string
		desired  []compose.Resource
		netns    string
		wantBad  []string // node of each *LocalAddressError
		wantNone bool
	}{
		{name: "the host's own address is there", desired: []compose.Resource{tunnel("n1", "192.0.2.1")}, netns: hosts[0], wantNone: true},
		{name: "the other host's address is not", desired: []compose.Resource{tunnel("n1", "192.0.2.1"), tunnel("n2", "192.0.2.2")},
			netns: hosts[0], wantBad: []string{"n2"}},
		{name: "this machine lacks a test address", desired: []compose.Resource{tunnel("n1", "203.0.113.77")}, wantBad: []string{"n1"}},
		{name: "a tunnel over a node's underlay is not checked", desired: []compose.Resource{overNode}, netns: hosts[0], wantNone: true},
		{name: "no local address, nothing to check", desired: []compose.Resource{tunnel("n1", "")}, wantNone: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckLocal("lab@m1", tc.desired, tc.netns)
			if tc.wantNone {
				if err != nil {
					t.Fatalf("CheckLocal: %v, want nil", err)
				}
				return
			}
			var bad []string
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var le *LocalAddressError
				if !errors.As(e, &le) {
					t.Fatalf("error %v is not a *LocalAddressError", e)
				}
				if le.Netns != tc.netns || le.Lab != "lab@m1" {
					t.Errorf("error %+v: want netns %q, lab lab@m1", le, tc.netns)
				}
				bad = append(bad, le.Node)
			}
			if d := cmp.Diff(tc.wantBad, bad); d != "" {
				t.Errorf("devices refused (-want +got):\n%s", d)
			}
		})
	}

	if err := CheckLocal("lab@m1", []compose.Resource{tunnel("n1", "192.0.2.1")}, "nc-no-such-netns"); err == nil {
		t.Error("CheckLocal in a namespace that does not exist: no error")
	}
}
