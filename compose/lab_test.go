package compose

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/netcompose/netcompose/loader"
	"github.com/netcompose/netcompose/loader/loadertest"
)

func build(t *testing.T, text string) (*Lab, error) {
	t.Helper()
	f, err := loader.Parse("/labs/lab.ini", []byte(text))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return Build(f)
}

// wantBuildErrors builds text and wants exactly the errors want, in
// order, each a *loader.Error whose text (after the file's name) starts
// with its want: "LINE: [SECTION]: ...".
func wantBuildErrors(t *testing.T, text string, want []string) {
	t.Helper()
	_, err := build(t, text)
	loadertest.WantErrors(t, err, "/labs/lab.ini", want)
}

// ofKind is the resources among rs of one of kinds, in their order.
func ofKind(rs []Resource, kinds ...Kind) []Resource {
	var out []Resource
	for _, r := range rs {
		if slices.Contains(kinds, r.Kind) {
			out = append(out, r)
		}
	}
	return out
}

// texts is each resource's Text, as a plan shows it.
func texts(rs []Resource) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Text())
	}
	return out
}

func TestLabName(t *testing.T) {
	lab, err := build(t, "[netns:a]\n")
	if err != nil {
		t.Fatal(err)
	}
	if lab.Name != "lab" {
		t.Errorf("name from file stem = %q, want lab", lab.Name)
	}
	lab, err = build(t, "[DEFAULT]\nlab = demo\n[netns:a]\n")
	if err != nil {
		t.Fatal(err)
	}
	if lab.Name != "demo" || lab.Namespace("a") != "demo-a" {
		t.Errorf("name = %q, namespace %q", lab.Name, lab.Namespace("a"))
	}
}

// Each bad input yields exactly the listed errors, each at its line.
func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string // "line: message fragment"
	}{
		{"unknown key with suggestion", `
[netns:a]
[netns:b]
[veth:a-b]
endpoints = a:eth0 b:eth0
mtuu = 9000
`, []string{`6: [veth:a-b]: unknown key "mtuu" (did you mean "mtu"?)`}},
		{"unsafe node name", `
[netns:A/b]
`, []string{`2: [netns:A/b]: node name: "A/b" is not a safe name`}},
		{"unsafe lab name", `
[DEFAULT]
lab = ..
[netns:a]
`, []string{`3: [DEFAULT]: lab name: ".." is not a safe name`}},
		{"veth endpoint to unknown node", `
[netns:alpha]
[veth:x]
endpoints = alpha:eth0 alpah:eth0
`, []string{`4: [veth:x]: endpoints: no [netns:alpah] in this lab (did you mean "alpha"?)`}},
		{"interface name too long", `
[netns:a]
[netns:b]
[veth:x]
endpoints = a:averyveryverylongname b:eth0
`, []string{`5: [veth:x]: endpoints: endpoint "a:averyveryverylongname": interface name "averyveryverylongname" is longer than 15 bytes`}},
		{"interface created twice", `
[netns:a]
[netns:b]
[netns:c]
[veth:ab]
endpoints = a:eth0 b:eth0
[veth:ac]
endpoints = a:eth0 c:eth0
`, []string{`8: [veth:ac]: endpoints: interface eth0 in node a is already created by [veth:ab] at line 5`}},
		{"bad cidr and address on missing interface", `
[netns:a]
address.eth0 = 10.0.0.1
address.eth9 = 10.0.0.2/24
`, []string{
			`3: [netns:a]: address.eth0: "10.0.0.1" is not an address with a prefix length`,
			`4: [netns:a]: address.eth9: node a has no interface "eth9" (it has lo)`,
		}},
		{"sysctl outside net", `
[netns:a]
sysctl.kernel.panic = 1
`, []string{`3: [netns:a]: sysctl.kernel.panic: only net.* sysctls are allowed inside a namespace`}},
		{"vni out of range", `
[netns:a]
[vxlan:vx]
netns = a
vni = 16777216
`, []string{`5: [vxlan:vx]: vni: "16777216" is not a number in 1..16777215`}},
		{"arp values out of range", `
[netns:a]
[arp:x]
netns = a
ignore = 9
announce = 3
`, []string{
			`5: [arp:x]: ignore: "9" is not a number in 0..8`,
			`6: [arp:x]: announce: "3" is not a number in 0..2`,
		}},
		{"bad mac in neighbors", `
[netns:a]
[arp:x]
netns = a
neighbors = 10.0.0.9 zz:00:00:00:00:01 dev lo
`, []string{`5: [arp:x]: neighbors "10.0.0.9 zz:00:00:00:00:01 dev lo": "zz:00:00:00:00:01" is not a MAC address`}},
		{"bridge port missing", `
[netns:sw]
[bridge:br0]
netns = sw
ports = p1
`, []string{`5: [bridge:br0]: ports: node sw has no interface "p1"`}},
		{"bridge in bridge", `
[netns:sw]
[bridge:br0]
netns = sw
ports = br1
[bridge:br1]
netns = sw
`, []string{`5: [bridge:br0]: ports: br1 is a bridge, and the kernel does not put a bridge in a bridge`}},
		{"pipeline cycle", `
[filter:log]
use = builtin:log
[pipeline:p1]
pipeline = log p2
[pipeline:p2]
pipeline = p1
`, []string{`5: [pipeline:p1]: cycle: [pipeline:p1] -> [pipeline:p2] -> [pipeline:p1]`}},
		{"nfqueue queue range and missing pipeline", `
[netns:fw]
[nfqueue:q]
netns = fw
queue = 9-3
pipeline = nothing
`, []string{
			`5: [nfqueue:q]: queue: "9-3" is not a queue number 0-65535 or a range a-b`,
			`6: [nfqueue:q]: pipeline: no [pipeline:nothing] or [filter:nothing] in this lab`,
		}},
		{"check from unknown node and tcp without port", `
[netns:a]
[check:c]
from = b
to = 10.0.0.1
protocol = tcp
`, []string{
			`4: [check:c]: from: no [netns:b] in this lab`,
			`5: [check:c]: to: tcp checks need a port (10.0.0.1:PORT)`,
		}},
		{"forwarding conflicts with explicit sysctl", `
[netns:a]
sysctl.net.ipv4.ip_forward = 0
forwarding = on
`, []string{`4: [netns:a]: forwarding: sets net.ipv4.ip_forward = 1, but [netns:a] line 3 sets it to 0`}},
		{"service without builtin or command", `
[netns:a]
[service:s]
netns = a
`, []string{`3: [service:s]: want use = builtin:KIND`}},
		{"route gateway not an ip", `
[netns:a]
route = default via tenone
`, []string{`3: [netns:a]: route "default via tenone": gateway "tenone" is not an IP address`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantBuildErrors(t, tt.text, tt.want)
		})
	}
}

func TestResources(t *testing.T) {
	lab, err := build(t, `
[DEFAULT]
lab = t
[netns:r1]
address.eth0 = 10.0.0.1/24 2001:DB8::1/64
mac.eth0 = 02:00:00:00:01:01
route = default via 10.0.0.2
        198.51.100.0/24 via 10.0.0.9 dev eth0
        2001:db8:1::/48 via 2001:db8::2
forwarding = on
sysctl.net.ipv4.conf.all.rp_filter = off
[netns:r2]
address.eth0 = 10.0.0.2/24
[netns:sw]
[veth:r1-r2]
endpoints = r1:eth0 r2:eth0
mtu = 9000
[veth:up]
endpoints = r1:eth1 sw:up
[bridge:br0]
netns = sw
ports = up
address = 192.0.2.1/24
stp = on
mac = 02:00:00:00:0B:00
[vxlan:vx]
netns = sw
vni = 7
local = 192.0.2.1
remote = 192.0.2.5 192.0.2.6
bridge = br0
[arp:p]
netns = r2
interfaces = eth0
proxy = on
neighbors = 10.0.0.9 02:AA:00:00:00:01 dev eth0
            10.0.0.1 r1:eth0 dev eth0
`)
	if err != nil {
		t.Fatal(err)
	}
	type m = map[string]string
	want := []Resource{
		{Kind: KindNetns, Node: "r1", Attrs: map[string]string{"lo.up": "true"}},
		{Kind: KindNetns, Node: "r2", Attrs: map[string]string{"lo.up": "true"}},
		{Kind: KindNetns, Node: "sw", Attrs: map[string]string{"lo.up": "true"}},
		{Kind: KindVeth, Name: "r1-r2", Attrs: m{"a.node": "r1", "a.ifname": "eth0", "a.up": "true", "a.mac": "02:00:00:00:01:01",
			"b.node": "r2", "b.ifname": "eth0", "b.up": "true", "b.mac": DerivedMAC("t", "r2", "eth0"), "mtu": "9000"}},
		{Kind: KindVeth, Name: "up", Attrs: m{"a.node": "r1", "a.ifname": "eth1", "a.up": "true", "a.mac": DerivedMAC("t", "r1", "eth1"),
			"b.node": "sw", "b.ifname": "up", "b.up": "true", "b.mac": DerivedMAC("t", "sw", "up"), "mtu": "1500"}},
		{Kind: KindBridge, Node: "sw", Name: "br0", Attrs: m{"mtu": "1500", "stp": "on", "up": "true", "mac": "02:00:00:00:0b:00", "vlan_filtering": "off"}},
		{Kind: KindVxlan, Node: "sw", Name: "vx", Attrs: m{"vni": "7", "local": "192.0.2.1", "port": "4789", "learning": "on", "ttl": "0", "tos": "0", "mtu": "1450", "remote": "", "group": "", "underlay": "", "underlay.netns": "", "up": "true",
			"mac": DerivedMAC("t", "sw", "vx")}},
		{Kind: KindMaster, Node: "sw", Name: "up", Attrs: m{"bridge": "br0"}},
		{Kind: KindMaster, Node: "sw", Name: "vx", Attrs: m{"bridge": "br0"}},
		{Kind: KindAddr, Node: "r1", Name: "eth0/10.0.0.1/24"},
		{Kind: KindAddr, Node: "r1", Name: "eth0/2001:db8::1/64"},
		{Kind: KindAddr, Node: "r2", Name: "eth0/10.0.0.2/24"},
		{Kind: KindAddr, Node: "sw", Name: "br0/192.0.2.1/24"},
		{Kind: KindSysctl, Node: "r1", Name: "net.ipv4.conf.all.rp_filter", Attrs: m{"value": "0"}},
		{Kind: KindSysctl, Node: "r1", Name: "net.ipv4.ip_forward", Attrs: m{"value": "1"}},
		{Kind: KindSysctl, Node: "r1", Name: "net.ipv6.conf.all.forwarding", Attrs: m{"value": "1"}},
		{Kind: KindSysctl, Node: "r2", Name: "net.ipv4.conf.eth0.proxy_arp", Attrs: m{"value": "1"}},
		{Kind: KindRoute, Node: "r1", Name: "0.0.0.0/0", Attrs: m{"via": "10.0.0.2", "dev": "eth0"}},
		{Kind: KindRoute, Node: "r1", Name: "198.51.100.0/24", Attrs: m{"via": "10.0.0.9", "dev": "eth0"}},
		{Kind: KindRoute, Node: "r1", Name: "2001:db8:1::/48", Attrs: m{"via": "2001:db8::2", "dev": "eth0"}},
		{Kind: KindNeigh, Node: "r2", Name: "eth0/10.0.0.1", Attrs: m{"mac": "02:00:00:00:01:01"}},
		{Kind: KindNeigh, Node: "r2", Name: "eth0/10.0.0.9", Attrs: m{"mac": "02:aa:00:00:00:01"}},
		{Kind: KindFDB, Node: "sw", Name: "vx/192.0.2.5"},
		{Kind: KindFDB, Node: "sw", Name: "vx/192.0.2.6"},
	}
	if diff := cmp.Diff(want, lab.Resources()); diff != "" {
		t.Errorf("resources (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"netns", "veth", "bridge", "vxlan"}, lab.Features()); diff != "" {
		t.Errorf("features (-want +got):\n%s", diff)
	}
}

// A global the kind reads applies where the section sets none; the line
// of an error is then the DEFAULT line.
func TestGlobalsReadByKind(t *testing.T) {
	lab, err := build(t, `
[DEFAULT]
mtu = 9000
[netns:a]
[netns:b]
[veth:ab]
endpoints = a:eth0 b:eth0
`)
	if err != nil {
		t.Fatal(err)
	}
	if lab.Veths[0].MTU != 9000 || lab.Veths[0].At("mtu").Line != 3 {
		t.Errorf("mtu %d at line %d, want 9000 at line 3", lab.Veths[0].MTU, lab.Veths[0].At("mtu").Line)
	}
}

func TestSysctlValue(t *testing.T) {
	for in, want := range map[string]string{"on": "1", "off": "0", "yes": "1", "2": "2", "1": "1", "32768   60999": "32768\t60999"} {
		if got := sysctlValue(in); got != want {
			t.Errorf("sysctlValue(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSuggest(t *testing.T) {
	cands := []string{"endpoints", "mtu"}
	for key, want := range map[string]string{"mtuu": "mtu", "endpoint": "endpoints", "zzzzzz": "", "m": ""} {
		if got := suggest(key, cands); got != want {
			t.Errorf("suggest(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestModules(t *testing.T) {
	lab, err := build(t, `
[kmod:vxlan]
[kmod:dummy]
module = dummy
params = numdummies=0
optional = on
`)
	if err != nil {
		t.Fatal(err)
	}
	want := []Module{{Name: "vxlan"}, {Name: "dummy", Params: "numdummies=0", Optional: true}}
	if diff := cmp.Diff(want, lab.Modules()); diff != "" {
		t.Errorf("modules (-want +got):\n%s", diff)
	}
}
