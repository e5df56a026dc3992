package check

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/netcompose/netcompose/internal/nsrun"
)

// want is what a test asserts about a result: pass or fail, and a
// fragment of the reason that names the cause.
type want struct {
	pass   bool
	reason string
}

// probeCase is a check and what its result must show.
type probeCase struct {
	spec Spec
	want want
}

// checkCases runs the cases as checkResults does, each spec first set by
// set when it is not nil.
func checkCases(t *testing.T, cases []probeCase, set func(*Spec)) []Result {
	t.Helper()
	specs := make([]Spec, len(cases))
	wants := make([]want, len(cases))
	for i, c := range cases {
		if set != nil {
			set(&c.spec)
		}
		specs[i], wants[i] = c.spec, c.want
	}
	return checkResults(t, specs, wants)
}

func checkResults(t *testing.T, specs []Spec, wants []want) []Result {
	t.Helper()
	results := Run(context.Background(), specs, 4)
	var b strings.Builder
	WriteTable(&b, results)
	t.Log("\n" + b.String())
	for i, r := range results {
		if r.Name != specs[i].Name {
			t.Errorf("result %d is %q, want %q (order lost)", i, r.Name, specs[i].Name)
		}
		if r.Pass != wants[i].pass || !strings.Contains(r.Reason, wants[i].reason) {
			t.Errorf("%s: pass=%v reason %q, want pass=%v reason containing %q",
				r.Name, r.Pass, r.Reason, wants[i].pass, wants[i].reason)
		}
	}
	return results
}

func TestICMP(t *testing.T) {
	l, client, server := twoHosts(t)
	l.route(client, "198.51.100.0/24", "eth0", "10.0.0.50") // a gateway nobody is
	short := 500 * time.Millisecond

	// Independent view: the server really holds the address we ping.
	found := false
	for _, l := range ipJSON(t, server, "addr", "show", "dev", "eth0") {
		for _, a := range l["addr_info"].([]any) {
			found = found || a.(map[string]any)["local"] == "10.0.0.2"
		}
	}
	if !found {
		t.Fatal("ip -j addr: 10.0.0.2 not on server eth0")
	}

	tests := []probeCase{
		{Spec{Name: "peer answers", Protocol: ICMP, Target: ip("10.0.0.2")},
			want{true, "3/3 replies from 10.0.0.2"}},
		{Spec{Name: "own address answers", Protocol: ICMP, Target: ip("10.0.0.1"), Count: 1},
			want{true, "1/1 replies"}},
		{Spec{Name: "nobody has the address", Protocol: ICMP, Target: ip("10.0.0.99"), Count: 2, Timeout: short},
			want{false, "no reply from 10.0.0.99 within 500ms (2/2 lost) (target 10.0.0.99 did not answer ARP on eth0)"}},
		{Spec{Name: "gateway missing", Protocol: ICMP, Target: ip("198.51.100.7"), Count: 1, Timeout: short},
			want{false, "(next hop 10.0.0.50 did not answer ARP on eth0)"}},
		{Spec{Name: "ttl as expected", Protocol: ICMP, Target: ip("10.0.0.2"), Count: 1, TTL: 64},
			want{true, "ttl 64"}},
		{Spec{Name: "ttl proves a router that is not there", Protocol: ICMP, Target: ip("10.0.0.2"), Count: 1, TTL: 63},
			want{false, "ttl 64, want ttl 63: 1 router fewer than expected on the path back"}},
		{Spec{Name: "no route", Protocol: ICMP, Target: ip("192.0.2.1"), Count: 1, Timeout: short},
			want{false, "network is unreachable"}},
		{Spec{Name: "expect fail and nobody answers", Protocol: ICMP, Target: ip("10.0.0.99"), Count: 1, Timeout: short, Expect: ExpectFail},
			want{true, "blocked as expected: no reply"}},
		{Spec{Name: "expect fail but peer answers", Protocol: ICMP, Target: ip("10.0.0.2"), Count: 1, Expect: ExpectFail},
			want{false, "reachable, want blocked"}},
		{Spec{Name: "rtt within bounds a veth meets", Protocol: ICMP, Target: ip("10.0.0.2"), MinRTT: time.Microsecond, MaxRTT: time.Second},
			want{true, "3/3 replies from 10.0.0.2, rtt min"}},
		{Spec{Name: "min_rtt a veth cannot meet", Protocol: ICMP, Target: ip("10.0.0.2"), Count: 1, MinRTT: time.Second},
			want{false, "want rtt min at least 1s (min_rtt): the path is faster than the delay it should have"}},
		{Spec{Name: "max_rtt a veth cannot meet", Protocol: ICMP, Target: ip("10.0.0.2"), Count: 1, MaxRTT: time.Microsecond},
			want{false, "want rtt max at most 1µs (max_rtt)"}},
	}
	results := checkCases(t, tests, func(s *Spec) { s.FromNetns = client })
	if r := results[0]; r.Sent != 3 || r.Received != 3 || r.RTT <= 0 || r.TTL != 64 {
		t.Errorf("peer answers: sent %d received %d rtt %v ttl %d, want 3 3 >0 64", r.Sent, r.Received, r.RTT, r.TTL)
	}
	// The warm-up echo of a check with max_rtt is not counted.
	if r := results[9]; r.Sent != 3 || r.Received != 3 || r.RTT <= 0 || r.RTTMax < r.RTT {
		t.Errorf("rtt within bounds: sent %d received %d rtt %v max %v, want 3 3 >0 >=min", r.Sent, r.Received, r.RTT, r.RTTMax)
	}
}

func TestICMPv6(t *testing.T) {
	l, client, server := twoHosts(t)
	l.addrNoDAD(client, "eth0", "2001:db8::1/64")
	l.addrNoDAD(server, "eth0", "2001:db8::2/64")
	checkResults(t, []Spec{
		{Name: "v6 peer answers", FromNetns: client, Protocol: ICMP, Target: ip("2001:db8::2"), Count: 2},
		{Name: "v6 nobody", FromNetns: client, Protocol: ICMP, Target: ip("2001:db8::99"), Count: 1, Timeout: 500 * time.Millisecond},
	}, []want{
		{true, "2/2 replies from 2001:db8::2"},
		{false, "no reply from 2001:db8::99"},
	})
}

func TestTCP(t *testing.T) {
	_, client, server := twoHosts(t)
	short := 500 * time.Millisecond

	// A listener that exists before the check: the check must use it, not
	// fail to open its own.
	var existing net.Listener
	err := nsrun.Do(nsrun.Path(server), func() (err error) {
		existing, err = net.Listen("tcp", "0.0.0.0:9090")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer existing.Close()
	go acceptAndClose(existing)

	tests := []probeCase{
		{Spec{Name: "listener opened for the check", Target: ip("10.0.0.2"), Port: 8080, TargetNetns: server},
			want{true, "connected to 10.0.0.2:8080"}},
		{Spec{Name: "same listener again, serialised", Target: ip("10.0.0.2"), Port: 8080, TargetNetns: server},
			want{true, "connected to 10.0.0.2:8080"}},
		{Spec{Name: "existing listener", Target: ip("10.0.0.2"), Port: 9090, TargetNetns: server},
			want{true, "connected to 10.0.0.2:9090"}},
		{Spec{Name: "closed port", Target: ip("10.0.0.2"), Port: 8081},
			want{false, "connection to 10.0.0.2:8081 refused"}},
		{Spec{Name: "closed port expected blocked", Target: ip("10.0.0.2"), Port: 8081, Expect: ExpectFail},
			want{true, "blocked as expected: connection to 10.0.0.2:8081 refused"}},
		{Spec{Name: "nobody has the address", Target: ip("10.0.0.99"), Port: 80, Timeout: short, Expect: ExpectFail},
			want{true, "blocked as expected: no answer from 10.0.0.99:80 within 500ms (target 10.0.0.99 did not answer ARP on eth0)"}},
		{Spec{Name: "open port expected blocked", Target: ip("10.0.0.2"), Port: 8082, TargetNetns: server, Expect: ExpectFail},
			want{false, "reachable, want blocked: connected"}},
		{Spec{Name: "target not in target namespace", Target: ip("10.0.0.1"), Port: 8080, TargetNetns: server},
			want{false, "10.0.0.1 is not an address of " + server}},
		{Spec{Name: "no route", Target: ip("192.0.2.1"), Port: 80, Timeout: short},
			want{false, "network is unreachable"}},
	}
	results := checkCases(t, tests, func(s *Spec) { s.FromNetns, s.Protocol = client, TCP })
	for _, r := range results[:2] {
		if !strings.Contains(r.Detail, "listener opened") {
			t.Errorf("%s: detail %q, want our own listener", r.Name, r.Detail)
		}
	}
	if d := results[2].Detail; !strings.Contains(d, "existing listener") {
		t.Errorf("existing listener: detail %q", d)
	}
	// The short-lived listener is gone after the check.
	ln := ipJSONSockets(t, server, "8080")
	if ln != 0 {
		t.Errorf("%d sockets still on port 8080 in %s after the check", ln, server)
	}
}

// ipJSONSockets counts listening TCP sockets on port in ns, using ss
// (iproute2) as the independent view.
func ipJSONSockets(t *testing.T, ns, port string) int {
	t.Helper()
	var n int
	out := runOut(t, "ip", "netns", "exec", ns, "ss", "-Htln", "sport = :"+port)
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) != "" {
			n++
		}
	}
	return n
}

func TestUDP(t *testing.T) {
	_, client, server := twoHosts(t)
	short := 500 * time.Millisecond
	tests := []probeCase{
		{Spec{Name: "echo responder opened for the check", Target: ip("10.0.0.2"), Port: 5353, TargetNetns: server},
			want{true, "echo from 10.0.0.2:5353"}},
		{Spec{Name: "closed port", Target: ip("10.0.0.2"), Port: 5354},
			want{false, "port unreachable from 10.0.0.2:5354"}},
		{Spec{Name: "nobody has the address", Target: ip("10.0.0.99"), Port: 53, Timeout: short, Expect: ExpectFail},
			want{true, "blocked as expected"}},
	}
	checkCases(t, tests, func(s *Spec) { s.FromNetns, s.Protocol = client, UDP })
}

func TestMissingNamespace(t *testing.T) {
	specs := []Spec{
		{Name: "from missing", FromNetns: "chk-nonexistent-x", Protocol: ICMP, Target: ip("10.0.0.1")},
		{Name: "target missing", FromNetns: "chk-nonexistent-x", Protocol: TCP, Target: ip("10.0.0.1"), Port: 80,
			TargetNetns: "chk-nonexistent-y"},
		{Name: "invalid", FromNetns: "x", Protocol: "sctp", Target: ip("10.0.0.1")},
	}
	wants := []want{
		{false, "namespace chk-nonexistent-x does not exist: is the lab applied?"},
		{false, "namespace chk-nonexistent-x does not exist"},
		{false, `invalid check: unknown protocol "sctp"`},
	}
	checkResults(t, specs, wants)
}

func TestRunCancelledDoesNotHang(t *testing.T) {
	_, client, _ := twoHosts(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	specs := []Spec{
		{Name: "icmp", FromNetns: client, Protocol: ICMP, Target: ip("10.0.0.99"), Timeout: time.Hour},
		{Name: "tcp", FromNetns: client, Protocol: TCP, Target: ip("10.0.0.99"), Port: 1, Timeout: time.Hour},
		{Name: "udp", FromNetns: client, Protocol: UDP, Target: ip("10.0.0.99"), Port: 1, Timeout: time.Hour},
		{Name: "arp", FromNetns: client, Protocol: ARP, Target: ip("10.0.0.99"), Timeout: time.Hour},
	}
	for _, r := range Run(ctx, specs, 1) {
		if r.Pass {
			t.Errorf("%s passed under a cancelled context: %s", r.Name, r.Reason)
		}
	}
}

// TestUnreachableBeyond: when the from namespace routes the target but a
// router on the path has no route, the reason must say so instead of
// blaming the from namespace.
func TestUnreachableBeyond(t *testing.T) {
	l, client, router := twoHosts(t)
	l.sysctl(router, "ipv4/ip_forward", "1")
	l.route(client, "203.0.113.0/24", "eth0", "10.0.0.2")
	checkResults(t, []Spec{
		{Name: "router has no route", FromNetns: client, Protocol: TCP, Target: ip("203.0.113.7"), Port: 80, Timeout: 2 * time.Second},
	}, []want{
		{false, "network is unreachable beyond " + client + " (it routes the target via 10.0.0.2 dev eth0; a router on the path has no route)"},
	})
}
