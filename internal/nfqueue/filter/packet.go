package filter

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/netcompose/netcompose/internal/hdr"
)

// IANA protocol numbers the filters know by name.
const (
	ProtoICMP   = hdr.ProtoICMP
	ProtoTCP    = hdr.ProtoTCP
	ProtoUDP    = hdr.ProtoUDP
	ProtoICMPv6 = hdr.ProtoICMPv6
)

// Packet is one queued packet, decoded. Its slices point into the buffer
// the queue handed over: valid only during the pipeline's run.
type Packet struct {
	Data    []byte // the IP packet, header onwards
	Version uint8  // 4 or 6
	// Protocol is the IANA number of the transport; for IPv6, the Next
	// Header of the fixed header, which may name an extension header.
	Protocol uint8
	Src, Dst netip.Addr
	// Sport and Dport are set for tcp and udp (0 otherwise, and for
	// fragments, whose transport header is not read).
	Sport, Dport uint16
	// Payload is the transport payload: after the TCP or UDP header, after
	// ICMP's 8 bytes.
	Payload []byte
	// Transport is false when the transport header could not be read
	// (a fragment, an IPv6 extension header other than hop-by-hop
	// options, a truncated or unknown header).
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

// Decode's errors for an IP header it cannot read. A transport header it
// cannot read is no error: p.Transport says so.
var (
	errBadIPv4 = errors.New("malformed IPv4 header")
	errBadIPv6 = errors.New("malformed IPv6 header")
)

// Decoder reads IPv4 and IPv6 with TCP, UDP, ICMP and ICMPv6 on top, in
// place: it allocates nothing, and holds no state.
//
// It reads as gopacket's DecodingLayerParser did before it, corners
// included (gopacket cost every netcompose process milliseconds of
// package initialisation; the tests hold the two to the same fields): a
// header that does not check out, by the rules of package hdr, ends the
// walk, and what was read before it stands.
type Decoder struct{}

// NewDecoder returns a decoder for IPv4 and IPv6 with TCP, UDP, ICMP and
// ICMPv6 on top.
func NewDecoder() *Decoder { return &Decoder{} }

// Decode fills p from data, the IP packet. An error means the IP header
// itself could not be read; a bad transport header leaves p.Transport
// false and is no error (the filters still see addresses and protocol).
func (d *Decoder) Decode(data []byte, p *Packet) error {
	*p = Packet{Data: data}
	if len(data) == 0 {
		return ErrNotIP
	}
	h := noHeader
	switch data[0] >> 4 {
	case 4:
		h = ipv4Header
	case 6:
		h = ipv6Header
	default:
		return ErrNotIP
	}
	// IP in IP (of the same version) is read through: the inner header's
	// fields replace the outer's. The IP headers are read here, not in
	// methods of their own: hdr's checks are a call already, and a method
	// around them would add another, a tenth of a decode's instructions.
	rest := data
	for {
		switch h {
		case ipv4Header:
			if len(rest) < hdr.IPv4Len {
				return p.badIP(data, errBadIPv4)
			}
			// Read before the checks: an inner header of IP in IP that
			// fails them has still replaced the outer's fields (as
			// gopacket's did).
			p.Protocol = rest[9]
			p.Src = netip.AddrFrom4([4]byte(rest[12:16]))
			p.Dst = netip.AddrFrom4([4]byte(rest[16:20]))
			payload, fragment, ok := hdr.IPv4(rest)
			if !ok {
				return p.badIP(data, errBadIPv4)
			}
			p.Version, h, rest = 4, nextHeader(4, p.Protocol), payload
			if fragment {
				// Its transport header, if it is the first, is not read
				// either: ports judge all of a packet's fragments alike.
				h = noHeader
			}
		case ipv6Header:
			if len(rest) < hdr.IPv6Len {
				return p.badIP(data, errBadIPv6)
			}
			// Read before the checks, as IPv4's. Protocol stays the
			// fixed header's Next Header: with hop-by-hop options it is
			// 0, though the transport after them is read. Other
			// extension headers end the walk, with Protocol theirs.
			p.Protocol = rest[6]
			p.Src = netip.AddrFrom16([16]byte(rest[8:24]))
			p.Dst = netip.AddrFrom16([16]byte(rest[24:40]))
			next, payload, ok := hdr.IPv6(rest)
			if !ok {
				return p.badIP(data, errBadIPv6)
			}
			p.Version, h, rest = 6, nextHeader(6, next), payload
		case tcpHeader:
			p.readTCP(rest)
			return nil
		case udpHeader:
			p.readUDP(rest)
			return nil
		case icmpHeader:
			p.readICMP(rest)
			return nil
		default:
			return nil
		}
	}
}

// badIP ends a decode at an IP header that does not check out: with err
// if it is the outer one (what was read of it means nothing), and without
// if it is an inner one of IP in IP (what was read stands).
func (p *Packet) badIP(data []byte, err error) error {
	if p.Version == 0 {
		*p = Packet{Data: data}
		return err
	}
	return nil
}

// header is a kind of header the decoder reads.
type header uint8

const (
	noHeader header = iota // extension headers, fragments, application layers
	ipv4Header
	ipv6Header
	tcpHeader
	udpHeader
	icmpHeader // ICMP in IPv4, ICMPv6 in IPv6
)

// nextHeader is the header that IP protocol proto announces in a packet
// of IP version v: no ICMPv6 in IPv4, and IP in IP of the same version
// only.
func nextHeader(v, proto uint8) header {
	switch {
	case proto == ProtoTCP:
		return tcpHeader
	case proto == ProtoUDP:
		return udpHeader
	case proto == ProtoICMP && v == 4, proto == ProtoICMPv6 && v == 6:
		return icmpHeader
	case (proto == hdr.ProtoIPIP || proto == hdr.ProtoIPIPOld) && v == 4:
		return ipv4Header
	case proto == hdr.ProtoIPv6 && v == 6:
		return ipv6Header
	}
	return noHeader
}

// readTCP reads a TCP header (see hdr.TCP).
func (p *Packet) readTCP(data []byte) {
	payload, ok := hdr.TCP(data)
	if !ok {
		return
	}
	p.Sport = binary.BigEndian.Uint16(data[0:2])
	p.Dport = binary.BigEndian.Uint16(data[2:4])
	p.Payload, p.Transport = payload, true
}

// readUDP reads a UDP header (see hdr.UDP). It is small enough for the
// compiler to inline, as UDP is the common case: keep it so.
func (p *Packet) readUDP(data []byte) {
	if payload, ok := hdr.UDP(data); ok {
		p.Sport = binary.BigEndian.Uint16(data[0:2])
		p.Dport = binary.BigEndian.Uint16(data[2:4])
		p.Payload, p.Transport = payload, true
	}
}

// readICMP reads an ICMP or ICMPv6 header: type, code, checksum and the 4
// bytes after them (echo's id and sequence, an error's unused word).
func (p *Packet) readICMP(data []byte) {
	if len(data) >= hdr.ICMPLen {
		p.Payload, p.Transport = data[hdr.ICMPLen:], true
	}
}
