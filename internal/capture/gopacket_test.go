package capture

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// gopacketSummarizer is the Summarizer as it was, on gopacket's
// DecodingLayerParser: the independent oracle Summarizer is held to (see
// FuzzSummaryMatchesGopacket). Kept as it was on purpose, but for names.
type gopacketSummarizer struct {
	// Names are what MAC addresses are called, "firewall:cli", written
	// after the address: who answered an ARP request at a glance.
	Names map[string]string
	// Link prints the Ethernet addresses on every line, not only on
	// those without IP (as tcpdump -e).
	Link bool

	parser  *gopacket.DecodingLayerParser
	inner   *gopacketSummarizer // for the frame inside a VXLAN packet
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

func (s *gopacketSummarizer) init() {
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
func (s *gopacketSummarizer) Summary(data []byte, length int) string {
	s.init()
	s.b.Reset()
	s.summary(data, length)
	return s.b.String()
}

func (s *gopacketSummarizer) summary(data []byte, length int) {
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
			l4 = "TCP " + gpTCPFlags(&s.tcp) + fmt.Sprintf(" seq %d", s.tcp.Seq)
			if s.tcp.ACK {
				l4 += fmt.Sprintf(" ack %d", s.tcp.Ack)
			}
			l4 += fmt.Sprintf(" win %d", s.tcp.Window)
		case layers.LayerTypeUDP:
			l4 = "UDP"
		case layers.LayerTypeICMPv4:
			l4 = "ICMP " + gpICMP4Text(&s.icmp4)
		case layers.LayerTypeICMPv6:
			l4 = "ICMP6 " + s.icmp6.TypeCode.String()
		case layers.LayerTypeICMPv6Echo:
			l4 = fmt.Sprintf("ICMP6 %s, id %d, seq %d", gpEchoWord(s.icmp6.TypeCode.Type() == layers.ICMPv6TypeEchoRequest), s.echo6.Identifier, s.echo6.SeqNumber)
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
func (s *gopacketSummarizer) encapsulated() {
	if !s.has(layers.LayerTypeUDP) || !gpVXLANPorts[s.udp.DstPort] {
		return
	}
	if s.vxlan.DecodeFromBytes(s.udp.Payload, gopacket.NilDecodeFeedback) != nil {
		return
	}
	if s.inner == nil {
		s.inner = &gopacketSummarizer{Names: s.Names, Link: true}
	}
	inner := s.vxlan.Payload
	fmt.Fprintf(&s.b, ": VXLAN vni %d: %s", s.vxlan.VNI, s.inner.Summary(inner, len(inner)))
}

// gpVXLANPorts are VXLAN's IANA port and Linux's older default.
var gpVXLANPorts = map[layers.UDPPort]bool{4789: true, 8472: true}

// link writes "SRC > DST, " of the Ethernet header.
func (s *gopacketSummarizer) link() {
	fmt.Fprintf(&s.b, "%s > %s, ", s.mac(s.eth.SrcMAC), s.mac(s.eth.DstMAC))
}

// mac is a MAC address with the name it has in the lab, if any.
func (s *gopacketSummarizer) mac(hw net.HardwareAddr) string {
	a := hw.String()
	if n, ok := s.Names[a]; ok {
		return a + " (" + n + ")"
	}
	return a
}

func (s *gopacketSummarizer) arpText() string {
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
func (s *gopacketSummarizer) addrs() (string, string) {
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

func (s *gopacketSummarizer) nextProto() string {
	if s.has(layers.LayerTypeIPv6) {
		return s.ip6.NextHeader.String()
	}
	return s.ip4.Protocol.String()
}

func (s *gopacketSummarizer) has(t gopacket.LayerType) bool {
	for _, d := range s.decoded {
		if d == t {
			return true
		}
	}
	return false
}

func gpTCPFlags(t *layers.TCP) string {
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

func gpICMP4Text(i *layers.ICMPv4) string {
	switch i.TypeCode.Type() {
	case layers.ICMPv4TypeEchoRequest, layers.ICMPv4TypeEchoReply:
		return fmt.Sprintf("%s, id %d, seq %d", gpEchoWord(i.TypeCode.Type() == layers.ICMPv4TypeEchoRequest), i.Id, i.Seq)
	}
	return i.TypeCode.String()
}

func gpEchoWord(request bool) string {
	if request {
		return "echo request"
	}
	return "echo reply"
}

// newGopacketPcap and newGopacketPcapng are the pcap and pcapng writers
// as they were, on gopacket's pcapgo: the oracles of the hand-written
// ones. Kept as they were on purpose, but for names.
type gopacketPcapWriter struct {
	bw *bufio.Writer
	w  *pcapgo.Writer
}

func newGopacketPcap(w io.Writer, snaplen int) (Writer, error) {
	bw := bufio.NewWriterSize(w, writeBuffer)
	pw := pcapgo.NewWriter(bw)
	if err := pw.WriteFileHeader(uint32(snaplen), layers.LinkTypeEthernet); err != nil {
		return nil, err
	}
	// The header goes out at once: a reader at the end of a pipe
	// (wireshark -k -i -) waits for it before it shows anything.
	return &gopacketPcapWriter{bw: bw, w: pw}, bw.Flush()
}

func (w *gopacketPcapWriter) WritePacket(p *Packet) error {
	return w.w.WritePacket(gpCaptureInfo(p, 0), p.Data)
}

func (w *gopacketPcapWriter) Flush() error { return w.bw.Flush() }

func gpCaptureInfo(p *Packet, iface int) gopacket.CaptureInfo {
	return gopacket.CaptureInfo{Timestamp: p.Time, CaptureLength: len(p.Data), Length: max(p.Length, len(p.Data)), InterfaceIndex: iface}
}

type gopacketPcapngWriter struct {
	w       *pcapgo.NgWriter
	snaplen int
	ids     map[int]int // ifindex -> interface block
}

func newGopacketPcapng(w io.Writer, snaplen int, ifaces []Interface) (Writer, error) {
	if len(ifaces) == 0 {
		return nil, fmt.Errorf("capture: pcapng: no interface")
	}
	opts := pcapgo.DefaultNgWriterOptions
	opts.SectionInfo.Application = "netcompose capture"
	nw := &gopacketPcapngWriter{snaplen: snaplen, ids: map[int]int{}}
	var err error
	if nw.w, err = pcapgo.NewNgWriterInterface(w, nw.ngInterface(ifaces[0]), opts); err != nil {
		return nil, err
	}
	nw.ids[ifaces[0].Index] = 0
	for _, i := range ifaces[1:] {
		if err := nw.add(i); err != nil {
			return nil, err
		}
	}
	return nw, nw.w.Flush()
}

func (w *gopacketPcapngWriter) ngInterface(i Interface) pcapgo.NgInterface {
	lt := layers.LinkTypeEthernet
	if !i.Ethernet {
		// AF_PACKET gives the frames of links without a link-layer
		// header (tun, IP tunnels) from the IP header on.
		lt = layers.LinkTypeRaw
	}
	return pcapgo.NgInterface{Name: i.Name, LinkType: lt, SnapLength: uint32(w.snaplen), OS: "linux"}
}

func (w *gopacketPcapngWriter) add(i Interface) error {
	id, err := w.w.AddInterface(w.ngInterface(i))
	if err != nil {
		return err
	}
	w.ids[i.Index] = id
	return nil
}

func (w *gopacketPcapngWriter) WritePacket(p *Packet) error {
	id, ok := w.ids[p.Ifindex]
	if !ok {
		if err := w.add(p.Interface); err != nil {
			return err
		}
		id = w.ids[p.Ifindex]
	}
	return w.w.WritePacket(gpCaptureInfo(p, id), p.Data)
}

func (w *gopacketPcapngWriter) Flush() error { return w.w.Flush() }
