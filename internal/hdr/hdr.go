// Package hdr holds the IP and transport header rules the packet readers
// share: when an IPv4, IPv6, TCP or UDP header checks out, and where its
// payload starts and ends. The nfqueue filters' Decoder and the capture
// Summarizer read the same headers for different ends, each its own
// fields at the fixed offsets; what a header must hold to be read on from
// is written here once, so that the two cannot come to read a packet
// differently.
//
// The rules are gopacket's, corners included: both readers replaced its
// layers (which cost every netcompose process milliseconds of package
// initialisation), and their tests hold them to gopacket's reading of
// crafted, truncated and random bytes.
//
// A function takes the bytes from the header's first on, and reports
// whether the header holds; it does not look at the version nibble (the
// caller chose the header by it, or by the protocol number before it, as
// gopacket did). Nothing here allocates: payloads are slices of the data.
package hdr

import "encoding/binary"

// The fixed part of each header: data shorter than it has no fields to
// read, and the functions here say not ok.
const (
	IPv4Len = 20
	IPv6Len = 40
	TCPLen  = 20
	UDPLen  = 8
	// ICMPLen is type, code, checksum and the word after them (echo's id
	// and sequence, an error's unused word).
	ICMPLen = 8
)

// IANA protocol numbers: the transports and IP in IP the readers go on
// to, and hop-by-hop options, which IPv6 reads as its own.
const (
	ProtoHopByHop = 0
	ProtoICMP     = 1
	ProtoIPIP     = 4
	ProtoTCP      = 6
	ProtoUDP      = 17
	ProtoIPv6     = 41
	ProtoICMPv6   = 58
	ProtoIPIPOld  = 94 // KA9Q's, still named IPIP by IANA
)

// IPv4 checks the IPv4 header at the start of data and returns its
// payload, which ends at the header's total length: that may be less than
// data (Ethernet padding) or more (a copy cut short, at the snaplen or the
// queue's copy range). Fragment says the packet is a fragment, first or
// later, whose payload the readers do not take for a transport header:
// only the first has one, and ports judge all of a packet's fragments
// alike.
func IPv4(data []byte) (payload []byte, fragment, ok bool) {
	if len(data) < IPv4Len {
		return nil, false, false
	}
	hlen := int(data[0]&0x0f) * 4
	length := int(binary.BigEndian.Uint16(data[2:4]))
	if length == 0 {
		// TCP segmentation offload leaves it 0: the packet is all of data.
		length = len(data)
	}
	if length < IPv4Len || hlen < IPv4Len || hlen > length {
		return nil, false, false
	}
	if len(data) > length {
		data = data[:length]
	} else if hlen > len(data) {
		return nil, false, false
	}
	// An IPv4 option other than End of List and No Operation is longer
	// than its type and length bytes.
	if hlen > IPv4Len && !optionsOK(data[IPv4Len:hlen], 3) {
		return nil, false, false
	}
	// More fragments, or an offset.
	fragment = binary.BigEndian.Uint16(data[6:8])&0x3fff != 0
	return data[hlen:], fragment, true
}

// optionsOK says whether the options of an IPv4 or TCP header, which
// share their form, are well formed: each fits, and each but End of List
// (type 0, the last read) and No Operation (type 1, one byte) has a
// length, its type and length bytes included, of shortest or more.
func optionsOK(opts []byte, shortest uint8) bool {
	for len(opts) > 0 {
		switch opts[0] {
		case 0: // end of list
			return true
		case 1: // no operation
			opts = opts[1:]
		default:
			if len(opts) < 2 || opts[1] < shortest || int(opts[1]) > len(opts) {
				return false
			}
			opts = opts[opts[1]:]
		}
	}
	return true
}

// IPv6 checks the IPv6 header at the start of data, and hop-by-hop
// options after it, as one: next is the Next Header after the options
// (the fixed header's when there are none), and payload what follows
// them, up to the payload length. That length counts the options, but
// cuts from after them (gopacket's reading). Other extension headers are
// the caller's to stop at: next names them, payload starts with them.
//
// A payload length of 0 is a jumbogram's (RFC 2675), and holds only with
// a Jumbo Payload option, whose length counts the hop-by-hop header: the
// payload is cut to it from the start of that header, not after it.
// That is gopacket's reading, kept (a jumbogram cannot come through a
// queue, which copies at most 64 KiB).
func IPv6(data []byte) (next uint8, payload []byte, ok bool) {
	if len(data) < IPv6Len {
		return 0, nil, false
	}
	length := int(binary.BigEndian.Uint16(data[4:6]))
	next, payload = data[6], data[IPv6Len:]
	if next == ProtoHopByHop {
		hbh, ok := readHopByHop(payload)
		if !ok {
			return 0, nil, false
		}
		next = hbh.next
		switch {
		case hbh.jumbo != 0 && length == 0:
			if uint64(hbh.jumbo) < uint64(len(payload)) {
				payload = payload[:hbh.jumbo]
			}
			return next, payload, true
		case hbh.jumbo != 0 || length == 0:
			return 0, nil, false
		}
		payload = payload[hbh.len:]
	}
	if length == 0 {
		return 0, nil, false
	}
	return next, payload[:min(length, len(payload))], true
}

// hopByHop is what IPv6 needs of a hop-by-hop options header.
type hopByHop struct {
	next  uint8  // the Next Header after it
	len   int    // in bytes
	jumbo uint32 // a Jumbo Payload option's length, or 0
}

// readHopByHop reads a hop-by-hop options header: every option must fit
// in data, if not in the header (a Pad1 must have a byte after it), and a
// Jumbo Payload option must hold a length over 65535.
func readHopByHop(data []byte) (hopByHop, bool) {
	if len(data) < 2 {
		return hopByHop{}, false
	}
	h := hopByHop{next: data[0], len: int(data[1])*8 + 8}
	if len(data) < h.len {
		return hopByHop{}, false
	}
	var jumbo []byte
	for off := 2; off < h.len; {
		opt := data[off:]
		if len(opt) < 2 {
			return hopByHop{}, false
		}
		if opt[0] == 0 { // Pad1
			off++
			continue
		}
		n := int(opt[1]) + 2
		if len(opt) < n {
			return hopByHop{}, false
		}
		if opt[0] == optJumbo && jumbo == nil {
			jumbo = opt[2:n]
		}
		off += n
	}
	if jumbo != nil {
		if len(jumbo) != 4 {
			return hopByHop{}, false
		}
		if h.jumbo = binary.BigEndian.Uint32(jumbo); h.jumbo <= 0xffff {
			return hopByHop{}, false
		}
	}
	return h, true
}

// optJumbo is the hop-by-hop option type of Jumbo Payload.
const optJumbo = 0xc2

// TCP checks the TCP header at the start of data, whose data offset and
// options must fit, and returns the payload after it.
func TCP(data []byte) (payload []byte, ok bool) {
	if len(data) < TCPLen {
		return nil, false
	}
	off := int(data[12]>>4) * 4
	if off < TCPLen || off > len(data) {
		return nil, false
	}
	// A TCP option other than End of List and No Operation counts at
	// least its type and length bytes.
	if off > TCPLen && !optionsOK(data[TCPLen:off], 2) {
		return nil, false
	}
	return data[off:], true
}

// UDP checks the UDP header at the start of data and returns the payload
// after it. Its length cuts the payload short of data, or is 0 (a
// jumbogram's) and does not; one from 1 to 7 cannot hold the header.
func UDP(data []byte) (payload []byte, ok bool) {
	if len(data) < UDPLen {
		return nil, false
	}
	length := int(binary.BigEndian.Uint16(data[4:6]))
	if length == 0 {
		length = len(data)
	}
	if length < UDPLen {
		return nil, false
	}
	return data[UDPLen:min(length, len(data))], true
}
