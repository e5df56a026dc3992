package compose

import (
	"errors"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

type errorString string

func (e errorString) Error() string { return string(e) }

func quote(s string) string { return strconv.Quote(s) }

// NFQueue is an [nfqueue:NAME] section: an iptables rule in a node that
// sends matching packets to a queue served by a pipeline.
type NFQueue struct {
	Meta
	Name        string
	Netns       string
	Chain       string // input|forward|output, default forward
	QueueFirst  int    // queue = N or N-M (balanced)
	QueueLast   int
	Protocol    string // tcp|udp|icmp|all ("" = all)
	Source      netip.Prefix
	Destination netip.Prefix
	Sport       string // port or port range a:b, as iptables takes it
	Dport       string
	In, Out     string // interfaces
	Pipeline    string // a pipeline or a single filter
	Fail        string // open|closed, default closed
}

// Filter is a [filter:NAME] section: one packet filter stage, a builtin
// kind plus that kind's keys (kept as strings, validated per kind).
type Filter struct {
	Meta
	Name string
	Kind string            // from use = builtin:KIND
	Args map[string]string // the kind's keys
}

// Pipeline is a [pipeline:NAME] section: filters and pipelines in order.
type Pipeline struct {
	Meta
	Name   string
	Stages []string
}

// filterKeys are the keys each builtin filter kind reads.
// They match internal/nfqueue/filter, which runs them.
var filterKeys = map[string][]string{
	"log":       {"prefix"},
	"accept":    {},
	"drop":      {},
	"match":     {"protocol", "source", "destination", "sport", "dport", "contains", "regex", "verdict"},
	"ratelimit": {"rate", "burst", "per"},
	"mark":      {"mark", "connmark"},
	"count":     {},
}

func readNFQueue(r *reader) *NFQueue {
	q := &NFQueue{Name: r.s.Name}
	q.Netns = r.str("netns", "")
	if q.Netns == "" {
		r.errorf("netns", "netns: missing (the node whose packets are queued)")
	}
	q.Chain = r.oneOf("chain", "forward", "input", "forward", "output")
	qs := r.str("queue", "0")
	first, last, err := queueRange(qs)
	if err != nil {
		r.errorf("queue", "queue: %v", err)
	}
	q.QueueFirst, q.QueueLast = first, last
	q.Protocol = r.oneOf("protocol", "", "tcp", "udp", "icmp", "icmpv6", "all")
	q.Source = r.prefixOrAddr("source")
	q.Destination = r.prefixOrAddr("destination")
	q.Sport = r.portRange("sport")
	q.Dport = r.portRange("dport")
	if (q.Sport != "" || q.Dport != "") && q.Protocol != "tcp" && q.Protocol != "udp" {
		r.errorf("protocol", "sport and dport need protocol = tcp or udp")
	}
	q.In = r.str("in", "")
	q.Out = r.str("out", "")
	for _, k := range []string{"in", "out"} {
		if v := map[string]string{"in": q.In, "out": q.Out}[k]; v != "" {
			if err := ifName(strings.TrimSuffix(v, "+")); err != nil {
				r.errorf(k, "%s: %v", k, err)
			}
		}
	}
	q.Pipeline = r.str("pipeline", "")
	if q.Pipeline == "" {
		r.errorf("pipeline", "pipeline: missing (a pipeline or filter that judges the packets)")
	}
	q.Fail = r.oneOf("fail", "closed", "open", "closed")
	q.Meta = r.meta
	return q
}

// queueRange reads "N" or "N-M" within 0..65535.
func queueRange(s string) (int, int, error) {
	a, b, isRange := strings.Cut(s, "-")
	first, err1 := strconv.Atoi(a)
	last := first
	var err2 error
	if isRange {
		last, err2 = strconv.Atoi(b)
	}
	if err1 != nil || err2 != nil || first < 0 || last > 65535 || first > last {
		return 0, 0, errors.New(quote(s) + " is not a queue number 0-65535 or a range a-b")
	}
	return first, last, nil
}

func (r *reader) prefixOrAddr(key string) netip.Prefix {
	v := r.str(key, "")
	if v == "" {
		return netip.Prefix{}
	}
	if p, err := netip.ParsePrefix(v); err == nil {
		return p.Masked()
	}
	if a, err := netip.ParseAddr(v); err == nil {
		return netip.PrefixFrom(a, a.BitLen())
	}
	r.errorf(key, "%s: %q is not an address or CIDR", key, v)
	return netip.Prefix{}
}

// portRange reads a port or a range a:b (a-b accepted), returned as a:b.
func (r *reader) portRange(key string) string {
	v := r.str(key, "")
	if v == "" {
		return ""
	}
	lo, hi, ok := ports(strings.ReplaceAll(v, "-", ":"), ":")
	if !ok {
		r.errorf(key, "%s: %q is not a port 1-65535 or a range a:b", key, v)
		return ""
	}
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return strconv.Itoa(lo) + ":" + strconv.Itoa(hi)
}

// ports reads a port N or a range N<sep>M (1..65535, N <= M); a single
// port is the range N..N.
func ports(v, sep string) (lo, hi int, ok bool) {
	a, b, isRange := strings.Cut(v, sep)
	if !isRange {
		b = a
	}
	lo, err1 := port(a)
	hi, err2 := port(b)
	return lo, hi, err1 == nil && err2 == nil && lo <= hi
}

func port(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, errors.New(quote(s) + " is not a port 1-65535")
	}
	return n, nil
}

func readFilter(r *reader) *Filter {
	f := &Filter{Name: r.s.Name, Args: map[string]string{}}
	kind, ok := strings.CutPrefix(r.s.Use, "builtin:")
	if !ok {
		r.errorf("use", "use: missing builtin:KIND (log, accept, drop, match, ratelimit, mark, count)")
	} else if _, known := filterKeys[kind]; !known {
		r.errorf("use", "use: unknown filter builtin:%s (want log, accept, drop, match, ratelimit, mark, count)", kind)
	}
	f.Kind = kind
	for _, k := range filterKeys[kind] {
		if v, ok := r.lookup(k); ok {
			f.Args[k] = v
		}
	}
	switch kind {
	case "match":
		r.oneOf("protocol", "", "tcp", "udp", "icmp", "icmpv6", "all")
		r.prefixOrAddr("source")
		r.prefixOrAddr("destination")
		r.portRange("sport")
		r.portRange("dport")
		if v, ok := f.Args["contains"]; ok && v == "" {
			r.errorf("contains", "contains: empty (the payload bytes to look for)")
		}
		if v, ok := f.Args["regex"]; ok {
			if _, err := regexp.Compile(v); err != nil {
				r.errorf("regex", "regex: %v", err)
			}
		}
		r.oneOf("verdict", "drop", "accept", "drop", "continue")
	case "ratelimit":
		r.integer("rate", 1, 1<<30, 0)
		r.integer("burst", 1, 1<<30, 0)
		if f.Args["rate"] == "" {
			r.errorf("rate", "rate: missing (packets per second)")
		}
		r.oneOf("per", "", "source")
	case "mark":
		_, hasMark := f.Args["mark"]
		_, hasConn := f.Args["connmark"]
		if !hasMark && !hasConn {
			r.errorf("mark", "mark: missing (mark, connmark or both: 32-bit numbers, 0x allowed)")
		}
		for _, k := range []string{"mark", "connmark"} {
			if v, ok := f.Args[k]; ok {
				if _, err := strconv.ParseUint(v, 0, 32); err != nil {
					r.errorf(k, "%s: %q is not a 32-bit number", k, v)
				}
			}
		}
	}
	f.Meta = r.meta
	return f
}

func readPipeline(r *reader) *Pipeline {
	p := &Pipeline{Name: r.s.Name}
	p.Stages = r.list("pipeline")
	if len(p.Stages) == 0 {
		r.errorf("pipeline", "pipeline: missing (filters and pipelines, in order)")
	}
	p.Meta = r.meta
	return p
}
