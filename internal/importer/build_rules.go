package importer

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// kernelRules are the rules every namespace starts with, by family.
var kernelRules = map[int][][2]int{ // priority, table
	unix.AF_INET:  {{0, unix.RT_TABLE_LOCAL}, {32766, unix.RT_TABLE_MAIN}, {32767, unix.RT_TABLE_DEFAULT}},
	unix.AF_INET6: {{0, unix.RT_TABLE_LOCAL}, {32766, unix.RT_TABLE_MAIN}},
}

var ruleActions = map[uint8]string{nl.FR_ACT_BLACKHOLE: "blackhole", nl.FR_ACT_UNREACHABLE: "unreachable", nl.FR_ACT_PROHIBIT: "prohibit"}

// policyRules writes the rules a file can say (selectors, then a
// blackhole, unreachable or prohibit action) and notes the others, and
// the kernel's own rules when one is missing.
func (b *builder) policyRules(nb *nodeBuild) {
	seen := map[[3]int]bool{}
	prios := map[int]bool{}
	for _, r := range nb.st.Rules {
		if r.Family != unix.AF_INET && r.Family != unix.AF_INET6 {
			// Multicast routing's rules (RTNL_FAMILY_IPMR, IP6MR): only
			// their kernel default is expected.
			if r.Action != nl.FR_ACT_TO_TBL || r.Priority != 32767 || r.Src.IsValid() || r.Dst.IsValid() || r.Iif != "" || r.Oif != "" || len(r.Others) > 0 {
				nb.note("multicast routing rule %s (family %d)", ruleText(r), r.Family)
			}
			continue
		}
		if r.Action == nl.FR_ACT_TO_TBL && isKernelRule(r) {
			seen[[3]int{r.Family, r.Priority, r.Table}] = true
			continue
		}
		var why []string
		action, ok := ruleActions[r.Action]
		if !ok {
			why = append(why, "action "+ruleAction(r))
		}
		why = append(why, r.Others...)
		if r.Priority < 1 || r.Priority > 32765 {
			why = append(why, "priority outside 1..32765")
		}
		if prios[r.Priority] {
			why = append(why, "a second rule at its priority")
		}
		v6 := r.Src.Addr().Is6() || r.Dst.Addr().Is6()
		if r.Family == unix.AF_INET6 && !v6 {
			why = append(why, "an IPv6 rule without an IPv6 from or to")
		}
		proto := ""
		switch {
		case r.IPProto == 0:
		case r.IPProto == unix.IPPROTO_TCP:
			proto = "tcp"
		case r.IPProto == unix.IPPROTO_UDP:
			proto = "udp"
		case r.IPProto == unix.IPPROTO_ICMP && r.Family == unix.AF_INET, r.IPProto == unix.IPPROTO_ICMPV6 && r.Family == unix.AF_INET6:
			proto = "icmp"
		default:
			why = append(why, "ipproto "+strconv.Itoa(r.IPProto))
		}
		for _, dev := range []string{r.Iif, r.Oif} {
			if dev != "" && !nb.written[dev] {
				why = append(why, dev+" is not imported")
			}
		}
		if len(why) > 0 {
			nb.note("rule %s: %s", ruleText(r), strings.Join(why, ", "))
			continue
		}
		prios[r.Priority] = true
		nb.rules = append(nb.rules, ruleLine(r, proto, action))
	}
	for _, fam := range []int{unix.AF_INET, unix.AF_INET6} {
		for _, k := range kernelRules[fam] {
			if !seen[[3]int{fam, k[0], k[1]}] && hasFamily(nb, fam) {
				nb.note("the kernel's rule %d (from all lookup %s) is missing: a file cannot delete it", k[0], tableName(k[1]))
			}
		}
	}
}

// hasFamily reports whether the namespace has rules of family at all
// (an IPv6-disabled namespace has none).
func hasFamily(nb *nodeBuild, fam int) bool {
	for _, r := range nb.st.Rules {
		if r.Family == fam {
			return true
		}
	}
	return false
}

func isKernelRule(r Rule) bool {
	if r.Src.IsValid() || r.Dst.IsValid() || r.Iif != "" || r.Oif != "" || r.IPProto != 0 || r.Sport != [2]uint16{} || r.Dport != [2]uint16{} || len(r.Others) > 0 {
		return false
	}
	for _, k := range kernelRules[r.Family] {
		if r.Priority == k[0] && r.Table == k[1] {
			return true
		}
	}
	return false
}

// ruleLine is a rule in the file's words.
func ruleLine(r Rule, proto, action string) string {
	w := selectorWords(nil, r, proto)
	w = append(w, "priority", strconv.Itoa(r.Priority), action)
	return strings.Join(w, " ")
}

// ruleText is a rule in ip rule's words, for a note.
func ruleText(r Rule) string {
	var w []string
	if r.Family == unix.AF_INET6 {
		w = append(w, "-6")
	}
	w = append(w, "priority", strconv.Itoa(r.Priority))
	proto := ""
	if r.IPProto != 0 {
		proto = strconv.Itoa(r.IPProto)
	}
	w = selectorWords(w, r, proto)
	w = append(w, r.Others...)
	return strings.Join(append(w, ruleAction(r)), " ")
}

// selectorWords appends the rule's selectors to w, in the order both the
// file and ip rule write them; proto is the ipproto word, "" for none.
func selectorWords(w []string, r Rule, proto string) []string {
	if r.Src.IsValid() {
		w = append(w, "from", hostOrPrefix(r.Src))
	}
	if r.Dst.IsValid() {
		w = append(w, "to", hostOrPrefix(r.Dst))
	}
	if r.Iif != "" {
		w = append(w, "iif", r.Iif)
	}
	if r.Oif != "" {
		w = append(w, "oif", r.Oif)
	}
	if proto != "" {
		w = append(w, "ipproto", proto)
	}
	if r.Sport != [2]uint16{} {
		w = append(w, "sport", portRange(r.Sport))
	}
	if r.Dport != [2]uint16{} {
		w = append(w, "dport", portRange(r.Dport))
	}
	return w
}

func ruleAction(r Rule) string {
	if a, ok := ruleActions[r.Action]; ok {
		return a
	}
	switch r.Action {
	case nl.FR_ACT_TO_TBL:
		return "lookup " + tableName(r.Table)
	case nl.FR_ACT_GOTO:
		return "goto"
	case nl.FR_ACT_NOP:
		return "nop"
	}
	return "action " + strconv.Itoa(int(r.Action))
}

func tableName(t int) string {
	switch t {
	case unix.RT_TABLE_LOCAL:
		return "local"
	case unix.RT_TABLE_MAIN:
		return "main"
	case unix.RT_TABLE_DEFAULT:
		return "default"
	}
	return strconv.Itoa(t)
}

func hostOrPrefix(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

func portRange(r [2]uint16) string {
	if r[0] == r[1] {
		return strconv.Itoa(int(r[0]))
	}
	return fmt.Sprintf("%d-%d", r[0], r[1])
}
