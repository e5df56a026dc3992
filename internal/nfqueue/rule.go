package nfqueue

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"strconv"
	"strings"

	"github.com/netcompose/netcompose/compose"
)

// Rule is one NFQUEUE rule of a lab in a node: it sends the packets it
// matches, in one IP family at one hook, to a queue. It lives in the lab's
// chain for that hook and carries the comment netcompose:<lab>:<name>,
// which is how netcompose finds it again and knows it is its own.
type Rule struct {
	Lab, Name             string
	Family                int    // 4 (iptables) or 6 (ip6tables)
	Chain                 string // the hook: input, forward or output
	Protocol              string // tcp, udp, icmp, icmpv6; "" for all
	Source                netip.Prefix
	Destination           netip.Prefix
	Sport                 string // port "N" or range "A:B"; needs tcp or udp
	Dport                 string
	In, Out               string // interfaces; a trailing + is a wildcard
	QueueFirst, QueueLast uint16
	// Bypass accepts packets when no consumer is bound (fail = open);
	// without it they are dropped.
	Bypass bool
	// Unparsed holds an installed rule's line when it carries the lab's
	// comment but options this package never writes (set only by
	// ObserveRules): it differs from every desired rule, so a diff
	// replaces it.
	Unparsed string
}

// hooks maps a rule's chain to the built-in chain that jumps to the lab's.
var hooks = map[string]string{"input": "INPUT", "forward": "FORWARD", "output": "OUTPUT"}

// commentPrefix marks every rule of lab.
func commentPrefix(lab string) string { return "netcompose:" + lab + ":" }

// ID names the rule among its lab's in a node: family and name. A driver
// diffs desired and observed rules by ID, and compares equal IDs with ==
// (an observed rule differing in anything is replaced by AddRule).
func (r Rule) ID() string { return fmt.Sprintf("ipv%d/%s", r.Family, r.Name) }

// Comment is the rule's ownership mark.
func (r Rule) Comment() string { return commentPrefix(r.Lab) + r.Name }

// jumpComment marks the jump from a built-in chain to the lab's chain.
func jumpComment(lab string) string { return commentPrefix(lab) + "jump" }

// maxChain is iptables' limit on a chain name (XT_EXTENSION_MAXNAMELEN
// 29, with the NUL).
const maxChain = 28

// LabChain is the lab's chain for a hook: NC-IN-<lab>, NC-FWD-<lab>,
// NC-OUT-<lab>. A lab name too long for iptables is cut and given a hash
// of the whole, so that two long names stay apart.
func LabChain(lab, hook string) string {
	short := map[string]string{"input": "IN", "forward": "FWD", "output": "OUT"}[hook]
	name := "NC-" + short + "-" + lab
	if len(name) <= maxChain {
		return name
	}
	h := fnv.New32a()
	h.Write([]byte(lab))
	sum := fmt.Sprintf("%08x", h.Sum32())
	keep := maxChain - len("NC-"+short+"-") - len(sum) - 1
	return "NC-" + short + "-" + lab[:keep] + "-" + sum
}

// Spec is the rule's iptables arguments after "-A CHAIN", in the order
// iptables -S prints them.
func (r Rule) Spec() []string {
	var a []string
	if r.Source.IsValid() {
		a = append(a, "-s", r.Source.String())
	}
	if r.Destination.IsValid() {
		a = append(a, "-d", r.Destination.String())
	}
	if r.In != "" {
		a = append(a, "-i", r.In)
	}
	if r.Out != "" {
		a = append(a, "-o", r.Out)
	}
	if r.Protocol != "" {
		a = append(a, "-p", r.Protocol)
	}
	if r.Sport != "" || r.Dport != "" {
		a = append(a, "-m", r.Protocol)
		if r.Sport != "" {
			a = append(a, "--sport", r.Sport)
		}
		if r.Dport != "" {
			a = append(a, "--dport", r.Dport)
		}
	}
	a = append(a, "-m", "comment", "--comment", r.Comment(), "-j", "NFQUEUE")
	if r.QueueFirst == r.QueueLast {
		a = append(a, "--queue-num", strconv.Itoa(int(r.QueueFirst)))
	} else {
		a = append(a, "--queue-balance", fmt.Sprintf("%d:%d", r.QueueFirst, r.QueueLast))
	}
	if r.Bypass {
		a = append(a, "--queue-bypass")
	}
	return a
}

// String is the rule as iptables-save would show it, with its family:
// "ipv4 -A NC-FWD-lab -p tcp ...". Equal rules print alike.
func (r Rule) String() string {
	if r.Unparsed != "" {
		return fmt.Sprintf("ipv%d %s", r.Family, r.Unparsed)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "ipv%d -A %s", r.Family, LabChain(r.Lab, r.Chain))
	for _, a := range r.Spec() {
		if strings.ContainsAny(a, " \"\\") || a == "" {
			a = strconv.Quote(a)
		}
		b.WriteString(" " + a)
	}
	return b.String()
}

// validate refuses what iptables would refuse, or what would not survive
// a round trip through iptables -S.
func (r Rule) validate() error {
	var errs []error
	if r.Lab == "" || r.Name == "" {
		errs = append(errs, errors.New("lab and name are required"))
	}
	if strings.ContainsAny(r.Comment(), "\n\r\x00") || len(r.Comment()) > 255 {
		errs = append(errs, fmt.Errorf("comment %q: want at most 255 bytes on one line", r.Comment()))
	}
	if r.Family != 4 && r.Family != 6 {
		errs = append(errs, fmt.Errorf("family %d: want 4 or 6", r.Family))
	}
	if _, ok := hooks[r.Chain]; !ok {
		errs = append(errs, fmt.Errorf("chain %q: want input, forward or output", r.Chain))
	}
	switch r.Protocol {
	case "", "tcp", "udp":
	case "icmp":
		if r.Family == 6 {
			errs = append(errs, errors.New("protocol icmp in an ipv6 rule (want icmpv6)"))
		}
	case "icmpv6":
		if r.Family == 4 {
			errs = append(errs, errors.New("protocol icmpv6 in an ipv4 rule (want icmp)"))
		}
	default:
		errs = append(errs, fmt.Errorf("protocol %q: want tcp, udp, icmp or icmpv6", r.Protocol))
	}
	if (r.Sport != "" || r.Dport != "") && r.Protocol != "tcp" && r.Protocol != "udp" {
		errs = append(errs, errors.New("sport and dport need protocol tcp or udp"))
	}
	for _, p := range []netip.Prefix{r.Source, r.Destination} {
		if p.IsValid() && (p.Addr().Is4() != (r.Family == 4) || p != p.Masked()) {
			errs = append(errs, fmt.Errorf("address %s: not a masked ipv%d prefix", p, r.Family))
		}
	}
	if r.In != "" && r.Chain == "output" {
		errs = append(errs, errors.New("in: no input interface at the output hook"))
	}
	if r.Out != "" && r.Chain == "input" {
		errs = append(errs, errors.New("out: no output interface at the input hook"))
	}
	if r.QueueFirst > r.QueueLast {
		errs = append(errs, fmt.Errorf("queue %d:%d is not a range", r.QueueFirst, r.QueueLast))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("rule %s: %w", r.Comment(), err)
	}
	return nil
}

// RulesFor is the rules an [nfqueue:] section installs: one per IP family
// its matches allow (an address or icmp/icmpv6 pins the family; otherwise
// both, so that IPv6 traffic is queued too).
func RulesFor(lab string, q *compose.NFQueue) ([]Rule, error) {
	base := Rule{
		Lab: lab, Name: q.Name, Chain: q.Chain,
		Source: q.Source, Destination: q.Destination,
		Sport: q.Sport, Dport: q.Dport, In: q.In, Out: q.Out,
		QueueFirst: uint16(q.QueueFirst), QueueLast: uint16(q.QueueLast),
		Bypass: q.Fail == "open",
	}
	if base.Chain == "" {
		base.Chain = "forward"
	}
	if q.Protocol != "all" {
		base.Protocol = q.Protocol
	}
	families := map[int]bool{4: true, 6: true}
	pin := func(f int) {
		families[10-f] = false // 4 <-> 6
	}
	for _, p := range []netip.Prefix{q.Source, q.Destination} {
		if p.IsValid() {
			if p.Addr().Is4() {
				pin(4)
			} else {
				pin(6)
			}
		}
	}
	switch q.Protocol {
	case "icmp":
		pin(4)
	case "icmpv6":
		pin(6)
	}
	var out []Rule
	for _, f := range []int{4, 6} {
		if families[f] {
			r := base
			r.Family = f
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("nfqueue %s: its addresses and protocol belong to different IP families", q.Name)
	}
	for _, r := range out {
		if err := r.validate(); err != nil {
			return nil, fmt.Errorf("nfqueue %s: %w", q.Name, err)
		}
	}
	return out, nil
}
