package filter

import (
	"bytes"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// match decides for the packets that meet every condition it was given
// (protocol, addresses, ports, payload); the others go on. With verdict =
// continue it is a guard: matching packets go on to the next stage, the
// others leave the pipeline with the default verdict.
type match struct {
	protocols        []uint8 // empty = any
	src, dst         netip.Prefix
	sport, dport     portRange
	contains         []byte
	regex            *regexp.Regexp
	onMatch, onOther Verdict
}

type portRange struct{ lo, hi uint16 } // zero = any

func (r portRange) any() bool { return r.hi == 0 }

func (r portRange) has(p uint16) bool { return r.lo <= p && p <= r.hi }

var matchKeys = []string{"protocol", "source", "destination", "sport", "dport", "contains", "regex", "verdict"}

func init() { Register("match", matchKeys, newMatch) }

func newMatch(args map[string]string, _ Env) (Filter, error) {
	m := &match{onMatch: Drop, onOther: Continue}
	var err error
	switch v := args["protocol"]; v {
	case "", "all":
	case "tcp":
		m.protocols = []uint8{ProtoTCP}
	case "udp":
		m.protocols = []uint8{ProtoUDP}
	case "icmp":
		m.protocols = []uint8{ProtoICMP}
	case "icmpv6":
		m.protocols = []uint8{ProtoICMPv6}
	default:
		return nil, fmt.Errorf("match: protocol: %q is not tcp, udp, icmp, icmpv6 or all", v)
	}
	if m.src, err = prefix(args["source"]); err != nil {
		return nil, fmt.Errorf("match: source: %w", err)
	}
	if m.dst, err = prefix(args["destination"]); err != nil {
		return nil, fmt.Errorf("match: destination: %w", err)
	}
	if m.sport, err = ports(args["sport"]); err != nil {
		return nil, fmt.Errorf("match: sport: %w", err)
	}
	if m.dport, err = ports(args["dport"]); err != nil {
		return nil, fmt.Errorf("match: dport: %w", err)
	}
	if (!m.sport.any() || !m.dport.any()) && len(m.protocols) == 0 {
		// Ports exist for tcp and udp only; without a protocol, either.
		m.protocols = []uint8{ProtoTCP, ProtoUDP}
	}
	if v, ok := args["contains"]; ok {
		if v == "" {
			return nil, fmt.Errorf("match: contains: empty")
		}
		m.contains = []byte(v)
	}
	if v, ok := args["regex"]; ok {
		if m.regex, err = regexp.Compile(v); err != nil {
			return nil, fmt.Errorf("match: regex: %w", err)
		}
	}
	switch v := args["verdict"]; v {
	case "", "drop":
	case "accept":
		m.onMatch = Accept
	case "continue":
		m.onMatch, m.onOther = Continue, Default
	default:
		return nil, fmt.Errorf("match: verdict: %q is not accept, drop or continue", v)
	}
	return m, nil
}

func (m *match) Judge(p *Packet) Verdict {
	if m.matches(p) {
		return m.onMatch
	}
	return m.onOther
}

func (m *match) matches(p *Packet) bool {
	if len(m.protocols) > 0 && !hasProto(m.protocols, p.Protocol) {
		return false
	}
	if m.src.IsValid() && !m.src.Contains(p.Src) {
		return false
	}
	if m.dst.IsValid() && !m.dst.Contains(p.Dst) {
		return false
	}
	if !m.sport.any() && (!p.Transport || !m.sport.has(p.Sport)) {
		return false
	}
	if !m.dport.any() && (!p.Transport || !m.dport.has(p.Dport)) {
		return false
	}
	if m.contains != nil && !bytes.Contains(p.Payload, m.contains) {
		return false
	}
	if m.regex != nil && !m.regex.Match(p.Payload) {
		return false
	}
	return true
}

func hasProto(ps []uint8, p uint8) bool {
	for _, x := range ps {
		if x == p {
			return true
		}
	}
	return false
}

// prefix reads an address or CIDR; "" is any.
func prefix(s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, nil
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ports reads a port or a range a:b (a-b too, as compose accepts).
func ports(s string) (portRange, error) {
	if s == "" {
		return portRange{}, nil
	}
	a, b, isRange := strings.Cut(strings.ReplaceAll(s, "-", ":"), ":")
	if !isRange {
		b = a
	}
	lo, err1 := strconv.ParseUint(a, 10, 16)
	hi, err2 := strconv.ParseUint(b, 10, 16)
	if err1 != nil || err2 != nil || lo == 0 || lo > hi {
		return portRange{}, fmt.Errorf("%q is not a port 1-65535 or a range a:b", s)
	}
	return portRange{uint16(lo), uint16(hi)}, nil
}
