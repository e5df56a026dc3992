package capture

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// A Summarizer turns a frame into one line of text, in tcpdump's manner:
//
//	ARP request who-has 192.0.2.20 tell 192.0.2.10
//	IP 10.0.0.1.40000 > 10.0.0.2.80: TCP [S] seq 1, ttl 64, length 74
//
// It decodes the headers in place into values it keeps (headers.go), so a
// line costs no allocation per header. Not safe for concurrent use.
type Summarizer struct {
	// Names are what MAC addresses are called, "firewall:cli", written
	// after the address: who answered an ARP request at a glance.
	Names map[string]string
	// Link prints the Ethernet addresses on every line, not only on
	// those without IP (as tcpdump -e).
	Link bool

	inner   *Summarizer // for the frame inside a VXLAN packet
	decoded []layer
	eth     ethernet
	arp     arp
	ip4     ipv4
	ip6     ipv6
	tcp     tcp
	udp     udp
	icmp4   icmp
	icmp6   icmpv6
	echo6   echov6
	nd6     neighbor // a solicitation or an advertisement
	b       strings.Builder
}

// Summary is the line for an Ethernet frame of length bytes on the wire.
func (s *Summarizer) Summary(data []byte, length int) string {
	s.b.Reset()
	s.summary(data, length)
	return s.b.String()
}

// decode reads data's headers, from Ethernet on, into s's values and
// lists them in s.decoded. A header it does not read, or one that does not
// check out, ends the walk; what came before is still summarised.
func (s *Summarizer) decode(data []byte) {
	s.decoded = s.decoded[:0]
	for l := ethernetLayer; l != noLayer; {
		next, ok := noLayer, false
		switch l {
		case ethernetLayer:
			next, data, ok = s.eth.decode(data)
		case dot1qLayer:
			next, data, ok = decodeDot1Q(data)
		case arpLayer:
			next, data, ok = s.arp.decode(data)
		case ipv4Layer:
			next, data, ok = s.ip4.decode(data)
		case ipv6Layer:
			next, data, ok = s.ip6.decode(data)
		case tcpLayer:
			next, data, ok = s.tcp.decode(data)
		case udpLayer:
			next, data, ok = s.udp.decode(data)
		case icmpLayer:
			next, data, ok = s.icmp4.decode(data)
		case icmpv6Layer:
			next, data, ok = s.icmp6.decode(data)
		case echov6Layer:
			next, data, ok = s.echo6.decode(data)
		case solicitationLayer, advertisementLayer:
			next, data, ok = s.nd6.decode(data)
		}
		if !ok {
			return
		}
		s.decoded = append(s.decoded, l)
		l = next
	}
}

func (s *Summarizer) summary(data []byte, length int) {
	s.decode(data)
	if len(s.decoded) == 0 {
		// Only a frame shorter than an Ethernet header reads as nothing.
		fmt.Fprintf(&s.b, "truncated frame (%d of %d bytes): Ethernet packet too small", len(data), length)
		return
	}
	var ip, l4 string
	var tail []string
	for _, t := range s.decoded {
		switch t {
		case arpLayer:
			s.link()
			s.b.WriteString(s.arpText())
			fmt.Fprintf(&s.b, ", length %d", length)
			return
		case ipv4Layer:
			ip = "IP"
			tail = append(tail, "ttl "+strconv.Itoa(int(s.ip4.ttl)))
		case ipv6Layer:
			ip = "IP6"
			tail = append(tail, "hlim "+strconv.Itoa(int(s.ip6.hopLimit)))
		case tcpLayer:
			l4 = "TCP " + tcpFlags(&s.tcp) + fmt.Sprintf(" seq %d", s.tcp.seq)
			if s.tcp.flags&tcpACK != 0 {
				l4 += fmt.Sprintf(" ack %d", s.tcp.ack)
			}
			l4 += fmt.Sprintf(" win %d", s.tcp.window)
		case udpLayer:
			l4 = "UDP"
		case icmpLayer:
			l4 = "ICMP " + icmp4Text(&s.icmp4)
		case icmpv6Layer:
			l4 = "ICMP6 " + icmpv6Name(s.icmp6.typ, s.icmp6.code)
		case echov6Layer:
			l4 = fmt.Sprintf("ICMP6 %s, id %d, seq %d", echoWord(s.icmp6.typ == icmpv6EchoRequest), s.echo6.id, s.echo6.seq)
		case solicitationLayer:
			l4 = "ICMP6 neighbor solicitation, who-has " + s.nd6.target.String()
		case advertisementLayer:
			l4 = "ICMP6 neighbor advertisement, " + s.nd6.target.String()
			for hw := range s.nd6.targetLinkAddrs() {
				l4 += " is-at " + s.mac(hw)
			}
		}
	}
	if ip == "" {
		s.link()
		fmt.Fprintf(&s.b, "ethertype %s (%#04x), length %d", etherTypeName(s.eth.etherType), s.eth.etherType, length)
		return
	}
	if s.Link {
		s.link()
	}
	src, dst := s.addrs()
	fmt.Fprintf(&s.b, "%s %s > %s: ", ip, src, dst)
	if l4 == "" {
		l4 = "proto " + s.nextProto()
	}
	s.b.WriteString(l4)
	for _, t := range tail {
		s.b.WriteString(", " + t)
	}
	fmt.Fprintf(&s.b, ", length %d", length)
	s.encapsulated()
}

// encapsulated adds the frame a VXLAN packet carries, decoded apart so
// that its layers do not overwrite the outer ones.
func (s *Summarizer) encapsulated() {
	// VXLAN's IANA port and Linux's older default
	if !s.has(udpLayer) || s.udp.dport != 4789 && s.udp.dport != 8472 {
		return
	}
	vx := s.udp.payload
	if len(vx) < 8 { // flags, reserved, VNI, reserved
		return
	}
	if s.inner == nil {
		s.inner = &Summarizer{Names: s.Names, Link: true}
	}
	vni := uint32(vx[4])<<16 | uint32(vx[5])<<8 | uint32(vx[6])
	inner := vx[8:]
	fmt.Fprintf(&s.b, ": VXLAN vni %d: %s", vni, s.inner.Summary(inner, len(inner)))
}

// link writes "SRC > DST, " of the Ethernet header.
func (s *Summarizer) link() {
	fmt.Fprintf(&s.b, "%s > %s, ", s.mac(s.eth.src), s.mac(s.eth.dst))
}

// mac is a MAC address with the name it has in the lab, if any.
func (s *Summarizer) mac(hw net.HardwareAddr) string {
	a := hw.String()
	if n, ok := s.Names[a]; ok {
		return a + " (" + n + ")"
	}
	return a
}

func (s *Summarizer) arpText() string {
	a := &s.arp
	spa, tpa := a.spa.String(), a.tpa.String()
	switch a.op {
	case arpRequest:
		if spa == tpa {
			return "ARP announcement " + spa
		}
		return "ARP request who-has " + tpa + " tell " + spa
	case arpReply:
		return "ARP reply " + spa + " is-at " + s.mac(a.sha)
	}
	return fmt.Sprintf("ARP op %d %s > %s", a.op, spa, tpa)
}

// addrs are the source and destination, with ports for TCP and UDP
// (tcpdump's "10.0.0.1.80").
func (s *Summarizer) addrs() (string, string) {
	var src, dst string
	if s.has(ipv6Layer) {
		src, dst = s.ip6.src.String(), s.ip6.dst.String()
	} else {
		src, dst = s.ip4.src.String(), s.ip4.dst.String()
	}
	switch {
	case s.has(tcpLayer):
		src += "." + strconv.Itoa(int(s.tcp.sport))
		dst += "." + strconv.Itoa(int(s.tcp.dport))
	case s.has(udpLayer):
		src += "." + strconv.Itoa(int(s.udp.sport))
		dst += "." + strconv.Itoa(int(s.udp.dport))
	}
	return src, dst
}

func (s *Summarizer) nextProto() string {
	if s.has(ipv6Layer) {
		return ipProtocolName(s.ip6.next)
	}
	return ipProtocolName(s.ip4.proto)
}

func (s *Summarizer) has(t layer) bool {
	for _, d := range s.decoded {
		if d == t {
			return true
		}
	}
	return false
}

func tcpFlags(t *tcp) string {
	f := "["
	for _, x := range []struct {
		flag uint8
		c    string
	}{{tcpSYN, "S"}, {tcpFIN, "F"}, {tcpRST, "R"}, {tcpPSH, "P"}, {tcpURG, "U"}, {tcpACK, "."}} {
		if t.flags&x.flag != 0 {
			f += x.c
		}
	}
	return f + "]"
}

func icmp4Text(i *icmp) string {
	switch i.typ {
	case icmpEchoRequest, icmpEchoReply:
		return fmt.Sprintf("%s, id %d, seq %d", echoWord(i.typ == icmpEchoRequest), i.id, i.seq)
	}
	return icmpName(i.typ, i.code)
}

func echoWord(request bool) string {
	if request {
		return "echo request"
	}
	return "echo reply"
}
