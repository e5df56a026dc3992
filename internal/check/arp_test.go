package check

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// multiNIC builds the classic ARP-flux lab: a client and a host with two
// interfaces, all on one bridge in a switch namespace.
//
//	client eth0 10.0.0.1 ─┐
//	host   eth0 10.0.0.2 ─┼─ sw br0
//	host   eth1 10.0.0.3 ─┘
func multiNIC(t *testing.T) (l *testLab, client, host string) {
	l = newTestLab(t)
	client, host, sw := l.netns("client"), l.netns("host"), l.netns("sw")
	l.veth(client, "eth0", sw, "p0")
	l.veth(host, "eth0", sw, "p1")
	l.veth(host, "eth1", sw, "p2")
	l.bridge(sw, "br0", "p0", "p1", "p2")
	l.addr(client, "eth0", "10.0.0.1/24")
	l.addr(host, "eth0", "10.0.0.2/24")
	l.addr(host, "eth1", "10.0.0.3/24")
	// New namespaces inherit IPv4 conf from the init namespace: pin the
	// settings the test depends on. Strict rp_filter would stop eth1 from
	// answering (the route back to the client leaves by eth0).
	for _, c := range []string{"all", "default", "eth0", "eth1"} {
		l.sysctl(host, "ipv4/conf/"+c+"/rp_filter", "0")
		l.sysctl(host, "ipv4/conf/"+c+"/arp_ignore", "0")
		l.sysctl(host, "ipv4/conf/"+c+"/arp_filter", "0")
	}
	return l, client, host
}

func TestARPMultiNIC(t *testing.T) {
	l, client, host := multiNIC(t)
	eth0, eth1 := ipMAC(t, host, "eth0"), ipMAC(t, host, "eth1")
	spec := Spec{Name: "owner answers alone", FromNetns: client, Protocol: ARP, Target: ip("10.0.0.2"),
		TargetNetns: host, Answer: Answers(mustMAC(t, eth0)), Timeout: time.Second}
	macs := func(r Result) []string {
		var m []string
		for _, a := range r.Answers {
			m = append(m, a.MAC)
		}
		return m
	}
	sorted := cmpopts.SortSlices(func(a, b string) bool { return a < b })

	// Default settings: both interfaces answer for either address.
	r := RunOne(context.Background(), spec)
	t.Logf("arp_ignore=0: pass=%v %s", r.Pass, r.Reason)
	if r.Pass {
		t.Errorf("arp_ignore=0: passed, want both NICs to answer: %s", r.Reason)
	}
	if diff := cmp.Diff([]string{eth0, eth1}, macs(r), sorted); diff != "" {
		t.Errorf("arp_ignore=0: answering MACs (-ip link +probe):\n%s", diff)
	}
	for _, frag := range []string{eth0 + " (eth0)", eth1 + " (eth1)", "want only " + eth0 + " (eth0)"} {
		if !strings.Contains(r.Reason, frag) {
			t.Errorf("arp_ignore=0: reason %q lacks %q", r.Reason, frag)
		}
	}

	// arp_ignore=1: only the interface that owns the address answers.
	l.sysctl(host, "ipv4/conf/all/arp_ignore", "1")
	r = RunOne(context.Background(), spec)
	t.Logf("arp_ignore=1: pass=%v %s", r.Pass, r.Reason)
	if !r.Pass {
		t.Errorf("arp_ignore=1: failed: %s", r.Reason)
	}
	if diff := cmp.Diff([]string{eth0}, macs(r)); diff != "" {
		t.Errorf("arp_ignore=1: answering MACs (-ip link +probe):\n%s", diff)
	}

	// Asserting that the other NIC stays silent, and nobody for a free
	// address.
	results := Run(context.Background(), []Spec{
		{Name: "eth1 silent", FromNetns: client, Protocol: ARP, Target: ip("10.0.0.2"), Expect: ExpectFail,
			Answer: Answers(mustMAC(t, eth1)), Timeout: time.Second},
		{Name: "free address unanswered", FromNetns: client, Protocol: ARP, Target: ip("10.0.0.99"), Expect: ExpectFail,
			Interface: "eth0", Timeout: time.Second},
		{Name: "free address must answer", FromNetns: client, Protocol: ARP, Target: ip("10.0.0.99"),
			Timeout: time.Second},
	}, 0)
	wants := []want{
		{true, "not " + eth1 + " as expected"},
		{true, "no ARP reply for 10.0.0.99 on eth0 within 1s, as expected"},
		{false, "no ARP reply for 10.0.0.99 on eth0 within 1s"},
	}
	for i, r := range results {
		if r.Pass != wants[i].pass || !strings.Contains(r.Reason, wants[i].reason) {
			t.Errorf("%s: pass=%v %q, want pass=%v reason containing %q", r.Name, r.Pass, r.Reason, wants[i].pass, wants[i].reason)
		}
	}
}

// TestARPProxy: a firewall between client and server on one subnet
// answers the client's ARP for the server with its own MAC (proxy ARP),
// and traffic flows through it.
//
//	client eth0 10.0.1.1/24 ── eth0 fw eth1 ── eth0 server 10.0.1.2/24
func TestARPProxy(t *testing.T) {
	l := newTestLab(t)
	client, fw, server := l.netns("client"), l.netns("fw"), l.netns("server")
	l.veth(client, "eth0", fw, "eth0")
	l.veth(fw, "eth1", server, "eth0")
	l.addr(client, "eth0", "10.0.1.1/24")
	l.addr(server, "eth0", "10.0.1.2/24")
	l.addr(fw, "eth0", "10.0.1.254/32")
	l.addr(fw, "eth1", "10.0.1.254/32")
	l.route(fw, "10.0.1.1/32", "eth0")
	l.route(fw, "10.0.1.2/32", "eth1")
	for _, c := range []string{"all", "eth0", "eth1"} {
		l.sysctl(fw, "ipv4/conf/"+c+"/rp_filter", "0")
	}
	l.sysctl(fw, "ipv4/ip_forward", "1")
	l.sysctl(fw, "ipv4/conf/eth0/proxy_arp", "1")
	l.sysctl(fw, "ipv4/conf/eth1/proxy_arp", "1")
	fwMAC := ipMAC(t, fw, "eth0")

	specs := []Spec{
		{Name: "firewall answers for the server", FromNetns: client, Protocol: ARP, Target: ip("10.0.1.2"),
			Answer: Answers(mustMAC(t, fwMAC)), Labels: map[string]string{fwMAC: "fw:eth0"}, Timeout: 2 * time.Second},
		{Name: "traffic flows through the firewall", FromNetns: client, Protocol: ICMP, Target: ip("10.0.1.2"),
			Count: 2},
	}
	results := checkResults(t, specs, []want{
		{true, "answered by " + fwMAC + " (fw:eth0)"},
		{true, "2/2 replies from 10.0.1.2"},
	})
	// One router on the path: the server's TTL 64 arrives as 63.
	if ttl := results[1].TTL; ttl != 63 {
		t.Errorf("reply ttl %d, want 63 (one hop through fw)", ttl)
	}
	// Independent view: the client's kernel resolved the server to the
	// firewall's MAC.
	var lladdr any
	for _, n := range ipJSON(t, client, "neigh", "show", "10.0.1.2") {
		lladdr = n["lladdr"]
	}
	if lladdr != fwMAC {
		t.Errorf("ip neigh: client resolves 10.0.1.2 to %v, want fw eth0 %s", lladdr, fwMAC)
	}

	// Break the lab on purpose: without proxy ARP nobody answers.
	l.sysctl(fw, "ipv4/conf/eth0/proxy_arp", "0")
	r := RunOne(context.Background(), specs[0])
	if r.Pass || !strings.Contains(r.Reason, "no ARP reply for 10.0.1.2 on eth0") {
		t.Errorf("proxy_arp off: pass=%v %q, want a failure naming the missing reply", r.Pass, r.Reason)
	}
}
