package capture

import (
	"encoding/binary"
	"iter"
	"net"

	"github.com/netcompose/netcompose/internal/hdr"
)

// The headers a Summarizer reads, each decoded in place into a value it
// keeps. They read as gopacket's layers did before them, corners included:
// gopacket cost every netcompose process milliseconds of package
// initialisation, and the tests hold the two to the same lines.
//
// A decode checks its header (IP, TCP and UDP by the rules of package
// hdr, which the nfqueue filters' Decoder reads by too) and, if it holds,
// returns the header after it and its payload. One shorter than its fixed
// part writes nothing; one that fails a later check has written its
// fields already, as gopacket's did: the line of IP in IP whose inner
// header is broken shows the inner addresses.

// layer is a header a Summarizer reads.
type layer uint8

const (
	noLayer layer = iota // one it does not read: the walk ends there
	ethernetLayer
	dot1qLayer
	arpLayer
	ipv4Layer
	ipv6Layer
	tcpLayer
	udpLayer
	icmpLayer
	icmpv6Layer
	echov6Layer
	solicitationLayer  // ICMPv6 neighbor solicitation
	advertisementLayer // ICMPv6 neighbor advertisement
)

// etherLayer is the header an EtherType announces.
func etherLayer(t uint16) layer {
	switch t {
	case 0x0800:
		return ipv4Layer
	case 0x0806:
		return arpLayer
	case 0x86dd:
		return ipv6Layer
	case 0x8100, 0x88a8: // 802.1Q, 802.1ad
		return dot1qLayer
	case 0x6558: // transparent Ethernet bridging
		return ethernetLayer
	}
	return noLayer
}

// ipLayer is the header an IP protocol number announces, in IPv4 or IPv6
// alike (gopacket went by the number alone: ICMPv6 in IPv4 is read, and
// IP in IP of the other version).
func ipLayer(proto uint8) layer {
	switch proto {
	case hdr.ProtoICMP:
		return icmpLayer
	case hdr.ProtoIPIP, hdr.ProtoIPIPOld:
		return ipv4Layer
	case hdr.ProtoTCP:
		return tcpLayer
	case hdr.ProtoUDP:
		return udpLayer
	case hdr.ProtoIPv6:
		return ipv6Layer
	case hdr.ProtoICMPv6:
		return icmpv6Layer
	}
	return noLayer
}

type ethernet struct {
	src, dst  net.HardwareAddr
	etherType uint16 // 0 for 802.3 (a length there, then LLC)
}

func (e *ethernet) decode(data []byte) (layer, []byte, bool) {
	if len(data) < 14 {
		return noLayer, nil, false
	}
	e.dst, e.src = data[0:6], data[6:12]
	e.etherType = binary.BigEndian.Uint16(data[12:14])
	payload := data[14:]
	if e.etherType < 0x0600 {
		payload = payload[:min(int(e.etherType), len(payload))]
		e.etherType = 0
	}
	return etherLayer(e.etherType), payload, true
}

// decodeDot1Q reads an 802.1Q tag, of which lines show nothing.
func decodeDot1Q(data []byte) (layer, []byte, bool) {
	if len(data) < 4 {
		return noLayer, nil, false
	}
	return etherLayer(binary.BigEndian.Uint16(data[2:4])), data[4:], true
}

// ARP operations.
const (
	arpRequest = 1
	arpReply   = 2
)

type arp struct {
	op       uint16
	sha      net.HardwareAddr
	spa, tpa net.IP
}

func (a *arp) decode(data []byte) (layer, []byte, bool) {
	if len(data) < 8 {
		return noLayer, nil, false
	}
	hw, pr := int(data[4]), int(data[5])
	n := 8 + 2*hw + 2*pr
	// gopacket counted the header's length in a byte, and could not read
	// one longer than 255; nor can this (IPv4 over Ethernet's is 28).
	if n > 0xff || len(data) < n {
		return noLayer, nil, false
	}
	a.op = binary.BigEndian.Uint16(data[6:8])
	a.sha = data[8 : 8+hw]
	a.spa = data[8+hw : 8+hw+pr]
	a.tpa = data[8+2*hw+pr : n]
	return noLayer, data[n:], true
}

type ipv4 struct {
	ttl, proto uint8
	src, dst   net.IP
}

// decode reads an IPv4 header; its payload ends at the total length (see
// hdr.IPv4).
func (h *ipv4) decode(data []byte) (layer, []byte, bool) {
	if len(data) < hdr.IPv4Len {
		return noLayer, nil, false
	}
	h.ttl, h.proto = data[8], data[9]
	h.src, h.dst = data[12:16], data[16:20]
	payload, fragment, ok := hdr.IPv4(data)
	if !ok {
		return noLayer, nil, false
	}
	if fragment {
		// Its transport header, if it is the first, is not read either.
		return noLayer, payload, true
	}
	return ipLayer(h.proto), payload, true
}

type ipv6 struct {
	hopLimit, next uint8 // next: the fixed header's Next Header
	src, dst       net.IP
}

// decode reads an IPv6 header and hop-by-hop options after it, as one
// (see hdr.IPv6): the header after the options is read, next stays 0.
// Other extension headers end the walk.
func (h *ipv6) decode(data []byte) (layer, []byte, bool) {
	if len(data) < hdr.IPv6Len {
		return noLayer, nil, false
	}
	h.next, h.hopLimit = data[6], data[7]
	h.src, h.dst = data[8:24], data[24:40]
	next, payload, ok := hdr.IPv6(data)
	if !ok {
		return noLayer, nil, false
	}
	return ipLayer(next), payload, true
}

// TCP flags, in the header's 14th byte.
const (
	tcpFIN = 1 << iota
	tcpSYN
	tcpRST
	tcpPSH
	tcpACK
	tcpURG
)

type tcp struct {
	sport, dport uint16
	seq, ack     uint32
	flags        uint8
	window       uint16
}

// decode reads a TCP header (see hdr.TCP). What comes after it is not
// read.
func (t *tcp) decode(data []byte) (layer, []byte, bool) {
	if len(data) < hdr.TCPLen {
		return noLayer, nil, false
	}
	t.sport = binary.BigEndian.Uint16(data[0:2])
	t.dport = binary.BigEndian.Uint16(data[2:4])
	t.seq = binary.BigEndian.Uint32(data[4:8])
	t.ack = binary.BigEndian.Uint32(data[8:12])
	t.flags = data[13]
	t.window = binary.BigEndian.Uint16(data[14:16])
	payload, ok := hdr.TCP(data)
	if !ok {
		return noLayer, nil, false
	}
	return noLayer, payload, true
}

type udp struct {
	sport, dport uint16
	payload      []byte
}

// decode reads a UDP header (see hdr.UDP). What comes after it is not
// read (but for VXLAN, see Summarizer.encapsulated).
func (u *udp) decode(data []byte) (layer, []byte, bool) {
	if len(data) < hdr.UDPLen {
		return noLayer, nil, false
	}
	u.sport = binary.BigEndian.Uint16(data[0:2])
	u.dport = binary.BigEndian.Uint16(data[2:4])
	payload, ok := hdr.UDP(data)
	if !ok {
		return noLayer, nil, false
	}
	u.payload = payload
	return noLayer, u.payload, true
}

type icmp struct {
	typ, code uint8
	id, seq   uint16 // an echo's
}

func (i *icmp) decode(data []byte) (layer, []byte, bool) {
	if len(data) < hdr.ICMPLen {
		return noLayer, nil, false
	}
	i.typ, i.code = data[0], data[1]
	i.id = binary.BigEndian.Uint16(data[4:6])
	i.seq = binary.BigEndian.Uint16(data[6:8])
	return noLayer, data[hdr.ICMPLen:], true
}

// ICMPv6 types whose messages lines show.
const (
	icmpv6EchoRequest   = 128
	icmpv6EchoReply     = 129
	icmpv6Solicitation  = 135
	icmpv6Advertisement = 136
)

// icmpv6 is the first 4 bytes of an ICMPv6 message; the rest is the
// message's own.
type icmpv6 struct {
	typ, code uint8
}

func (i *icmpv6) decode(data []byte) (layer, []byte, bool) {
	if len(data) < 4 {
		return noLayer, nil, false
	}
	i.typ, i.code = data[0], data[1]
	next := noLayer
	switch i.typ {
	case icmpv6EchoRequest, icmpv6EchoReply:
		next = echov6Layer
	case icmpv6Solicitation:
		next = solicitationLayer
	case icmpv6Advertisement:
		next = advertisementLayer
	}
	return next, data[4:], true
}

type echov6 struct {
	id, seq uint16
}

func (e *echov6) decode(data []byte) (layer, []byte, bool) {
	if len(data) < 4 {
		return noLayer, nil, false
	}
	e.id = binary.BigEndian.Uint16(data[0:2])
	e.seq = binary.BigEndian.Uint16(data[2:4])
	return noLayer, nil, true
}

// neighbor is a neighbor solicitation or advertisement: a target
// address, and options whose length must hold.
type neighbor struct {
	target net.IP
	opts   []byte
}

func (n *neighbor) decode(data []byte) (layer, []byte, bool) {
	if len(data) < 20 {
		return noLayer, nil, false
	}
	n.target, n.opts = data[4:20], data[20:]
	for o := n.opts; len(o) > 0; {
		if len(o) < 2 || o[1] == 0 || len(o) < int(o[1])*8 {
			return noLayer, nil, false
		}
		o = o[int(o[1])*8:]
	}
	return noLayer, nil, true
}

// targetLinkAddrs are the addresses of the Target Link-Layer Address
// options, of a decoded neighbor.
func (n *neighbor) targetLinkAddrs() iter.Seq[net.HardwareAddr] {
	return func(yield func(net.HardwareAddr) bool) {
		for o := n.opts; len(o) > 0; o = o[int(o[1])*8:] {
			if o[0] == 2 && !yield(o[2:int(o[1])*8]) {
				return
			}
		}
	}
}
