package filter

import (
	"net/netip"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// gopacketDecoder is the Decoder as it was, on gopacket's
// DecodingLayerParser: the independent oracle Decoder is held to (see
// FuzzDecodeMatchesGopacket). Kept as it was on purpose, comments included.
type gopacketDecoder struct {
	ip4     layers.IPv4
	ip6     layers.IPv6
	tcp     layers.TCP
	udp     layers.UDP
	icmp4   layers.ICMPv4
	icmp6   layers.ICMPv6
	p4, p6  *gopacket.DecodingLayerParser
	decoded []gopacket.LayerType
}

func newGopacketDecoder() *gopacketDecoder {
	d := &gopacketDecoder{decoded: make([]gopacket.LayerType, 0, 4)}
	d.p4 = gopacket.NewDecodingLayerParser(layers.LayerTypeIPv4, &d.ip4, &d.tcp, &d.udp, &d.icmp4)
	d.p6 = gopacket.NewDecodingLayerParser(layers.LayerTypeIPv6, &d.ip6, &d.tcp, &d.udp, &d.icmp6)
	// Extension headers, application layers chosen by port (DNS on 53 …)
	// and ICMPv6 message bodies are beyond what the filters read: stop
	// there without an error.
	d.p4.IgnoreUnsupported = true
	d.p6.IgnoreUnsupported = true
	return d
}

func (d *gopacketDecoder) Decode(data []byte, p *Packet) error {
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
			p.Src = gopacketAddr4(d.ip4.SrcIP)
			p.Dst = gopacketAddr4(d.ip4.DstIP)
		case layers.LayerTypeIPv6:
			// NextHeader of the last header read: with extension headers
			// this is the extension, and Transport stays false.
			p.Version, p.Protocol = 6, uint8(d.ip6.NextHeader)
			p.Src = gopacketAddr16(d.ip6.SrcIP)
			p.Dst = gopacketAddr16(d.ip6.DstIP)
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

func gopacketAddr4(ip []byte) netip.Addr {
	if len(ip) != 4 {
		return netip.Addr{}
	}
	return netip.AddrFrom4([4]byte(ip))
}

func gopacketAddr16(ip []byte) netip.Addr {
	if len(ip) != 16 {
		return netip.Addr{}
	}
	return netip.AddrFrom16([16]byte(ip))
}
