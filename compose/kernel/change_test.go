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
		for _, c := range again.Changes {
			if c.Before != nil && c.After != nil {
				t.Logf("%s: %v -> %v", c.ID, c.Before.Attrs, c.After.Attrs)
			} else {
				t.Logf("%s %s cascade=%v", c.Action, c.ID, c.Cascade)
			}
		}
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

// vxlanView is the device as `ip -j -d link` and `bridge -j fdb` show it:
// default remote or group, local, underlay (link), and the all-zero FDB.
func vxlanView(t *testing.T, ns, dev string) string {
	t.Helper()
	l := ipJSON(t, ns, "link", "show", "dev", dev)[0]
	d := l["linkinfo"].(map[string]any)["info_data"].(map[string]any)
	s := func(k string) string { v, _ := d[k].(string); return v }
	link := ""
	if v, ok := d["link"]; ok {
		link = ftoa(v)
	}
	return "remote=" + s("remote") + " group=" + s("group") + " local=" + s("local") + " link=" + link +
		" fdb=" + strings.Join(zeroFDB(t, ns, dev), ",")
}

func TestVxlanChanges(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	nsU := compose.NamespaceName(lab, "u")
	base := `
[netns:u]
address.e0 = 10.5.0.1/24
[netns:v]
address.e0 = 10.5.0.2/24
[veth:u-v]
endpoints = u:e0 v:e0
[vxlan:vx0]
netns = u
vni = 100
%s
`
	steps := []struct{ name, keys, want string }{
		{"two remotes", "underlay = u:e0\nremote = 10.5.0.2 10.5.0.3",
			"remote= group= local=10.5.0.1 link=e0 fdb=10.5.0.2,10.5.0.3"},
		{"one remote", "underlay = u:e0\nremote = 10.5.0.2",
			"remote=10.5.0.2 group= local=10.5.0.1 link=e0 fdb=10.5.0.2"},
		{"no remote", "underlay = u:e0",
			"remote= group= local=10.5.0.1 link=e0 fdb="},
		{"group", "underlay = u:e0\ngroup = 239.1.1.1",
			"remote= group=239.1.1.1 local=10.5.0.1 link=e0 fdb=239.1.1.1"},
		{"group back to a remote", "underlay = u:e0\nremote = 10.5.0.2",
			"remote=10.5.0.2 group= local=10.5.0.1 link=e0 fdb=10.5.0.2"},
		{"underlay dropped, local kept", "local = 10.5.0.1\nremote = 10.5.0.2",
			"remote=10.5.0.2 group= local=10.5.0.1 link= fdb=10.5.0.2"},
		{"local dropped", "",
			"remote= group= local= link= fdb="},
	}
	for _, st := range steps {
		applyFile(t, lab, strings.Replace(base, "%s", st.keys, 1))
		if got := vxlanView(t, nsU, "vx0"); got != st.want {
			t.Errorf("%s: vxlan\n got %s\nwant %s", st.name, got, st.want)
		}
	}
}

// The kernel deletes a vxlan device with its underlay link, even across
// namespaces: replacing the underlay's veth must recreate the device.
func TestVxlanUnderlayReplaced(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	file := `
[netns:u]
address.e0 = 10.5.0.1/24
[netns:%s]
address.e0 = 10.5.0.2/24
[veth:u-peer]
endpoints = u:e0 %s:e0
[vxlan:vx0]
netns = u
underlay = u:e0
vni = 100
remote = 10.5.0.2
address = 10.6.0.1/24
`
	applyFile(t, lab, strings.ReplaceAll(file, "%s", "v"))
	applyFile(t, lab, strings.ReplaceAll(file, "%s", "w"))
	if got, want := vxlanView(t, compose.NamespaceName(lab, "u"), "vx0"), "remote=10.5.0.2 group= local=10.5.0.1 link=e0 fdb=10.5.0.2"; got != want {
		t.Errorf("vxlan after its underlay was replaced\n got %s\nwant %s", got, want)
	}
}

// withoutIndex drops the ifindex from kernelDump lines: a link deleted and
// recreated by a rollback comes back with a new one.
func withoutIndex(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		if a, rest, ok := strings.Cut(l, " idx "); ok {
			_, rest, _ = strings.Cut(rest, " ")
			l = a + " " + rest
		}
		out[i] = l
	}
	return out
}

// A failing apply leaves the kernel as it was, whatever the plan replaced,
// deleted or updated before the failing step. Each change ends with a
// sysctl the kernel does not have (validate cannot know it).
func TestRollbackOfReplacesAndDeletes(t *testing.T) {
	requireRoot(t)
	const failing = "\nsysctl.net.ipv4.no_such_key = 1\n"
	tests := []struct{ name, before, after string }{
		{"veth peer moved, with what lives on its ends", `
[netns:a]
address.e0 = 10.0.0.1/24 2001:db8::1/64
route = 198.51.100.0/24 via 10.0.0.2
sysctl.net.ipv4.conf.e0.arp_ignore = 2
[netns:b]
address.e0 = 10.0.0.2/24
[netns:c]
[veth:ab]
endpoints = a:e0 b:e0
[arp:a]
netns = a
neighbors = 10.0.0.9 02:00:00:00:00:09 dev e0
`, `
[netns:a]
address.e0 = 10.0.0.1/24 2001:db8::1/64
route = 198.51.100.0/24 via 10.0.0.2
sysctl.net.ipv4.conf.e0.arp_ignore = 2
[netns:b]
[netns:c]
address.e0 = 10.0.0.2/24` + failing + `
[veth:ab]
endpoints = a:e0 c:e0
[arp:a]
netns = a
neighbors = 10.0.0.9 02:00:00:00:00:09 dev e0
`},
		{"bridge removed, stp and mtu changed on another", `
[netns:s]
address.e9 = 10.0.0.1/24
[netns:p]
[veth:p1]
endpoints = s:p1 p:e0
[veth:p2]
endpoints = s:p2 p:e1
[veth:p3]
endpoints = s:e9 p:e9
[bridge:br1]
netns = s
ports = p1
address = 10.1.0.1/24
[bridge:br2]
netns = s
ports = p2
`, `
[netns:s]
address.e9 = 10.0.0.1/24
[netns:p]
address.e0 = 10.0.0.2/24` + failing + `
[veth:p1]
endpoints = s:p1 p:e0
[veth:p2]
endpoints = s:p2 p:e1
[veth:p3]
endpoints = s:e9 p:e9
[bridge:br2]
netns = s
ports = p2 p1
stp = on
mtu = 1400
`},
		{"node removed", `
[netns:a]
address.e0 = 10.0.0.1/24
forwarding = on
[netns:b]
address.e0 = 10.0.0.2/24
route = 198.51.100.0/24 via 10.0.0.1
forwarding = on
[veth:ab]
endpoints = a:e0 b:e0
`, `
[netns:a]
address.e0 = 10.0.0.1/24
forwarding = on` + failing + `
[netns:c]
[veth:ac]
endpoints = a:e0 c:e0
`},
		{"vxlan whose underlay is replaced", `
[netns:u]
address.e0 = 10.5.0.1/24
[netns:v]
address.e0 = 10.5.0.2/24
[netns:x]
[veth:uv]
endpoints = u:e0 v:e0
[vxlan:vx0]
netns = x
underlay = u:e0
vni = 100
remote = 10.5.0.2 10.5.0.3
address = 10.6.0.1/24
`, `
[netns:u]
address.e0 = 10.5.0.1/24` + failing + `
[netns:v]
[netns:w]
address.e0 = 10.5.0.2/24
[netns:x]
[veth:uv]
endpoints = u:e0 w:e0
[vxlan:vx0]
netns = x
underlay = u:e0
vni = 100
remote = 10.5.0.2 10.5.0.3
address = 10.6.0.1/24
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lab := newLab(t)
			applyFile(t, lab, tt.before)
			before := withoutIndex(kernelDump(t, lab))
			fdbBefore := fdbDump(t, lab)
			_, err := converge(lab, lowered(t, tt.after), ApplyOptions{})
			if !isApplyError(err) {
				t.Fatalf("apply: %v, want an *ApplyError", err)
			}
			if d := cmp.Diff(before, withoutIndex(kernelDump(t, lab))); d != "" {
				t.Errorf("kernel after rollback (-before +after):\n%s", d)
			}
			if d := cmp.Diff(fdbBefore, fdbDump(t, lab)); d != "" {
				t.Errorf("vxlan fdb after rollback (-before +after):\n%s", d)
			}
			// And the lab converges from there, to the change without its
			// failing route and back.
			applyFile(t, lab, tt.before)
			applyFile(t, lab, strings.Replace(tt.after, failing, "\n", 1))
			applyFile(t, lab, tt.before)
		})
	}
}

// fdbDump is the all-zero FDB entries of every vxlan device of the lab,
// and the devices' remotes, by iproute2.
func fdbDump(t *testing.T, lab string) []string {
	t.Helper()
	var out []string
	for _, ns := range namespaces(t, lab+"-") {
		for _, l := range ipJSON(t, ns, "link", "show", "type", "vxlan") {
			dev := l["ifname"].(string)
			out = append(out, ns+" "+dev+" "+vxlanView(t, ns, dev))
		}
	}
	return out
}

// Lab "L" node "b-x" and lab "L-b" node "x" share the namespace name
// "L-b-x". Once L's namespace is gone (deleted by hand) and L-b made its
// own, L's state record still names node b-x: L must not take L-b's
// namespace for its own, nor delete it.
func TestPrefixLabsShareNoNamespace(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	other := lab + "-b"
	t.Cleanup(func() {
		if err := destroy(other); err != nil {
			t.Errorf("cleanup: destroy %s: %v", other, err)
		}
	})
	shared := compose.NamespaceName(lab, "b-x")
	if shared != compose.NamespaceName(other, "x") {
		t.Fatalf("test premise: %s is not lab %s's node x", shared, other)
	}
	mine := []compose.Resource{res(compose.KindNetns, "b-x", ""), res(compose.KindNetns, "y", "")}
	if _, err := converge(lab, mine, ApplyOptions{}); err != nil {
		t.Fatalf("apply %s: %v", lab, err)
	}
	ip(t, "netns", "del", shared)

	theirs := []compose.Resource{res(compose.KindNetns, "x", ""), res(compose.KindNetns, "z", ""),
		veth("x-z", "x", "e0", "z", "e0", "1500")}
	if _, err := converge(other, theirs, ApplyOptions{}); err != nil {
		t.Fatalf("apply %s: %v", other, err)
	}
	before := kernelDump(t, other)

	// Lab L sees only y; applying it again, then destroying it, leaves
	// L-b's namespace alone.
	actual, err := Observe(context.Background(), lab, mine)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range actual {
		if r.Node == "b-x" {
			t.Errorf("lab %s observes %s in %s's namespace %s", lab, r.ID(), other, shared)
		}
	}
	if _, err := converge(lab, mine, ApplyOptions{}); err == nil {
		t.Errorf("apply %s with node b-x: no error, want a *ForeignError for %s", lab, shared)
	}
	if err := destroy(lab); err != nil {
		t.Fatalf("destroy %s: %v", lab, err)
	}
	if d := cmp.Diff(before, kernelDump(t, other)); d != "" {
		t.Errorf("lab %s after %s was destroyed (-before +after):\n%s", other, lab, d)
	}
}

// Every key written in a form other than the kernel's own still applies
// once: a second apply of the file plans nothing.
func TestNormalFormsApplyOnce(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	applyFile(t, lab, `
[DEFAULT]
mtu = 9000
[netns:a]
address.e0 = 10.0.0.1/24 2001:DB8:0:0:0:0:0:1/64 ::ffff:10.9.0.1/24
address.lo = 192.0.2.1/32
address.br0 = 10.1.0.1/24
route = default via 2001:db8:0::2
        10.20.0.0/16 via 10.0.0.2
        198.51.100.7 dev e0
        2001:DB8:5::/48 dev e0
forwarding = yes
sysctl.net.ipv4.ip_local_port_range = 20000    30000
sysctl.net.ipv4.conf.e0.rp_filter = 2
sysctl.net.ipv6.conf.e0.accept_ra = off
[netns:b]
address.e0 = 10.0.0.2/24 2001:db8::2/64
address.vx0 = 10.2.0.2/24
[veth:ab]
endpoints = a:e0 b:e0
[veth:ap]
endpoints = a:p0 b:p0
set mtu = 1400
[bridge:br0]
netns = a
ports = p0
stp = on
[vxlan:vx0]
netns = b
underlay = b:e0
vni = 4242
remote = 10.0.0.1
port = 8472
learning = off
ttl = 64
tos = 16
set mtu = 8950
[arp:a]
netns = a
interfaces = e0
ignore = 1
announce = 2
proxy = true
neighbors = 10.0.0.9 02:AB:CD:EF:00:09 dev e0
            2001:db8:0::9 lladdr 02-ab-cd-ef-00-0a dev e0
`)
}

// Sysctls dropped from the file get their original value back; a per-
// interface key goes with its interface, and the record forgets both.
func TestSysctlRemoved(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	nsA := compose.NamespaceName(lab, "a")
	applyFile(t, lab, `
[netns:a]
forwarding = on
sysctl.net.ipv4.conf.e0.arp_ignore = 2
sysctl.net.ipv4.conf.all.rp_filter = 2
[netns:b]
[veth:ab]
endpoints = a:e0 b:e0
`)
	for k, want := range map[string]string{"net.ipv4.ip_forward": "1", "net.ipv6.conf.all.forwarding": "1",
		"net.ipv4.conf.e0.arp_ignore": "2", "net.ipv4.conf.all.rp_filter": "2"} {
		if got := sysctl(t, nsA, k); got != want {
			t.Errorf("%s = %s, want %s", k, got, want)
		}
	}
	applyFile(t, lab, "[netns:a]\nforwarding = off\n[netns:b]\n")
	if got := sysctl(t, nsA, "net.ipv4.ip_forward"); got != "0" {
		t.Errorf("forwarding off: ip_forward = %s", got)
	}
	applyFile(t, lab, "[netns:a]\n[netns:b]\n")
	for k, want := range map[string]string{"net.ipv4.ip_forward": "0", "net.ipv6.conf.all.forwarding": "0",
		"net.ipv4.conf.all.rp_filter": "0"} {
		if got := sysctl(t, nsA, k); got != want {
			t.Errorf("after removal %s = %s, want the original %s", k, got, want)
		}
	}
	rec, err := loadRecord(lab)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Sysctls) != 0 {
		t.Errorf("record still holds sysctls: %v", rec.Sysctls)
	}
}
