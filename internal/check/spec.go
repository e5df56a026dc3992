// Package check runs the probes behind a lab's [check:] sections: ICMP
// echo, TCP connect, UDP echo and ARP resolution, each from inside the
// namespace of the node it starts at, all in-process (no ping or nc).
//
// A probe opens its socket inside the namespace through nsrun and then
// uses it from an ordinary goroutine: a socket keeps the namespace it was
// created in.
package check

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Protocols a check can probe with.
const (
	ICMP      = "icmp"
	TCP       = "tcp"
	UDP       = "udp"
	ARP       = "arp"
	WebSocket = "websocket"
	HTTP      = "http"
)

// Expectations.
const (
	ExpectPass = "pass"
	ExpectFail = "fail"
)

// Defaults for zero fields of a Spec.
const (
	DefaultTimeout   = 2 * time.Second
	DefaultICMPCount = 3
	// icmpInterval separates echo requests of one icmp check.
	icmpInterval = 200 * time.Millisecond
)

// Spec is one resolved check: node names are already turned into kernel
// namespace names and addresses. Specs are inputs, not output: Result is
// what gets serialised.
type Spec struct {
	Name      string
	FromNetns string // kernel namespace name, e.g. lab-client
	Protocol  string // icmp tcp udp arp
	Target    netip.Addr
	Port      uint16 // tcp, udp
	// TargetNetns is the namespace owning Target (tcp, udp). When set and
	// nothing listens at Target:Port there, the check opens a listener
	// (tcp) or an echo responder (udp) in it for its duration. For arp it
	// only serves to name answering MACs.
	TargetNetns string
	Expect      string // pass (default) or fail
	// Count is the number of echo requests (icmp; default 3).
	Count int
	// MaxLoss is the fraction (0..1) of echo requests that may go
	// unanswered for an icmp check to count as reachable.
	MaxLoss float64
	// TTL (icmp), when not 0, is the TTL the replies must arrive with: it
	// proves the path, each router on the way back taking one (a Linux
	// peer starts at 64, so 63 means exactly one router).
	TTL int
	// MinRTT and MaxRTT (icmp), when not 0, bound the round trips under
	// expect = pass: the fastest reply must take at least MinRTT (a link
	// delays as declared), the slowest at most MaxRTT. A check with a
	// MaxRTT first sends one uncounted echo, so that neighbour resolution
	// (which crosses the same delayed link) is not measured.
	MinRTT, MaxRTT time.Duration
	// CaptureNetns and CaptureIface (icmp), when set, name an interface
	// watched while the echoes go: CaptureWant says whether it must see
	// the check's echo requests (a monitor port that mirrors a segment)
	// or must not. CaptureName names it in reasons ("ids:eth0").
	CaptureNetns, CaptureIface, CaptureName string
	CaptureWant                             bool
	// Timeout bounds the wait: per check for tcp, udp and arp, after the
	// last echo request for icmp. Default 2s.
	Timeout time.Duration
	// Answer (arp) says who must answer. Each set is the MACs of one
	// interface (or of every interface of a node) and counts as answering
	// when any of its MACs does. With Expect=pass every set must answer
	// and no MAC outside them may; with no sets any answer passes. With
	// Expect=fail no set may answer; with no sets nobody may.
	Answer []AnswerSet
	// Interface (arp) of FromNetns to send from; default: the interface of
	// the route to Target.
	Interface string
	// Labels names MACs in reasons (arp), e.g. "02:00:00:00:00:01" ->
	// "fw:eth0" (keys in any form net.ParseMAC reads). MACs of TargetNetns's
	// interfaces are labelled automatically.
	Labels map[string]string
	// Path (websocket, http) is the URL path; default "/".
	Path string
	// Send (websocket) is the message sent, default a random token;
	// ExpectReply the reply wanted, default Send echoed.
	Send, ExpectReply string
	// Origin (websocket), when set, is the handshake's Origin header.
	Origin string
	// ReplyNetns (websocket), when set, is the namespace of a second
	// client that joins first and must receive what the check sends: a
	// broadcast room proved from one node to another.
	ReplyNetns string
	// Status (http) is the status wanted, default 200; Body, when set, a
	// substring the response body must contain.
	Status int
	Body   string
}

// Validate reports every problem with s that would stop it from running.
func (s Spec) Validate() error {
	var errs []error
	if s.Name == "" {
		errs = append(errs, errors.New("no name"))
	}
	if s.FromNetns == "" {
		errs = append(errs, errors.New("no from namespace"))
	}
	if !s.Target.IsValid() {
		errs = append(errs, errors.New("no target address"))
	}
	switch s.Protocol {
	case ICMP:
	case TCP, UDP, WebSocket, HTTP:
		if s.Port == 0 {
			errs = append(errs, fmt.Errorf("%s needs a port", s.Protocol))
		}
	case ARP:
		if s.Target.IsValid() && !s.Target.Unmap().Is4() {
			errs = append(errs, fmt.Errorf("arp needs an IPv4 target, not %s", s.Target))
		}
	default:
		errs = append(errs, fmt.Errorf("unknown protocol %q (want icmp, tcp, udp, arp, websocket or http)", s.Protocol))
	}
	switch s.Expect {
	case "", ExpectPass, ExpectFail:
	default:
		errs = append(errs, fmt.Errorf("unknown expect %q (want pass or fail)", s.Expect))
	}
	if s.Count < 0 {
		errs = append(errs, fmt.Errorf("negative count %d", s.Count))
	}
	if s.MaxLoss < 0 || s.MaxLoss > 1 {
		errs = append(errs, fmt.Errorf("max loss %v outside 0..1", s.MaxLoss))
	}
	if s.MinRTT < 0 || s.MaxRTT < 0 {
		errs = append(errs, fmt.Errorf("negative rtt bound (min %v, max %v)", s.MinRTT, s.MaxRTT))
	}
	if s.MaxRTT > 0 && s.MinRTT > s.MaxRTT {
		errs = append(errs, fmt.Errorf("min rtt %v above max rtt %v", s.MinRTT, s.MaxRTT))
	}
	if s.Timeout < 0 {
		errs = append(errs, fmt.Errorf("negative timeout %v", s.Timeout))
	}
	return errors.Join(errs...)
}

// withDefaults fills zero fields.
func (s Spec) withDefaults() Spec {
	if s.Expect == "" {
		s.Expect = ExpectPass
	}
	if s.Timeout == 0 {
		s.Timeout = DefaultTimeout
	}
	if s.Protocol == ICMP && s.Count == 0 {
		s.Count = DefaultICMPCount
	}
	s.Target = s.Target.Unmap()
	return s
}

// budget is the longest s may run, with slack for namespace setup.
func (s Spec) budget() time.Duration {
	d := s.Timeout + time.Second
	if s.Protocol == ICMP {
		d += time.Duration(s.Count) * icmpInterval
		if s.MaxRTT > 0 {
			d += s.Timeout // the warm-up echo's wait
		}
	}
	return d
}

// targetString is Target, with the port for tcp and udp, as a URL for
// websocket and http.
func (s Spec) targetString() string {
	if !s.Target.IsValid() {
		return ""
	}
	switch s.Protocol {
	case TCP, UDP:
		return netip.AddrPortFrom(s.Target, s.Port).String()
	case WebSocket, HTTP:
		return s.url()
	}
	return s.Target.String()
}

// AnswerSet is one entry of a check's answer list: Name (say "fw:eth0")
// is what reasons call it; without one, its MACs are named.
type AnswerSet struct {
	Name string
	MACs []net.HardwareAddr
}

// Answers makes one answer set per MAC: "exactly these interfaces".
func Answers(macs ...net.HardwareAddr) []AnswerSet {
	sets := make([]AnswerSet, len(macs))
	for i, m := range macs {
		sets[i] = AnswerSet{MACs: []net.HardwareAddr{m}}
	}
	return sets
}
