package compose

import (
	"strconv"
	"strings"
)

// rule lowers an [nfqueue:] section to the iptables rule that queues its
// packets (KindIPTables): what it matches, where it sends them, and the
// IP families it needs a rule in. An address or icmp/icmpv6 pins the
// family; otherwise both, so IPv6 traffic is queued too.
func (q *NFQueue) rule() Resource {
	queue := strconv.Itoa(q.QueueFirst)
	if q.QueueLast != q.QueueFirst {
		queue += "-" + strconv.Itoa(q.QueueLast)
	}
	proto := q.Protocol
	if proto == "all" {
		proto = ""
	}
	attrs := map[string]string{
		"chain": q.Chain, "protocol": proto, "sport": q.Sport, "dport": q.Dport,
		"in": q.In, "out": q.Out, "queue": queue, "bypass": strconv.FormatBool(q.Fail == "open"),
		"source": "", "destination": "", "families": strings.Join(q.Families(), ","),
	}
	if q.Source.IsValid() {
		attrs["source"] = q.Source.String()
	}
	if q.Destination.IsValid() {
		attrs["destination"] = q.Destination.String()
	}
	return Resource{Kind: KindIPTables, Node: q.Netns, Name: q.Name, Attrs: attrs}
}

// Families lists the IP families ("4", "6") the queue's rule must exist in.
func (q *NFQueue) Families() []string {
	v4, v6 := true, true
	for _, a := range []bool{q.Source.IsValid() && q.Source.Addr().Is4(), q.Destination.IsValid() && q.Destination.Addr().Is4()} {
		if a {
			v6 = false
		}
	}
	for _, a := range []bool{q.Source.IsValid() && q.Source.Addr().Is6(), q.Destination.IsValid() && q.Destination.Addr().Is6()} {
		if a {
			v4 = false
		}
	}
	switch q.Protocol {
	case "icmp":
		v6 = false
	case "icmpv6":
		v4 = false
	}
	var out []string
	if v4 {
		out = append(out, "4")
	}
	if v6 {
		out = append(out, "6")
	}
	return out
}
