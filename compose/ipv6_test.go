package compose

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ipv6 = off becomes the node's net.ipv6.conf.all.disable_ipv6 = 1 (and
// on, 0; absent, nothing), and its step runs right after the namespace
// is made, before the node's links: the kernel then never sets IPv6 up on
// them. Other node-wide sysctls go there too; those of one interface
// (conf.IF, neigh.IF) still wait for it.
func TestIPv6Off(t *testing.T) {
	lab, err := build(t, `
[DEFAULT]
lab = t
[netns:hub]
ipv6 = off
address.h0 = 10.0.0.1/30
sysctl.net.ipv4.conf.h0.rp_filter = 0
sysctl.net.ipv4.neigh.h0.base_reachable_time_ms = 10000
sysctl.net.ipv4.neigh.default.base_reachable_time_ms = 20000
[netns:l0]
ipv6 = on
address.eth0 = 10.0.0.2/30
[netns:l1]
[veth:l0]
endpoints = hub:h0 l0:eth0
`)
	if err != nil {
		t.Fatal(err)
	}
	var sysctls []string
	for _, r := range ofKind(lab.Resources(), KindSysctl) {
		sysctls = append(sysctls, r.Node+" "+r.Name+"="+r.Attrs["value"])
	}
	want := []string{"hub net.ipv4.conf.h0.rp_filter=0", "hub net.ipv4.neigh.default.base_reachable_time_ms=20000",
		"hub net.ipv4.neigh.h0.base_reachable_time_ms=10000", "hub net.ipv6.conf.all.disable_ipv6=1", "l0 net.ipv6.conf.all.disable_ipv6=0"}
	if d := cmp.Diff(want, sysctls); d != "" {
		t.Errorf("sysctls (-want +got):\n%s", d)
	}
	var steps []string
	for _, s := range Diff("t", lab.Resources(), nil).Steps() {
		steps = append(steps, stepID(s))
	}
	want = []string{
		"netns/hub/", "netns/l0/", "netns/l1/",
		"sysctl/hub/net.ipv4.neigh.default.base_reachable_time_ms",
		"sysctl/hub/net.ipv6.conf.all.disable_ipv6", "sysctl/l0/net.ipv6.conf.all.disable_ipv6",
		"veth//l0",
		"addr/hub/h0/10.0.0.1/30", "addr/l0/eth0/10.0.0.2/30",
		"sysctl/hub/net.ipv4.conf.h0.rp_filter", "sysctl/hub/net.ipv4.neigh.h0.base_reachable_time_ms",
	}
	if d := cmp.Diff(want, steps); d != "" {
		t.Errorf("create order (-want +got):\n%s", d)
	}
}

func TestIPv6OffErrors(t *testing.T) {
	_, err := build(t, `
[DEFAULT]
lab = t
[netns:a]
ipv6 = off
address.eth0 = 10.0.0.1/24 2001:db8::1/64
route = 2001:db8:1::/48 via 2001:db8::2
rule = to 2001:db8:2::/48 prohibit
sysctl.net.ipv6.conf.all.disable_ipv6 = 0
[netns:b]
address.eth0 = 10.0.0.2/24
[veth:ab]
endpoints = a:eth0 b:eth0
[bridge:br]
netns = a
address = 2001:db8:3::1/64
`)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`6: [netns:a]: address.eth0: 2001:db8::1/64 is IPv6, but node a has ipv6 = off (line 5)`,
		`7: [netns:a]: route 2001:db8:1::/48: the destination is IPv6, but node a has ipv6 = off (line 5)`,
		`8: [netns:a]: rule: the rule is IPv6, but node a has ipv6 = off (line 5)`,
		`5: [netns:a]: ipv6: sets net.ipv6.conf.all.disable_ipv6 = 1, but [netns:a] line 9 sets it to 0`,
		`16: [bridge:br]: address: 2001:db8:3::1/64 is IPv6, but node a has ipv6 = off (line 5)`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing error %q in:\n%v", want, err)
		}
	}
}
