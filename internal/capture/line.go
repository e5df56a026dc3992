package capture

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// A Summarizer turns a frame into one line of text, in tcpdump's manner:
//
//	ARP request who-has 192.0.2.20 tell 192.0.2.10
//	IP 10.0.0.1.40000 > 10.0.0.2.80: TCP [S] seq 1, ttl 64, length 74
//
// It decodes with gopacket's DecodingLayerParser into layers it keeps, so
// a line costs no allocation per layer. Not safe for concurrent use.
type Summarizer struct {
	// Names are what MAC addresses are called, "firewall:cli", written
	// after the address: who answered an ARP request at a glance.
	Names map[string]string
	// Link prints the Ethernet addresses on every line, not only on
	// those without IP (as tcpdump -e).
	Link bool

	parser  *gopacket.DecodingLayerParser
	inner   *Summarizer // for the frame inside a VXLAN packet
	decoded []gopacket.LayerType
	eth     layers.Ethernet
	dot1q   layers.Dot1Q
	arp     layers.ARP
	ip4     layers.IPv4
	ip6     layers.IPv6
	tcp     layers.TCP
	udp     layers.UDP
	icmp4   layers.ICMPv4
	icmp6   layers.ICMPv6
	echo6   layers.ICMPv6Echo
	ns6     layers.ICMPv6NeighborSolicitation
	na6     layers.ICMPv6NeighborAdvertisement
	vxlan   layers.VXLAN
	payload gopacket.Payload
	b       strings.Builder
}

func (s *Summarizer) init() {
	if s.parser != nil {
		return
	}
	s.parser = gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet,
		&s.eth, &s.dot1q, &s.arp, &s.ip4, &s.ip6, &s.tcp, &s.udp,
		&s.icmp4, &s.icmp6, &s.echo6, &s.ns6, &s.na6, &s.payload)
	// A layer it has no decoder for ends the walk; what came before is
	// still summarised.
	s.parser.IgnoreUnsupported = true
}

// Summary is the line for an Ethernet frame of length bytes on the wire.
func (s *Summarizer) Summary(data []byte, length int) string {
	s.init()
	s.b.Reset()
	s.summary(data, length)
	return s.b.String()
}

func (s *Summarizer) summary(data []byte, length int) {
	err := s.parser.DecodeLayers(data, &s.decoded)
	if len(s.decoded) == 0 {
		fmt.Fprintf(&s.b, "truncated frame (%d of %d bytes): %v", len(data), length, err)
		return
	}
	var ip, l4 string
	var tail []string
	for _, t := range s.decoded {
		switch t {
		case layers.LayerTypeARP:
			s.link()
			s.b.WriteString(s.arpText())
			fmt.Fprintf(&s.b, ", length %d", length)
			return
		case layers.LayerTypeIPv4:
			ip = "IP"
			tail = append(tail, "ttl "+strconv.Itoa(int(s.ip4.TTL)))
		case layers.LayerTypeIPv6:
			ip = "IP6"
			tail = append(tail, "hlim "+strconv.Itoa(int(s.ip6.HopLimit)))
		case layers.LayerTypeTCP:
			l4 = "TCP " + tcpFlags(&s.tcp) + fmt.Sprintf(" seq %d", s.tcp.Seq)
			if s.tcp.ACK {
				l4 += fmt.Sprintf(" ack %d", s.tcp.Ack)
			}
			l4 += fmt.Sprintf(" win %d", s.tcp.Window)
		case layers.LayerTypeUDP:
			l4 = "UDP"
		case layers.LayerTypeICMPv4:
			l4 = "ICMP " + icmp4Text(&s.icmp4)
		case layers.LayerTypeICMPv6:
			l4 = "ICMP6 " + s.icmp6.TypeCode.String()
		case layers.LayerTypeICMPv6Echo:
			l4 = fmt.Sprintf("ICMP6 %s, id %d, seq %d", echoWord(s.icmp6.TypeCode.Type() == layers.ICMPv6TypeEchoRequest), s.echo6.Identifier, s.echo6.SeqNumber)
		case layers.LayerTypeICMPv6NeighborSolicitation:
			l4 = "ICMP6 neighbor solicitation, who-has " + s.ns6.TargetAddress.String()
		case layers.LayerTypeICMPv6NeighborAdvertisement:
			l4 = "ICMP6 neighbor advertisement, " + s.na6.TargetAddress.String()
			for _, o := range s.na6.Options {
				if o.Type == layers.ICMPv6OptTargetAddress {
					l4 += " is-at " + s.mac(net.HardwareAddr(o.Data))
				}
			}
		}
	}
	if ip == "" {
		s.link()
		fmt.Fprintf(&s.b, "ethertype %s (%#04x), length %d", s.eth.EthernetType, uint16(s.eth.EthernetType), length)
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
	if !s.has(layers.LayerTypeUDP) || !vxlanPorts[s.udp.DstPort] {
		return
	}
	if s.vxlan.DecodeFromBytes(s.udp.Payload, gopacket.NilDecodeFeedback) != nil {
		return
	}
	if s.inner == nil {
		s.inner = &Summarizer{Names: s.Names, Link: true}
	}
	inner := s.vxlan.Payload
	fmt.Fprintf(&s.b, ": VXLAN vni %d: %s", s.vxlan.VNI, s.inner.Summary(inner, len(inner)))
}

// vxlanPorts are VXLAN's IANA port and Linux's older default.
var vxlanPorts = map[layers.UDPPort]bool{4789: true, 8472: true}

// link writes "SRC > DST, " of the Ethernet header.
func (s *Summarizer) link() {
	fmt.Fprintf(&s.b, "%s > %s, ", s.mac(s.eth.SrcMAC), s.mac(s.eth.DstMAC))
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
	spa, tpa := net.IP(a.SourceProtAddress).String(), net.IP(a.DstProtAddress).String()
	switch a.Operation {
	case layers.ARPRequest:
		if spa == tpa {
			return "ARP announcement " + spa
		}
		return "ARP request who-has " + tpa + " tell " + spa
	case layers.ARPReply:
		return "ARP reply " + spa + " is-at " + s.mac(a.SourceHwAddress)
	}
	return fmt.Sprintf("ARP op %d %s > %s", a.Operation, spa, tpa)
}

// addrs are the source and destination, with ports for TCP and UDP
// (tcpdump's "10.0.0.1.80").
func (s *Summarizer) addrs() (string, string) {
	var src, dst string
	if s.has(layers.LayerTypeIPv6) {
		src, dst = s.ip6.SrcIP.String(), s.ip6.DstIP.String()
	} else {
		src, dst = s.ip4.SrcIP.String(), s.ip4.DstIP.String()
	}
	switch {
	case s.has(layers.LayerTypeTCP):
		src += "." + strconv.Itoa(int(s.tcp.SrcPort))
		dst += "." + strconv.Itoa(int(s.tcp.DstPort))
	case s.has(layers.LayerTypeUDP):
		src += "." + strconv.Itoa(int(s.udp.SrcPort))
		dst += "." + strconv.Itoa(int(s.udp.DstPort))
	}
	return src, dst
}

func (s *Summarizer) nextProto() string {
	if s.has(layers.LayerTypeIPv6) {
		return s.ip6.NextHeader.String()
	}
	return s.ip4.Protocol.String()
}

func (s *Summarizer) has(t gopacket.LayerType) bool {
	for _, d := range s.decoded {
		if d == t {
			return true
		}
	}
	return false
}

func tcpFlags(t *layers.TCP) string {
	f := "["
	for _, x := range []struct {
		on bool
		c  string
	}{{t.SYN, "S"}, {t.FIN, "F"}, {t.RST, "R"}, {t.PSH, "P"}, {t.URG, "U"}, {t.ACK, "."}} {
		if x.on {
			f += x.c
		}
	}
	return f + "]"
}

func icmp4Text(i *layers.ICMPv4) string {
	switch i.TypeCode.Type() {
	case layers.ICMPv4TypeEchoRequest, layers.ICMPv4TypeEchoReply:
		return fmt.Sprintf("%s, id %d, seq %d", echoWord(i.TypeCode.Type() == layers.ICMPv4TypeEchoRequest), i.Id, i.Seq)
	}
	return i.TypeCode.String()
}

func echoWord(request bool) string {
	if request {
		return "echo request"
	}
	return "echo reply"
}
