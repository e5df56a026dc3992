package filter

import (
	"errors"
	"net/netip"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// IANA protocol numbers the filters know by name.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
)

// Packet is one queued packet, decoded. Its slices point into the buffer
// the queue handed over: valid only during the pipeline's run.
type Packet struct {
	Data     []byte // the IP packet, header onwards
	Version  uint8  // 4 or 6
	Protocol uint8  // IANA number of the transport
	Src, Dst netip.Addr
	// Sport and Dport are set for tcp and udp (0 otherwise, and for
	// fragments after the first, which carry no transport header).
	Sport, Dport uint16
	// Payload is the transport payload: after the TCP or UDP header, after
	// ICMP's 8 bytes.
	Payload []byte
	// Transport is false when the transport header could not be read
	// (a later fragment, a truncated or unknown header).
	Transport bool
	// Mark is the nfmark the packet was queued with.
	Mark uint32

	out struct {
		mark, connmark       uint32
		setMark, setConnMark bool
	}
}

// SetMark asks for the packet's nfmark to be m when it is accepted.
func (p *Packet) SetMark(m uint32) { p.out.mark, p.out.setMark = m, true }

// SetConnMark asks for the connection's mark to be m when it is accepted.
func (p *Packet) SetConnMark(m uint32) { p.out.connmark, p.out.setConnMark = m, true }

// Marks returns the marks stages asked for, each with whether it was set.
func (p *Packet) Marks() (mark uint32, setMark bool, connmark uint32, setConnMark bool) {
	return p.out.mark, p.out.setMark, p.out.connmark, p.out.setConnMark
}

// ProtocolName is tcp, udp, icmp, icmpv6, or "" for others.
func (p *Packet) ProtocolName() string {
	switch p.Protocol {
	case ProtoTCP:
		return "tcp"
	case ProtoUDP:
		return "udp"
	case ProtoICMP:
		return "icmp"
	case ProtoICMPv6:
		return "icmpv6"
	}
	return ""
}

// ErrNotIP says the data is neither IPv4 nor IPv6.
var ErrNotIP = errors.New("not an IPv4 or IPv6 packet")

// Decoder reads packets with gopacket's DecodingLayerParser, which decodes
// into the layer values it holds and so allocates nothing per packet. One
// Decoder per goroutine: it is not safe for concurrent use.
type Decoder struct {
	ip4     layers.IPv4
	ip6     layers.IPv6
	tcp     layers.TCP
	udp     layers.UDP
	icmp4   layers.ICMPv4
	icmp6   layers.ICMPv6
	p4, p6  *gopacket.DecodingLayerParser
	decoded []gopacket.LayerType
}

// NewDecoder returns a decoder for IPv4 and IPv6 with TCP, UDP, ICMP and
// ICMPv6 on top.
func NewDecoder() *Decoder {
	d := &Decoder{decoded: make([]gopacket.LayerType, 0, 4)}
	d.p4 = gopacket.NewDecodingLayerParser(layers.LayerTypeIPv4, &d.ip4, &d.tcp, &d.udp, &d.icmp4)
	d.p6 = gopacket.NewDecodingLayerParser(layers.LayerTypeIPv6, &d.ip6, &d.tcp, &d.udp, &d.icmp6)
	// Extension headers, application layers chosen by port (DNS on 53 …)
	// and ICMPv6 message bodies are beyond what the filters read: stop
	// there without an error.
	d.p4.IgnoreUnsupported = true
	d.p6.IgnoreUnsupported = true
	return d
}

// Decode fills p from data, the IP packet. An error means the IP header
// itself could not be read; a bad transport header leaves p.Transport
// false and is no error (the filters still see addresses and protocol).
func (d *Decoder) Decode(data []byte, p *Packet) error {
	*p = Packet{Data: data}
	if len(data) == 0 {
		return ErrNotIP
	}
	var parser *gopacket.DecodingLayerParser
	switch data[0] >> 4 {
	case 4:
		parser = d.p4
	case 6:
		parser = d.p6
	default:
		return ErrNotIP
	}
	err := parser.DecodeLayers(data, &d.decoded)
	for _, t := range d.decoded {
		switch t {
		case layers.LayerTypeIPv4:
			p.Version, p.Protocol = 4, uint8(d.ip4.Protocol)
			p.Src = addr4(d.ip4.SrcIP)
			p.Dst = addr4(d.ip4.DstIP)
		case layers.LayerTypeIPv6:
			// NextHeader of the last header read: with extension headers
			// this is the extension, and Transport stays false.
			p.Version, p.Protocol = 6, uint8(d.ip6.NextHeader)
			p.Src = addr16(d.ip6.SrcIP)
			p.Dst = addr16(d.ip6.DstIP)
		case layers.LayerTypeTCP:
			p.Sport, p.Dport = uint16(d.tcp.SrcPort), uint16(d.tcp.DstPort)
			p.Payload, p.Transport = d.tcp.Payload, true
		case layers.LayerTypeUDP:
			p.Sport, p.Dport = uint16(d.udp.SrcPort), uint16(d.udp.DstPort)
			p.Payload, p.Transport = d.udp.Payload, true
		case layers.LayerTypeICMPv4:
			p.Payload, p.Transport = d.icmp4.Payload, true
		case layers.LayerTypeICMPv6:
			// gopacket reads 4 bytes of header; the other 4 (echo's id and
			// sequence, an error's unused word) belong to the header too,
			// as in ICMPv4: the payload starts 8 bytes in for both.
			if pl := d.icmp6.Payload; len(pl) >= 4 {
				p.Payload, p.Transport = pl[4:], true
			}
		}
	}
	if p.Version == 0 {
		if err == nil {
			err = ErrNotIP
		}
		return err
	}
	return nil
}

func addr4(ip []byte) netip.Addr {
	if len(ip) != 4 {
		return netip.Addr{}
	}
	return netip.AddrFrom4([4]byte(ip))
}

func addr16(ip []byte) netip.Addr {
	if len(ip) != 16 {
		return netip.Addr{}
	}
	return netip.AddrFrom16([16]byte(ip))
}
