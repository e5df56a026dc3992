package kernel

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/loader"
)

// lowered builds a lab from INI text and lowers it, as apply does.
func lowered(t *testing.T, ini string) []compose.Resource {
	t.Helper()
	f, err := loader.Parse("lab.ini", []byte(ini))
	if err != nil {
		t.Fatal(err)
	}
	l, err := compose.Build(f)
	if err != nil {
		t.Fatal(err)
	}
	return l.Resources()
}

// applyFile converges lab to the INI text and checks that a second
// observe plans nothing.
func applyFile(t *testing.T, lab, ini string) compose.Plan {
	t.Helper()
	desired := lowered(t, ini)
	p, err := converge(lab, desired, ApplyOptions{})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	actual, err := Observe(context.Background(), lab, desired)
	if err != nil {
		t.Fatalf("observe: %v", err)
	}
	if again := compose.Diff(lab, desired, actual); !again.Empty() {
		t.Fatalf("second apply not empty: %v", planIDs(again))
	}
	return p
}

// routeView is `ip -j route` of a namespace as "DST via GW dev DEV" lines,
// routes of netcompose's protocol only.
func routeView(t *testing.T, ns string, family string) []string {
	t.Helper()
	var out []string
	for _, r := range ipJSON(t, ns, family, "route", "show", "proto", itoa(RouteProtocol)) {
		gw, _ := r["gateway"].(string)
		dev, _ := r["dev"].(string)
		out = append(out, strings.TrimSpace(r["dst"].(string)+" via "+gw+" dev "+dev))
	}
	return out
}

func TestRouteChanges(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	nsA := compose.NamespaceName(lab, "a")
	base := `
[netns:a]
address.eth0 = 10.0.0.1/24 2001:db8::1/64
address.eth1 = 10.1.0.1/24 2001:db8:1::1/64
%s
[netns:b]
address.eth0 = 10.0.0.2/24 2001:db8::2/64
[netns:c]
address.eth0 = 10.1.0.2/24 2001:db8:1::2/64
[veth:a-b]
endpoints = a:eth0 b:eth0
[veth:a-c]
endpoints = a:eth1 c:eth0
`
	steps := []struct {
		name, routes string
		want4, want6 []string
	}{
		{"gateway routes",
			"route = 198.51.100.0/24 via 10.0.0.2\n  default via 2001:db8::2\n  2001:db8:9::/48 via 2001:db8::2",
			[]string{"198.51.100.0/24 via 10.0.0.2 dev eth0"},
			[]string{"2001:db8:9::/48 via 2001:db8::2 dev eth0", "default via 2001:db8::2 dev eth0"}},
		{"via changed, dev follows",
			"route = 198.51.100.0/24 via 10.1.0.2\n  default via 2001:db8:1::2\n  2001:db8:9::/48 via 2001:db8:1::2",
			[]string{"198.51.100.0/24 via 10.1.0.2 dev eth1"},
			[]string{"2001:db8:9::/48 via 2001:db8:1::2 dev eth1", "default via 2001:db8:1::2 dev eth1"}},
		{"via removed: on-link",
			"route = 198.51.100.0/24 dev eth1\n  2001:db8:9::/48 dev eth1",
			[]string{"198.51.100.0/24 via  dev eth1"},
			[]string{"2001:db8:9::/48 via  dev eth1"}},
		{"dev changed",
			"route = 198.51.100.0/24 dev eth0\n  2001:db8:9::/48 dev eth0",
			[]string{"198.51.100.0/24 via  dev eth0"},
			[]string{"2001:db8:9::/48 via  dev eth0"}},
		{"via added back",
			"route = 198.51.100.0/24 via 10.0.0.2 dev eth0\n  2001:db8:9::/48 via 2001:db8::2 dev eth0",
			[]string{"198.51.100.0/24 via 10.0.0.2 dev eth0"},
			[]string{"2001:db8:9::/48 via 2001:db8::2 dev eth0"}},
		{"routes removed", "", nil, nil},
	}
	for _, st := range steps {
		applyFile(t, lab, strings.Replace(base, "%s", st.routes, 1))
		if d := cmp.Diff(st.want4, routeView(t, nsA, "-4")); d != "" {
			t.Errorf("%s: ipv4 routes (-want +got):\n%s", st.name, d)
		}
		if d := cmp.Diff(st.want6, routeView(t, nsA, "-6")); d != "" {
			t.Errorf("%s: ipv6 routes (-want +got):\n%s", st.name, d)
		}
	}
}
