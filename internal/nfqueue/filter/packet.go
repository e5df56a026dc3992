package filter

import (
	"encoding/binary"
	"errors"
	"net/netip"
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
// header that does not check out ends the walk, and what was read before
// it stands.
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
	// fields replace the outer's.
	rest := data
	for h == ipv4Header || h == ipv6Header {
		var err error
		if h == ipv4Header {
			h, rest, err = p.readIPv4(rest)
		} else {
			h, rest, err = p.readIPv6(rest)
		}
		if err != nil {
			if p.Version == 0 {
				// Not even the outer header: what was read of it means
				// nothing.
				*p = Packet{Data: data}
				return err
			}
			return nil
		}
	}
	switch h {
	case tcpHeader:
		p.readTCP(rest)
	case udpHeader:
		p.readUDP(rest)
	case icmpHeader:
		p.readICMP(rest)
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
	case (proto == protoIPIP || proto == protoIPIPOld) && v == 4:
		return ipv4Header
	case proto == protoIPv6 && v == 6:
		return ipv6Header
	}
	return noHeader
}

// IP protocol numbers of IP in IP.
const (
	protoIPIP    = 4
	protoIPv6    = 41
	protoIPIPOld = 94 // KA9Q's, still named IPIP by IANA
)

// readIPv4 reads an IPv4 header and returns the header after it and its
// payload: up to the header's total length, which may be less than data
// (Ethernet padding) or more (a copy cut short).
func (p *Packet) readIPv4(data []byte) (header, []byte, error) {
	if len(data) < 20 {
		return noHeader, nil, errBadIPv4
	}
	// Read before the checks: an inner header of IP in IP that fails them
	// has still replaced the outer's fields (as gopacket's did).
	p.Protocol = data[9]
	p.Src = netip.AddrFrom4([4]byte(data[12:16]))
	p.Dst = netip.AddrFrom4([4]byte(data[16:20]))
	hlen := int(data[0]&0x0f) * 4
	length := int(binary.BigEndian.Uint16(data[2:4]))
	if length == 0 {
		// TCP segmentation offload leaves it 0: the packet is all of data.
		length = len(data)
	}
	if length < 20 || hlen < 20 || hlen > length {
		return noHeader, nil, errBadIPv4
	}
	if len(data) > length {
		data = data[:length]
	} else if hlen > len(data) {
		return noHeader, nil, errBadIPv4
	}
	if !ipv4OptionsOK(data[20:hlen]) {
		return noHeader, nil, errBadIPv4
	}
	p.Version = 4
	if frag := binary.BigEndian.Uint16(data[6:8]); frag&0x3fff != 0 {
		// More fragments, or an offset: a fragment, first or later. Only
		// the first has the transport header, and it is not read either:
		// ports judge all of a packet's fragments alike.
		return noHeader, data[hlen:], nil
	}
	return nextHeader(4, p.Protocol), data[hlen:], nil
}

// ipv4OptionsOK says whether the options of an IPv4 header are well
// formed: each fits, and each but End of List and No Operation is longer
// than its type and length bytes.
func ipv4OptionsOK(opts []byte) bool {
	for len(opts) > 0 {
		switch opts[0] {
		case 0: // end of list
			return true
		case 1: // no operation
			opts = opts[1:]
		default:
			if len(opts) < 2 || len(opts) < int(opts[1]) || opts[1] <= 2 {
				return false
			}
			opts = opts[opts[1]:]
		}
	}
	return true
}

// readIPv6 reads an IPv6 header and a hop-by-hop options header after it,
// as one. Protocol stays the IPv6 header's Next Header: with hop-by-hop
// options it is 0, though the transport after them is read. Other
// extension headers end the walk, with Protocol theirs.
func (p *Packet) readIPv6(data []byte) (header, []byte, error) {
	if len(data) < 40 {
		return noHeader, nil, errBadIPv6
	}
	// Read before the checks, as in readIPv4.
	p.Protocol = data[6]
	p.Src = netip.AddrFrom16([16]byte(data[8:24]))
	p.Dst = netip.AddrFrom16([16]byte(data[24:40]))
	length := int(binary.BigEndian.Uint16(data[4:6]))
	proto, payload := data[6], data[40:]
	if proto == protoHopByHop {
		hbh, err := readHopByHop(payload)
		if err != nil {
			return noHeader, nil, err
		}
		proto = hbh.next
		switch {
		case hbh.jumbo != 0 && length == 0:
			// A jumbogram (RFC 2675), whose length counts the hop-by-hop
			// header. The payload is cut to it from the start of that
			// header, not after it: gopacket's reading, kept (a
			// jumbogram cannot come through a queue, which copies at
			// most 64 KiB).
			if uint64(hbh.jumbo) < uint64(len(payload)) {
				payload = payload[:hbh.jumbo]
			}
			p.Version = 6
			return nextHeader(6, proto), payload, nil
		case hbh.jumbo != 0 || length == 0:
			return noHeader, nil, errBadIPv6
		}
		payload = payload[hbh.len:]
	}
	if length == 0 {
		return noHeader, nil, errBadIPv6
	}
	p.Version = 6
	return nextHeader(6, proto), payload[:min(length, len(payload))], nil
}

// protoHopByHop is the Next Header of IPv6 hop-by-hop options.
const protoHopByHop = 0

// hopByHop is what readIPv6 needs of a hop-by-hop options header.
type hopByHop struct {
	next  uint8  // the Next Header after it
	len   int    // in bytes
	jumbo uint32 // a Jumbo Payload option's length, or 0
}

// readHopByHop reads a hop-by-hop options header: every option must fit
// in data (a Pad1 must have a byte after it), and a Jumbo Payload option
// must hold a length over 65535.
func readHopByHop(data []byte) (hopByHop, error) {
	if len(data) < 2 {
		return hopByHop{}, errBadIPv6
	}
	h := hopByHop{next: data[0], len: int(data[1])*8 + 8}
	if len(data) < h.len {
		return hopByHop{}, errBadIPv6
	}
	var jumbo []byte
	for off := 2; off < h.len; {
		opt := data[off:]
		if len(opt) < 2 {
			return hopByHop{}, errBadIPv6
		}
		if opt[0] == 0 { // Pad1
			off++
			continue
		}
		n := int(opt[1]) + 2
		if len(opt) < n {
			return hopByHop{}, errBadIPv6
		}
		if opt[0] == optJumbo && jumbo == nil {
			jumbo = opt[2:n]
		}
		off += n
	}
	if jumbo != nil {
		if len(jumbo) != 4 {
			return hopByHop{}, errBadIPv6
		}
		if h.jumbo = binary.BigEndian.Uint32(jumbo); h.jumbo <= 0xffff {
			return hopByHop{}, errBadIPv6
		}
	}
	return h, nil
}

// optJumbo is the hop-by-hop option type of Jumbo Payload.
const optJumbo = 0xc2

// readTCP reads a TCP header: its data offset and options must fit.
func (p *Packet) readTCP(data []byte) {
	if len(data) < 20 {
		return
	}
	off := int(data[12]>>4) * 4
	if off < 20 || off > len(data) || !tcpOptionsOK(data[20:off]) {
		return
	}
	p.Sport = binary.BigEndian.Uint16(data[0:2])
	p.Dport = binary.BigEndian.Uint16(data[2:4])
	p.Payload, p.Transport = data[off:], true
}

// tcpOptionsOK says whether the options of a TCP header are well formed:
// each fits, and each but End of List and No Operation counts at least
// its type and length bytes.
func tcpOptionsOK(opts []byte) bool {
	for len(opts) > 0 {
		switch opts[0] {
		case 0: // end of list
			return true
		case 1: // no operation
			opts = opts[1:]
		default:
			if len(opts) < 2 || opts[1] < 2 || int(opts[1]) > len(opts) {
				return false
			}
			opts = opts[opts[1]:]
		}
	}
	return true
}

// readUDP reads a UDP header. Its length cuts the payload short of data,
// or is 0 (a jumbogram's) and does not.
func (p *Packet) readUDP(data []byte) {
	if len(data) < 8 {
		return
	}
	payload := data[8:]
	switch length := int(binary.BigEndian.Uint16(data[4:6])); {
	case length >= 8:
		payload = data[8:min(length, len(data))]
	case length != 0:
		return
	}
	p.Sport = binary.BigEndian.Uint16(data[0:2])
	p.Dport = binary.BigEndian.Uint16(data[2:4])
	p.Payload, p.Transport = payload, true
}

// readICMP reads an ICMP or ICMPv6 header: type, code, checksum and the 4
// bytes after them (echo's id and sequence, an error's unused word).
func (p *Packet) readICMP(data []byte) {
	if len(data) >= 8 {
		p.Payload, p.Transport = data[8:], true
	}
}
