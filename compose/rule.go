package compose

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/netcompose/netcompose/loader"
)

// Rule is one policy-routing rule in a node ("ip rule"): selectors and an
// action that drops what they match, before the main table is consulted.
// It blocks traffic the node forwards or sends; traffic to the node's own
// addresses is delivered by the local table (priority 0) first.
type Rule struct {
	From, To     netip.Prefix // masked; zero when not selected
	Iif, Oif     string
	IPProto      string // tcp, udp, icmp or ""
	Sport, Dport string // "22" or "1024-2047", "" when not selected
	Action       string // prohibit, unreachable or blackhole
	Priority     int    // 0: the default, RulePriorityBase + index in the node
	Pos          loader.Pos
}

// RulePriorityBase is the priority of a node's first rule without an
// explicit one; the rule at index i gets RulePriorityBase+i, so priorities
// stay the same from run to run while the file does.
const RulePriorityBase = 1000

// Rule priorities a file may give: the kernel's own rules sit at 0 (local
// table), 32766 (main) and 32767 (default).
const (
	rulePriorityMin = 1
	rulePriorityMax = 32765
)

// ruleActions are the actions a rule may take, as ip-rule names them.
var ruleActions = []string{"prohibit", "unreachable", "blackhole"}

// ruleAttrs lists a rule resource's attributes, every one always present
// (empty when unset) so that dropping a selector from the file is a change.
var ruleAttrs = []string{"family", "from", "to", "iif", "oif", "ipproto", "sport", "dport", "action"}

// ruleSelectors are the words of a rule that take a value, in the order
// an error lists them.
var ruleSelectors = []string{"from", "to", "iif", "oif", "ipproto", "sport", "dport", "priority"}

// parseRule reads "[from CIDR] [to CIDR] [iif IF] [oif IF] [ipproto P]
// [sport N[-M]] [dport N[-M]] [priority N] ACTION".
func parseRule(w []string) (Rule, error) {
	var ru Rule
	seen := map[string]bool{}
	for i := 0; i < len(w); i++ {
		word := w[i]
		if contains(ruleActions, word) {
			if ru.Action != "" {
				return ru, fmt.Errorf("two actions, %s and %s", ru.Action, word)
			}
			ru.Action = word
			continue
		}
		if !contains(ruleSelectors, word) {
			return ru, fmt.Errorf("unknown word %q (want %s, or an action: %s)",
				word, strings.Join(ruleSelectors, ", "), strings.Join(ruleActions, ", "))
		}
		if i+1 >= len(w) {
			return ru, fmt.Errorf("%q needs a value", word)
		}
		if seen[word] {
			return ru, fmt.Errorf("%s given twice", word)
		}
		seen[word] = true
		i++
		if err := ru.set(word, w[i]); err != nil {
			return ru, fmt.Errorf("%s: %v", word, err)
		}
	}
	return ru, ru.check()
}

// set reads v as the value of selector word (one of ruleSelectors) into
// ru. It stores what it read even when it is not valid.
func (ru *Rule) set(word, v string) error {
	var err error
	switch word {
	case "from":
		ru.From, err = rulePrefix(v)
	case "to":
		ru.To, err = rulePrefix(v)
	case "iif":
		ru.Iif, err = v, ifName(v)
	case "oif":
		ru.Oif, err = v, ifName(v)
	case "ipproto":
		ru.IPProto, err = v, ruleProto(v)
	case "sport":
		ru.Sport, err = portRange(v)
	case "dport":
		ru.Dport, err = portRange(v)
	case "priority":
		ru.Priority, err = rulePriority(v)
	}
	return err
}

// check is what a whole rule needs beyond its words: an action, ports only
// with a protocol that has them, and addresses of one family.
func (ru Rule) check() error {
	if ru.Action == "" {
		return fmt.Errorf("needs an action: %s", strings.Join(ruleActions, ", "))
	}
	if (ru.Sport != "" || ru.Dport != "") && ru.IPProto != "tcp" && ru.IPProto != "udp" {
		return fmt.Errorf("sport and dport need ipproto tcp or udp")
	}
	if ru.From.IsValid() && ru.To.IsValid() && ru.From.Addr().Is4() != ru.To.Addr().Is4() {
		return fmt.Errorf("from %s and to %s are of different families", ru.From, ru.To)
	}
	return nil
}

// ruleProto checks an ipproto value.
func ruleProto(v string) error {
	if v != "tcp" && v != "udp" && v != "icmp" {
		return fmt.Errorf("%q is not tcp, udp or icmp", v)
	}
	return nil
}

// rulePriority reads a priority a file may give, rulePriorityMin to
// rulePriorityMax. Like strconv.Atoi, it returns the number it read (0
// when there is none) with its error.
func rulePriority(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < rulePriorityMin || n > rulePriorityMax {
		return n, fmt.Errorf("%q is not a number in %d..%d", v, rulePriorityMin, rulePriorityMax)
	}
	return n, nil
}

// rulePrefix reads a CIDR, or an address as a host prefix.
func rulePrefix(v string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(v)
	if err != nil {
		a, aerr := netip.ParseAddr(v)
		if aerr != nil {
			return p, fmt.Errorf("%q is not an address or a CIDR", v)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is4In6() {
		// ::ffff:10.0.0.1 is the IPv4 address 10.0.0.1; a mapped prefix
		// shorter than the mapping itself is no IPv4 prefix at all (and an
		// invalid prefix would read as "any address").
		if p.Bits() < 96 {
			return netip.Prefix{}, fmt.Errorf("%q mixes IPv4-mapped and IPv6 addresses: write the IPv4 or the IPv6 prefix", v)
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// portRange reads N or N-M (1..65535, N <= M) into its canonical form: N
// when N = M.
func portRange(v string) (string, error) {
	a, b, ok := ports(v, "-")
	if !ok {
		return "", fmt.Errorf("%q is not a port (1..65535) or a range N-M", v)
	}
	if a == b {
		return strconv.Itoa(a), nil
	}
	return strconv.Itoa(a) + "-" + strconv.Itoa(b), nil
}

// Family is inet6 when the rule selects IPv6 addresses, else inet: a
// rule without addresses applies to IPv4.
func (ru Rule) Family() string {
	if ru.From.IsValid() && ru.From.Addr().Is6() || ru.To.IsValid() && ru.To.Addr().Is6() {
		return "inet6"
	}
	return "inet"
}

// priority is the rule's priority, the i-th of its node.
func (ru Rule) priority(i int) int {
	if ru.Priority != 0 {
		return ru.Priority
	}
	return RulePriorityBase + i
}

// attrs is the rule's resource attributes.
func (ru Rule) attrs() map[string]string {
	str := func(p netip.Prefix) string {
		if p.IsValid() {
			return p.String()
		}
		return ""
	}
	return map[string]string{
		"family": ru.Family(), "from": str(ru.From), "to": str(ru.To),
		"iif": ru.Iif, "oif": ru.Oif, "ipproto": ru.IPProto,
		"sport": ru.Sport, "dport": ru.Dport, "action": ru.Action,
	}
}

// checkRules validates a node's rules: their interfaces exist in the node,
// and no two share a priority.
func (v *validator) checkRules(n *Node) {
	prios := map[int]bool{}
	for i, ru := range n.Rules {
		for _, ifn := range []string{ru.Iif, ru.Oif} {
			if ifn != "" {
				v.ifaceAt(n.Meta, ru.Pos, "rule", n.Name, ifn)
			}
		}
		p := ru.priority(i)
		if prios[p] {
			v.errorAt(n.Meta, ru.Pos, "rule: priority %d given twice (a rule without one has %d + its index)", p, RulePriorityBase)
		}
		prios[p] = true
	}
}

// RuleText renders a rule resource's attributes as ip-rule words:
// "iif eth0 ipproto tcp dport 22 prohibit", with "(inet6)" after an IPv6
// rule.
func RuleText(attrs map[string]string) string {
	var w []string
	for _, k := range ruleAttrs {
		if v := attrs[k]; v != "" && k != "family" && k != "action" {
			w = append(w, k, v)
		}
	}
	if a := attrs["action"]; a != "" {
		w = append(w, a)
	}
	if f := attrs["family"]; f != "" && f != "inet" {
		w = append(w, "("+f+")")
	}
	return strings.Join(w, " ")
}
