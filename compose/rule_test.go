package compose

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const ruleLab = `
[netns:fw]
address.eth0 = 10.0.0.1/24
address.eth1 = 10.1.0.1/24
rule = %s
[netns:a]
[netns:b]
[veth:a]
endpoints = a:eth0 fw:eth0
[veth:b]
endpoints = b:eth0 fw:eth1
`

func TestRuleResources(t *testing.T) {
	lab, err := build(t, strings.Replace(ruleLab, "%s", `iif eth0 ipproto tcp dport 22 prohibit
  blackhole from 10.0.0.9 to 10.1.0.0/16 ipproto udp sport 1000-2000 dport 53-53
  priority 50 oif eth1 to 2001:DB8:1::1/64 ipproto icmp unreachable
  prohibit`, 1))
	if err != nil {
		t.Fatal(err)
	}
	got := ofKind(lab.Resources(), KindRule)
	type m = map[string]string
	attrs := func(kv m) m {
		out := m{"family": "inet", "from": "", "to": "", "iif": "", "oif": "", "ipproto": "", "sport": "", "dport": ""}
		for k, v := range kv {
			out[k] = v
		}
		return out
	}
	want := []Resource{
		{Kind: KindRule, Node: "fw", Name: "1000", Attrs: attrs(m{"iif": "eth0", "ipproto": "tcp", "dport": "22", "action": "prohibit"})},
		{Kind: KindRule, Node: "fw", Name: "1001", Attrs: attrs(m{"from": "10.0.0.9/32", "to": "10.1.0.0/16", "ipproto": "udp", "sport": "1000-2000", "dport": "53", "action": "blackhole"})},
		{Kind: KindRule, Node: "fw", Name: "1003", Attrs: attrs(m{"action": "prohibit"})},
		{Kind: KindRule, Node: "fw", Name: "50", Attrs: attrs(m{"family": "inet6", "to": "2001:db8:1::/64", "oif": "eth1", "ipproto": "icmp", "action": "unreachable"})},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("rule resources (-want +got):\n%s", d)
	}
	if s, w := Label(got[0])+attrText(&got[0]), "rule fw 1000  iif eth0 ipproto tcp dport 22 prohibit"; s != w {
		t.Errorf("shown as %q, want %q", s, w)
	}
	if s, w := attrText(&got[3]), "  to 2001:db8:1::/64 oif eth1 ipproto icmp unreachable (inet6)"; s != w {
		t.Errorf("IPv6 rule shown as %q, want %q", s, w)
	}
}

// A changed rule is replaced: the kernel changes no rule in place.
func TestRuleChangeReplaces(t *testing.T) {
	lower := func(rule string) []Resource {
		lab, err := build(t, strings.Replace(ruleLab, "%s", rule, 1))
		if err != nil {
			t.Fatal(err)
		}
		return lab.Resources()
	}
	p := Diff("lab", lower("iif eth0 ipproto tcp prohibit"), lower("iif eth0 ipproto tcp dport 22 prohibit"))
	if len(p.Changes) != 1 || p.Changes[0].Action != Replace || p.Changes[0].ID != "rule/fw/1000" {
		t.Fatalf("plan for dropping dport = %+v, want one replace of rule/fw/1000", p.Changes)
	}
}

func TestRuleErrors(t *testing.T) {
	tests := []struct {
		rule string
		want []string
	}{
		{"iif eth0 dport 22 prohibit", []string{`5: [netns:fw]: rule "iif eth0 dport 22 prohibit": sport and dport need ipproto tcp or udp`}},
		{"ipproto icmp sport 7 prohibit", []string{`5: [netns:fw]: rule "ipproto icmp sport 7 prohibit": sport and dport need ipproto tcp or udp`}},
		{"iif eth0 ipproto tcp dport 22 drop", []string{`5: [netns:fw]: rule "iif eth0 ipproto tcp dport 22 drop": unknown word "drop"`}},
		{"iif eth0", []string{`5: [netns:fw]: rule "iif eth0": needs an action: prohibit, unreachable, blackhole`}},
		{"prohibit blackhole", []string{`5: [netns:fw]: rule "prohibit blackhole": two actions, prohibit and blackhole`}},
		{"iif", []string{`5: [netns:fw]: rule "iif": "iif" needs a value`}},
		{"iif eth0 iif eth1 prohibit", []string{`5: [netns:fw]: rule "iif eth0 iif eth1 prohibit": iif given twice`}},
		{"ipproto sctp prohibit", []string{`5: [netns:fw]: rule "ipproto sctp prohibit": ipproto: "sctp" is not tcp, udp or icmp`}},
		{"ipproto tcp dport 0 prohibit", []string{`5: [netns:fw]: rule "ipproto tcp dport 0 prohibit": dport: "0" is not a port`}},
		{"ipproto tcp dport 90-80 prohibit", []string{`5: [netns:fw]: rule "ipproto tcp dport 90-80 prohibit": dport: "90-80" is not a port`}},
		{"from 10.0.0.0/8 to 2001:db8::/32 prohibit", []string{`5: [netns:fw]: rule "from 10.0.0.0/8 to 2001:db8::/32 prohibit": from 10.0.0.0/8 and to 2001:db8::/32 are of different families`}},
		{"from ten prohibit", []string{`5: [netns:fw]: rule "from ten prohibit": from: "ten" is not an address or a CIDR`}},
		{"priority 32766 prohibit", []string{`5: [netns:fw]: rule "priority 32766 prohibit": priority: "32766" is not a number in 1..32765`}},
		{"iif eth9 prohibit", []string{`5: [netns:fw]: rule: node fw has no interface "eth9" (did you mean "eth0"?)`}},
		{"oif wan prohibit", []string{`5: [netns:fw]: rule: node fw has no interface "wan" (it has eth0, eth1, lo)`}},
		{"prohibit priority 1001\n  unreachable", []string{`6: [netns:fw]: rule: priority 1001 given twice`}},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			wantBuildErrors(t, strings.Replace(ruleLab, "%s", tt.rule, 1), tt.want)
		})
	}
}

// TestRuleSet reads each selector's value into its field, in canonical
// form; a bad value is an error.
func TestRuleSet(t *testing.T) {
	pfx := netip.MustParsePrefix
	for _, tc := range []struct {
		name, word, value string
		want              Rule
		err               string
	}{
		{"from takes a CIDR, masked", "from", "10.1.2.3/16", Rule{From: pfx("10.1.0.0/16")}, ""},
		{"from takes an address as a host prefix", "from", "10.0.0.9", Rule{From: pfx("10.0.0.9/32")}, ""},
		{"to takes an IPv6 address as a host prefix", "to", "2001:DB8::1", Rule{To: pfx("2001:db8::1/128")}, ""},
		{"to refuses a name", "to", "ten", Rule{}, `"ten" is not an address or a CIDR`},
		{"iif takes an interface name", "iif", "eth0", Rule{Iif: "eth0"}, ""},
		{"oif refuses a name too long for the kernel", "oif", "a-very-long-ifname", Rule{Oif: "a-very-long-ifname"}, "longer than"},
		{"ipproto takes icmp", "ipproto", "icmp", Rule{IPProto: "icmp"}, ""},
		{"ipproto refuses sctp", "ipproto", "sctp", Rule{IPProto: "sctp"}, `"sctp" is not tcp, udp or icmp`},
		{"sport takes a range", "sport", "1000-2000", Rule{Sport: "1000-2000"}, ""},
		{"dport writes a one-port range as the port", "dport", "53-53", Rule{Dport: "53"}, ""},
		{"dport refuses 0", "dport", "0", Rule{}, `"0" is not a port`},
		{"dport refuses a reversed range", "dport", "90-80", Rule{}, `"90-80" is not a port`},
		{"priority takes the lowest a file may give", "priority", "1", Rule{Priority: 1}, ""},
		{"priority takes the highest a file may give", "priority", "32765", Rule{Priority: 32765}, ""},
		{"priority refuses 0", "priority", "0", Rule{}, `"0" is not a number in 1..32765`},
		{"priority refuses the main table's", "priority", "32766", Rule{Priority: 32766}, `"32766" is not a number in 1..32765`},
		{"priority refuses a word", "priority", "high", Rule{}, `"high" is not a number in 1..32765`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got Rule
			err := got.set(tc.word, tc.value)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			}
			if d := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); d != "" {
				t.Errorf("rule (-want +got):\n%s", d)
			}
		})
	}
}

func TestRulePrefixOfMappedAddresses(t *testing.T) {
	for in, want := range map[string]string{
		"::ffff:10.0.0.1":     "10.0.0.1/32",
		"::ffff:10.0.0.0/104": "10.0.0.0/8",
		"10.0.0.0/8":          "10.0.0.0/8",
	} {
		p, err := rulePrefix(in)
		if err != nil || !p.IsValid() || p.String() != want {
			t.Errorf("rulePrefix(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
	if p, err := rulePrefix("::ffff:0:0/80"); err == nil {
		t.Errorf("rulePrefix(::ffff:0:0/80) = %v, want an error (never an invalid prefix that reads as any)", p)
	}
}
