package nfqueue

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/netcompose/netcompose/compose"
)

// prefixes lets cmp compare netip values, whose fields are unexported.
var prefixes = cmpopts.EquateComparable(netip.Prefix{}, netip.Addr{})

func TestLabChain(t *testing.T) {
	cases := []struct{ lab, hook, want string }{
		{"quickstart", "forward", "NC-FWD-quickstart"},
		{"a", "input", "NC-IN-a"},
		{"a", "output", "NC-OUT-a"},
		{"a-lab-name-that-is-long", "forward", "NC-FWD-a-lab-name-t-"},
	}
	for _, c := range cases {
		got := LabChain(c.lab, c.hook)
		if len(got) > maxChain {
			t.Errorf("LabChain(%q, %q) = %q: %d bytes, over %d", c.lab, c.hook, got, len(got), maxChain)
		}
		if !strings.HasPrefix(got, c.want) {
			t.Errorf("LabChain(%q, %q) = %q, want %q…", c.lab, c.hook, got, c.want)
		}
	}
	if a, b := LabChain("a-lab-name-that-is-long-1", "forward"), LabChain("a-lab-name-that-is-long-2", "forward"); a == b {
		t.Errorf("two long lab names share chain %q", a)
	}
}

func TestRuleID(t *testing.T) {
	if got := (Rule{Lab: "l", Name: "web in", Family: 6, Chain: "input"}).ID(); got != "ipv6/web in" {
		t.Errorf("ID = %q, want ipv6/web in", got)
	}
}

func TestRuleSpec(t *testing.T) {
	cases := []struct {
		name string
		r    Rule
		want string
	}{
		{"queue number", Rule{Lab: "l", Name: "q", Family: 4, Chain: "forward"},
			"ipv4 -A NC-FWD-l -m comment --comment netcompose:l:q -j NFQUEUE --queue-num 0"},
		{"every match, balanced, bypass", Rule{Lab: "l", Name: "web in", Family: 4, Chain: "forward", Protocol: "tcp",
			Source: netip.MustParsePrefix("192.0.2.0/24"), Destination: netip.MustParsePrefix("198.51.100.2/32"),
			Sport: "1024:65535", Dport: "80", In: "eth+", Out: "s0", QueueFirst: 3, QueueLast: 5, Bypass: true},
			`ipv4 -A NC-FWD-l -s 192.0.2.0/24 -d 198.51.100.2/32 -i eth+ -o s0 -p tcp -m tcp --sport 1024:65535 --dport 80 -m comment --comment "netcompose:l:web in" -j NFQUEUE --queue-balance 3:5 --queue-bypass`},
		{"ipv6 icmpv6 at input", Rule{Lab: "l", Name: "p", Family: 6, Chain: "input", Protocol: "icmpv6", QueueFirst: 9, QueueLast: 9},
			"ipv6 -A NC-IN-l -p icmpv6 -m comment --comment netcompose:l:p -j NFQUEUE --queue-num 9"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.r.validate(); err != nil {
				t.Fatal(err)
			}
			if got := c.r.String(); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

// TestRuleRoundTrip: a rule printed the way iptables -S prints it reads
// back equal, including iptables' own spellings (ipv6-icmp, /32).
func TestRuleRoundTrip(t *testing.T) {
	cases := []struct {
		name, line string
		want       Rule
	}{
		{"iptables spelling of icmpv6", `-A NC-IN-l -s 2001:db8::/64 -p ipv6-icmp -m comment --comment "netcompose:l:a b \"c\"" -j NFQUEUE --queue-num 0`,
			Rule{Lab: "l", Name: `a b "c"`, Family: 6, Chain: "input", Protocol: "icmpv6", Source: netip.MustParsePrefix("2001:db8::/64")}},
		{"ports and balance", `-A NC-FWD-l -d 198.51.100.2/32 -i c0 -p udp -m udp --sport 1:2 --dport 3 -m comment --comment netcompose:l:q -j NFQUEUE --queue-balance 4:7 --queue-bypass`,
			Rule{Lab: "l", Name: "q", Family: 4, Chain: "forward", Protocol: "udp", Destination: netip.MustParsePrefix("198.51.100.2/32"),
				In: "c0", Sport: "1:2", Dport: "3", QueueFirst: 4, QueueLast: 7, Bypass: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, ok := readLine(c.line)
			if !ok {
				t.Fatalf("readLine(%q) failed", c.line)
			}
			got := Rule{Lab: "l", Family: c.want.Family, Chain: c.want.Chain}
			got.Name = strings.TrimPrefix(l.comment, commentPrefix("l"))
			if err := parseRule(l.args, &got); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(c.want, got, prefixes); d != "" {
				t.Errorf("rule (-want +got):\n%s", d)
			}
			// And what we write reads back the same.
			words, err := splitLine("-A X " + strings.Join(quoteAll(got.Spec()), " "))
			if err != nil {
				t.Fatal(err)
			}
			again := Rule{Lab: "l", Name: got.Name, Family: got.Family, Chain: got.Chain}
			if err := parseRule(words[2:], &again); err != nil || again != got {
				t.Errorf("spec round trip: %+v (%v), want %+v", again, err, got)
			}
		})
	}
}

func quoteAll(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(w) + `"`
	}
	return out
}

func TestParseRuleRefusesForeignOptions(t *testing.T) {
	for _, line := range []string{
		"-A NC-FWD-l -p tcp -m conntrack --ctstate NEW -m comment --comment netcompose:l:q -j NFQUEUE --queue-num 1",
		"-A NC-FWD-l ! -s 192.0.2.1/32 -m comment --comment netcompose:l:q -j NFQUEUE --queue-num 1",
		"-A NC-FWD-l -m comment --comment netcompose:l:q -j ACCEPT",
		"-A NC-FWD-l -m comment --comment netcompose:l:q -j NFQUEUE --queue-num 1 --queue-cpu-fanout",
	} {
		l, _ := readLine(line)
		var r Rule
		if err := parseRule(l.args, &r); err == nil {
			t.Errorf("parseRule(%q) = %+v, want an error", line, r)
		}
	}
}

func TestRuleValidate(t *testing.T) {
	ok := Rule{Lab: "l", Name: "q", Family: 4, Chain: "forward"}
	cases := []struct {
		name string
		edit func(*Rule)
		want string
	}{
		{"family", func(r *Rule) { r.Family = 5 }, "family 5"},
		{"chain", func(r *Rule) { r.Chain = "prerouting" }, `chain "prerouting"`},
		{"icmp in ipv6", func(r *Rule) { r.Family, r.Protocol = 6, "icmp" }, "icmp in an ipv6 rule"},
		{"ports without protocol", func(r *Rule) { r.Dport = "80" }, "need protocol tcp or udp"},
		{"ipv6 address in ipv4 rule", func(r *Rule) { r.Source = netip.MustParsePrefix("2001:db8::/64") }, "not a masked ipv4 prefix"},
		{"unmasked prefix", func(r *Rule) { r.Destination = netip.MustParsePrefix("192.0.2.1/24") }, "not a masked"},
		{"in at output", func(r *Rule) { r.Chain, r.In = "output", "eth0" }, "no input interface"},
		{"out at input", func(r *Rule) { r.Chain, r.Out = "input", "eth0" }, "no output interface"},
		{"newline in name", func(r *Rule) { r.Name = "a\nb" }, "one line"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := ok
			c.edit(&r)
			if err := r.validate(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("validate = %v, want an error with %q", err, c.want)
			}
		})
	}
}

func TestRulesFor(t *testing.T) {
	v4 := netip.MustParsePrefix("192.0.2.0/24")
	v6 := netip.MustParsePrefix("2001:db8::/64")
	cases := []struct {
		name     string
		q        compose.NFQueue
		families []int
		err      string
	}{
		{"no address: both families", compose.NFQueue{Name: "q", Chain: "forward", Protocol: "tcp", Dport: "80"}, []int{4, 6}, ""},
		{"ipv4 source pins ipv4", compose.NFQueue{Name: "q", Chain: "forward", Source: v4}, []int{4}, ""},
		{"ipv6 destination pins ipv6", compose.NFQueue{Name: "q", Chain: "input", Destination: v6}, []int{6}, ""},
		{"icmp pins ipv4", compose.NFQueue{Name: "q", Chain: "forward", Protocol: "icmp"}, []int{4}, ""},
		{"icmpv6 pins ipv6", compose.NFQueue{Name: "q", Chain: "forward", Protocol: "icmpv6"}, []int{6}, ""},
		{"mixed families", compose.NFQueue{Name: "q", Chain: "forward", Source: v4, Destination: v6}, nil, "different IP families"},
		{"icmpv6 with ipv4 source", compose.NFQueue{Name: "q", Chain: "forward", Protocol: "icmpv6", Source: v4}, nil, "different IP families"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rules, err := RulesFor("lab", &c.q)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("RulesFor = %v, %v; want an error with %q", rules, err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var fams []int
			for _, r := range rules {
				fams = append(fams, r.Family)
			}
			if d := cmp.Diff(c.families, fams); d != "" {
				t.Errorf("families (-want +got):\n%s", d)
			}
		})
	}
	rules, _ := RulesFor("lab", &compose.NFQueue{Name: "q", Chain: "forward", Protocol: "all", QueueFirst: 2, QueueLast: 3, Fail: "open"})
	want := Rule{Lab: "lab", Name: "q", Family: 4, Chain: "forward", QueueFirst: 2, QueueLast: 3, Bypass: true}
	if d := cmp.Diff(want, rules[0], prefixes); d != "" {
		t.Errorf("protocol all, fail open (-want +got):\n%s", d)
	}
}
