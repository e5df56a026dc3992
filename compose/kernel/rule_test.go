package kernel

import (
	"context"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/nsrun"
)

// ruleView is `ip -j rule show` of a namespace as "PRIO: words" lines in
// ip-rule order, for rules of protocol proto only (any protocol when
// proto is "").
func ruleView(t *testing.T, ns, family, proto string) []string {
	t.Helper()
	var out []string
	for _, r := range ipJSON(t, ns, family, "rule", "show") {
		p, _ := r["protocol"].(string)
		if proto != "" && p != proto {
			continue
		}
		w := []string{ftoa(r["priority"]) + ":"}
		// ip leaves out the length of a host address.
		prefix := func(a, bits string) string {
			if _, ok := r[bits]; ok {
				return a + "/" + ftoa(r[bits])
			}
			return a
		}
		if src, _ := r["src"].(string); src != "all" {
			w = append(w, "from", prefix(src, "srclen"))
		}
		if dst, ok := r["dst"].(string); ok {
			w = append(w, "to", prefix(dst, "dstlen"))
		}
		for _, k := range []string{"iif", "oif", "ipproto"} {
			if v, ok := r[k].(string); ok {
				w = append(w, k, v)
			}
		}
		for _, k := range []string{"sport", "dport"} {
			if v, ok := r[k]; ok {
				w = append(w, k, ftoa(v))
			} else if lo, ok := r[k+"_start"]; ok {
				w = append(w, k, ftoa(lo)+"-"+ftoa(r[k+"_end"]))
			}
		}
		if a, ok := r["action"].(string); ok {
			w = append(w, a)
		} else if tb, ok := r["table"].(string); ok {
			w = append(w, "lookup", tb)
		}
		if proto == "" && p != "" {
			w = append(w, "proto", p)
		}
		out = append(out, strings.Join(w, " "))
	}
	return out
}

func TestRules(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	nsR := compose.NamespaceName(lab, "r")
	proto := itoa(RouteProtocol)
	base := `
[netns:r]
forwarding = on
address.eth0 = 10.0.0.1/24
address.eth1 = 10.1.0.1/24
%s
[netns:a]
address.eth0 = 10.0.0.2/24
[netns:b]
address.eth0 = 10.1.0.2/24
[veth:a]
endpoints = a:eth0 r:eth0
[veth:b]
endpoints = b:eth0 r:eth1
`
	file := func(rules string) string { return strings.Replace(base, "%s", rules, 1) }
	rules := `rule = iif eth0 ipproto tcp dport 22 prohibit
  from 10.0.0.0/24 to 10.1.0.5 ipproto udp sport 1000-2000 blackhole priority 500
  oif eth1 to 2001:db8:1::/64 ipproto icmp unreachable`
	want4 := []string{
		"500: from 10.0.0.0/24 to 10.1.0.5 ipproto udp sport 1000-2000 blackhole",
		"1000: iif eth0 ipproto tcp dport 22 prohibit",
	}
	want6 := []string{"1002: to 2001:db8:1::/64 oif eth1 ipproto ipv6-icmp unreachable"}
	check := func(step string, want4, want6 []string) {
		t.Helper()
		if d := cmp.Diff(want4, ruleView(t, nsR, "-4", proto)); d != "" {
			t.Errorf("%s: ipv4 rules (-want +got):\n%s", step, d)
		}
		if d := cmp.Diff(want6, ruleView(t, nsR, "-6", proto)); d != "" {
			t.Errorf("%s: ipv6 rules (-want +got):\n%s", step, d)
		}
	}
	plan := func() []string {
		t.Helper()
		desired := lowered(t, file(rules))
		actual, err := Observe(context.Background(), lab, desired)
		if err != nil {
			t.Fatalf("observe: %v", err)
		}
		return planIDs(compose.Diff(lab, desired, actual))
	}

	applyFile(t, lab, file(rules)) // fails unless a second plan is empty
	check("applied", want4, want6)

	// A rule deleted by hand is drift: the plan brings it back.
	ip(t, "-n", nsR, "rule", "del", "priority", "1000")
	if d := cmp.Diff([]string{"create rule/r/1000"}, plan()); d != "" {
		t.Errorf("plan after deleting rule 1000 by hand (-want +got):\n%s", d)
	}
	applyFile(t, lab, file(rules))
	check("restored", want4, want6)

	// Rules of another protocol are not ours: not seen, not touched, even
	// at one of our priorities.
	ip(t, "-n", nsR, "rule", "add", "priority", "1000", "iif", "eth1", "prohibit")
	ip(t, "-n", nsR, "rule", "add", "priority", "2000", "to", "198.51.100.0/24", "lookup", "main", "proto", "static")
	if p := plan(); len(p) != 0 {
		t.Errorf("plan with hand-made rules of other protocols: %v", p)
	}
	hand := []string{"1000: iif eth1 prohibit proto unspec", "2000: to 198.51.100.0/24 lookup main proto static"}
	others := func() []string {
		return slices.DeleteFunc(ruleView(t, nsR, "-4", ""), func(l string) bool {
			return strings.HasSuffix(l, "proto "+proto) || strings.Contains(l, ": lookup ")
		})
	}

	// A changed action replaces the rule; a dropped one is deleted.
	changed := "rule = iif eth0 ipproto tcp dport 22 unreachable"
	p := applyFile(t, lab, file(changed))
	if d := cmp.Diff([]string{"delete rule/r/1002", "delete rule/r/500", "replace rule/r/1000"}, planIDs(p)); d != "" {
		t.Errorf("plan for changed rules (-want +got):\n%s", d)
	}
	check("changed", []string{"1000: iif eth0 ipproto tcp dport 22 unreachable"}, nil)
	if d := cmp.Diff(hand, others()); d != "" {
		t.Errorf("hand-made rules after apply (-want +got):\n%s", d)
	}

	// No rules left in the file: ours go, the others stay.
	applyFile(t, lab, file(""))
	check("removed", nil, nil)
	if d := cmp.Diff(hand, others()); d != "" {
		t.Errorf("hand-made rules after removing ours (-want +got):\n%s", d)
	}

	if err := destroy(lab); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	if left := namespaces(t, lab+"-"); len(left) != 0 {
		t.Errorf("namespaces left after destroy: %v", left)
	}
}

// TestRuleBlocksPort shows the rule doing its job: r forwards TCP from a
// to b, except to port 22, which it prohibits (the kernel answers the
// connect with "host prohibited", seen as EACCES or EHOSTUNREACH).
func TestRuleBlocksPort(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	ini := `
[netns:r]
forwarding = on
address.eth0 = 10.0.0.1/24
address.eth1 = 10.1.0.1/24
rule = iif eth0 ipproto tcp dport 22 prohibit
[netns:a]
address.eth0 = 10.0.0.2/24
route = default via 10.0.0.1
[netns:b]
address.eth0 = 10.1.0.2/24
route = default via 10.1.0.1
[veth:a]
endpoints = a:eth0 r:eth0
[veth:b]
endpoints = b:eth0 r:eth1
`
	applyFile(t, lab, ini)
	for _, c := range []struct {
		port int
		ok   bool
	}{{5432, true}, {22, false}} {
		err := tcpThrough(t, lab, "a", "b", "10.1.0.2", c.port)
		if (err == nil) != c.ok {
			t.Errorf("tcp a -> b:%d: err = %v, want ok = %v", c.port, err, c.ok)
		}
	}
}

// tcpThrough connects from node from to ip:port, with a listener on that
// port in node to; the error is the connect's.
func tcpThrough(t *testing.T, lab, from, to, ip string, port int) error {
	t.Helper()
	addr := net.JoinHostPort(ip, strconv.Itoa(port))
	var ln net.Listener
	err := nsrun.Do(nsrun.Path(compose.NamespaceName(lab, to)), func() (err error) {
		ln, err = net.Listen("tcp4", addr)
		return err
	})
	if err != nil {
		t.Fatalf("listen in %s: %v", to, err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	var dialErr error
	err = nsrun.Do(nsrun.Path(compose.NamespaceName(lab, from)), func() error {
		c, err := net.DialTimeout("tcp4", addr, 5*time.Second)
		if err == nil {
			c.Close()
		}
		dialErr = err
		return nil
	})
	if err != nil {
		t.Fatalf("dial from %s: %v", from, err)
	}
	return dialErr
}
