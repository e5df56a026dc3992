package filter

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/netcompose/netcompose/internal/hdr"
	"github.com/netcompose/netcompose/internal/hdr/hdrtest"
)

// decoded is what a Decode gave, comparable: the payload by its place in
// the data (length and capacity left), not only its bytes.
type decoded struct {
	Err                    bool
	Data                   int
	Version, Protocol      uint8
	Src, Dst               string
	Sport, Dport           uint16
	Transport              bool
	Payload                string
	PayloadNil             bool
	PayloadLen, PayloadCap int
}

func decodeWith(dec interface {
	Decode([]byte, *Packet) error
}, data []byte) decoded {
	var p Packet
	err := dec.Decode(data, &p)
	return decoded{
		Err: err != nil, Data: len(p.Data),
		Version: p.Version, Protocol: p.Protocol, Src: p.Src.String(), Dst: p.Dst.String(),
		Sport: p.Sport, Dport: p.Dport, Transport: p.Transport,
		Payload: string(p.Payload), PayloadNil: p.Payload == nil, PayloadLen: len(p.Payload), PayloadCap: cap(p.Payload),
	}
}

// sameAsGopacket fails t if Decoder and gopacket read data differently.
func sameAsGopacket(t *testing.T, data []byte) {
	t.Helper()
	want := decodeWith(newGopacketDecoder(), data)
	if d := cmp.Diff(want, decodeWith(NewDecoder(), data)); d != "" {
		t.Errorf("Decode(% x) (-gopacket +Decoder):\n%s", data, d)
	}
}

// Crafted packets, to be taken apart: a header of each kind, well formed
// unless said otherwise, with the defaults the tests change one at a time.
var (
	src4, dst4 = []byte{192, 0, 2, 1}, []byte{198, 51, 100, 2}
	src6       = netip.MustParseAddr("2001:db8::1").AsSlice()
	dst6       = netip.MustParseAddr("2001:db8::2").AsSlice()
)

// ip4 is an IPv4 header with options opts (a multiple of 4 bytes), then
// payload.
func ip4(proto byte, opts []byte, payload ...byte) []byte {
	return hdrtest.IPv4(src4, dst4, proto, opts, payload...)
}

// ip6 is an IPv6 header, then payload.
func ip6(next byte, payload ...byte) []byte { return hdrtest.IPv6(src6, dst6, next, 64, payload...) }

// tcpSeg is a TCP header with options opts (a multiple of 4 bytes),
// then payload.
func tcpSeg(opts []byte, payload ...byte) []byte {
	h := make([]byte, 20, 20+len(opts)+len(payload))
	binary.BigEndian.PutUint16(h[0:], 40000)
	binary.BigEndian.PutUint16(h[2:], 80)
	h[12] = byte((20+len(opts))/4) << 4
	h[13] = 0x18 // PSH ACK
	h = append(h, opts...)
	return append(h, payload...)
}

// udpDgram is a UDP header to port 9, then payload.
func udpDgram(payload ...byte) []byte {
	h := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(h[0:], 5000)
	binary.BigEndian.PutUint16(h[2:], 9)
	binary.BigEndian.PutUint16(h[4:], uint16(8+len(payload)))
	return append(h, payload...)
}

// icmpMsg is an ICMP or ICMPv6 header of type typ, then payload.
func icmpMsg(typ byte, payload ...byte) []byte {
	return append([]byte{typ, 0, 0, 0, 0, 1, 0, 1}, payload...)
}

func u32(v int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }

// craftedPackets are well-formed and malformed packets for the decoder,
// the corners gopacket has an answer for.
func craftedPackets() []struct {
	name string
	data []byte
} {
	text := []byte("GET / HTTP/1.0\r\n\r\n")
	tcp4 := ip4(ProtoTCP, nil, tcpSeg(nil, text...)...)
	udp4 := ip4(ProtoUDP, nil, udpDgram('q')...)
	udp6 := ip6(ProtoUDP, udpDgram('q')...)
	hbhUDP := ip6(0, hdrtest.Ext(ProtoUDP, []byte{1, 4, 0, 0, 0, 0}, udpDgram('q')...)...) // PadN
	return []struct {
		name string
		data []byte
	}{
		{"ipv4 tcp", tcp4},
		{"ipv4 tcp with options", ip4(ProtoTCP, nil, tcpSeg([]byte{2, 4, 5, 0xb4, 1, 1, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0}, text...)...)},
		{"tcp option end of list then padding", ip4(ProtoTCP, nil, tcpSeg([]byte{1, 0, 0xff, 0xff}, text...)...)},
		{"tcp option longer than the header", ip4(ProtoTCP, nil, tcpSeg([]byte{1, 1, 8, 10}, text...)...)},
		{"tcp option of length 1", ip4(ProtoTCP, nil, tcpSeg([]byte{1, 1, 5, 1}, text...)...)},
		{"tcp option without its length", ip4(ProtoTCP, nil, tcpSeg([]byte{1, 1, 1, 3}, text...)...)},
		{"tcp data offset under 5", hdrtest.With(tcp4, 20+12, 0x40)},
		{"tcp data offset past the data", hdrtest.With(tcp4, 20+12, 0xf0)},
		{"tcp without payload", ip4(ProtoTCP, nil, tcpSeg(nil)...)},
		{"tcp to the dns port", ip4(ProtoTCP, nil, hdrtest.With(tcpSeg(nil, 'x'), 2, 0, 53)...)},
		{"ipv4 udp", udp4},
		{"udp length 0 (jumbogram)", hdrtest.With(udp4, 20+4, 0, 0)},
		{"udp length under 8", hdrtest.With(udp4, 20+4, 0, 7)},
		{"udp length over the data", hdrtest.With(udp4, 20+4, 0, 200)},
		{"udp length under the data", ip4(ProtoUDP, nil, hdrtest.With(udpDgram('a', 'b', 'c'), 4, 0, 9)...)},
		{"udp without payload", ip4(ProtoUDP, nil, udpDgram()...)},
		{"udp to vxlan", ip4(ProtoUDP, nil, hdrtest.With(udpDgram(make([]byte, 16)...), 2, 0x12, 0xb5)...)},
		{"ipv4 icmp", ip4(ProtoICMP, nil, icmpMsg(8, 'p', 'i', 'n', 'g')...)},
		{"icmp of 7 bytes", ip4(ProtoICMP, nil, 8, 0, 0, 0, 0, 1, 0)},
		{"icmpv6 in ipv4", ip4(ProtoICMPv6, nil, icmpMsg(128, 'x')...)},
		{"ipv4 igmp", ip4(2, nil, 0x11, 0, 0, 0, 0, 0, 0, 0)},
		{"ipv4 options", ip4(ProtoUDP, []byte{1, 7, 7, 4, 0, 0, 0, 0, 0, 0, 0, 0}, udpDgram('q')...)},
		{"ipv4 option end of list then padding", ip4(ProtoUDP, []byte{0, 0xff, 0xff, 0xff}, udpDgram('q')...)},
		{"ipv4 option of length 2", ip4(ProtoUDP, []byte{7, 2, 1, 1}, udpDgram('q')...)},
		{"ipv4 option past the header", ip4(ProtoUDP, []byte{1, 1, 7, 8}, udpDgram('q')...)},
		{"ipv4 option without its length", ip4(ProtoUDP, []byte{1, 1, 1, 7}, udpDgram('q')...)},
		{"ipv4 ihl under 5", hdrtest.With(udp4, 0, 0x44)},
		{"ipv4 ihl over the total length", hdrtest.With(udp4, 0, 0x4f)},
		{"ipv4 ihl over the data", hdrtest.With(ip4(ProtoUDP, nil), 0, 0x4f, 0, 0, 0, 60)},
		{"ipv4 total length 0 (tso)", hdrtest.With(udp4, 2, 0, 0)},
		{"ipv4 total length under 20", hdrtest.With(udp4, 2, 0, 19)},
		{"ipv4 total length under the data (padding)", append(bytes.Clone(udp4), 0, 0, 0, 0)},
		{"ipv4 total length over the data", hdrtest.With(udp4, 2, 1, 0)},
		{"ipv4 total length cuts the udp header", hdrtest.With(udp4, 2, 0, 24)},
		{"ipv4 header only", ip4(ProtoTCP, nil)},
		{"ipv4 first fragment", hdrtest.With(tcp4, 6, 0x20, 0)},
		{"ipv4 later fragment", hdrtest.With(tcp4, 6, 0, 0x10)},
		{"ipv4 don't fragment", hdrtest.With(tcp4, 6, 0x40, 0)},
		{"ipv4 evil bit", hdrtest.With(tcp4, 6, 0x80, 0)},
		{"version 5", hdrtest.With(udp4, 0, 0x55)},
		{"ip in ip", ip4(hdr.ProtoIPIP, nil, hdrtest.With(udp4, 12, 10, 0, 0, 1)...)},
		{"ip in ip, old number", ip4(hdr.ProtoIPIPOld, nil, hdrtest.With(udp4, 12, 10, 0, 0, 1)...)},
		{"ip in ip, inner header malformed", ip4(hdr.ProtoIPIP, nil, hdrtest.With(hdrtest.With(udp4, 12, 10, 0, 0, 1), 0, 0x44)...)},
		{"ip in ip, inner header ipv6", ip4(hdr.ProtoIPIP, nil, udp6...)},
		{"ip in ip, inner header short", ip4(hdr.ProtoIPIP, nil, udp4[:19]...)},
		{"ipv6 in ipv4", ip4(hdr.ProtoIPv6, nil, udp6...)},
		{"ipv6 udp", udp6},
		{"ipv6 tcp", ip6(ProtoTCP, tcpSeg(nil, text...)...)},
		{"ipv6 icmpv6", ip6(ProtoICMPv6, icmpMsg(128, 'p', 'i', 'n', 'g')...)},
		{"icmpv6 of 4 bytes", ip6(ProtoICMPv6, 128, 0, 0, 0)},
		{"icmpv6 of 7 bytes", ip6(ProtoICMPv6, 128, 0, 0, 0, 0, 1, 0)},
		{"icmp in ipv6", ip6(ProtoICMP, icmpMsg(8)...)},
		{"ipv6 payload length 0", hdrtest.With(udp6, 4, 0, 0)},
		{"ipv6 payload length over the data", hdrtest.With(udp6, 4, 1, 0)},
		{"ipv6 payload length under the data", append(bytes.Clone(udp6), 1, 2, 3)},
		{"ipv6 header only", ip6(59)},
		{"ipv6 no next header", ip6(59, 1, 2, 3)},
		{"ipv6 in ipv6", ip6(hdr.ProtoIPv6, hdrtest.With(udp6, 8, 0xfe, 0x80)...)},
		{"ipv6 in ipv6, inner header malformed", ip6(hdr.ProtoIPv6, hdrtest.With(hdrtest.With(udp6, 8, 0xfe, 0x80), 4, 0, 0)...)},
		{"ipv4 in ipv6", ip6(hdr.ProtoIPIP, udp4...)},
		{"hop-by-hop then udp", hbhUDP},
		{"hop-by-hop with pad1", ip6(0, hdrtest.Ext(ProtoUDP, []byte{0, 0, 0, 0, 0, 0}, udpDgram('q')...)...)},
		{"hop-by-hop router alert then icmpv6 (mld)", ip6(0, hdrtest.Ext(ProtoICMPv6, []byte{5, 2, 0, 0, 1, 0}, icmpMsg(143, make([]byte, 20)...)...)...)},
		{"hop-by-hop pad1 at the very end", ip6(0, 58, 0, 1, 0, 0, 0, 0, 0)},
		{"hop-by-hop option past the data", ip6(0, hdrtest.Ext(ProtoUDP, []byte{1, 40, 0, 0, 0, 0})...)},
		{"hop-by-hop option past the header", ip6(0, hdrtest.Ext(ProtoUDP, []byte{1, 6, 0, 0, 0, 0}, udpDgram('q')...)...)},
		{"hop-by-hop longer than the data", ip6(0, ProtoUDP, 9, 1, 4, 0, 0, 0, 0)},
		{"hop-by-hop of 1 byte", ip6(0, ProtoUDP)},
		{"hop-by-hop, payload length 0 without jumbo", hdrtest.With(hbhUDP, 4, 0, 0)},
		{"jumbogram", hdrtest.With(ip6(0, hdrtest.Ext(ProtoUDP, append([]byte{0xc2, 4}, u32(70000)...), hdrtest.With(udpDgram('q'), 4, 0, 0)...)...), 4, 0, 0)},
		{"jumbogram with a payload length", ip6(0, hdrtest.Ext(ProtoUDP, append([]byte{0xc2, 4}, u32(70000)...), udpDgram('q')...)...)},
		{"jumbo option under 65536", hdrtest.With(ip6(0, hdrtest.Ext(ProtoUDP, append([]byte{0xc2, 4}, u32(1000)...), udpDgram('q')...)...), 4, 0, 0)},
		{"jumbo option of 2 bytes", hdrtest.With(ip6(0, hdrtest.Ext(ProtoUDP, []byte{0xc2, 2, 0, 1, 1, 0}, udpDgram('q')...)...), 4, 0, 0)},
		{"jumbo option of 0 bytes", hdrtest.With(ip6(0, hdrtest.Ext(ProtoUDP, []byte{0xc2, 0, 1, 2, 0, 0}, udpDgram('q')...)...), 4, 0, 0)},
		{"two jumbo options", hdrtest.With(ip6(0, hdrtest.Ext(ProtoUDP, append(append([]byte{0xc2, 4}, u32(70000)...), append([]byte{0xc2, 4}, u32(1)...)...)[:14], udpDgram('q')...)...), 4, 0, 0)},
		{"routing header", ip6(43, hdrtest.Ext(ProtoUDP, make([]byte, 6), udpDgram('q')...)...)},
		{"fragment header", ip6(44, ProtoUDP, 0, 0, 1, 0, 0, 0, 1)},
		{"destination options", ip6(60, hdrtest.Ext(ProtoTCP, make([]byte, 6), tcpSeg(nil)...)...)},
		{"ipv6 traffic class and flow label", hdrtest.With(udp6, 0, 0x6f, 0xff, 0xff, 0xff)},
		{"not ip", []byte{0x50, 0, 0}},
		{"version 0", make([]byte, 40)},
		{"empty", nil},
		{"one byte", []byte{0x45}},
	}
}

func TestDecodeMatchesGopacket(t *testing.T) {
	for _, c := range craftedPackets() {
		t.Run(c.name, func(t *testing.T) {
			sameAsGopacket(t, c.data)
			// and every copy cut short
			for n := range len(c.data) {
				sameAsGopacket(t, c.data[:n:n])
			}
		})
	}
}

// FuzzDecodeMatchesGopacket holds Decoder to gopacket's reading of any
// bytes: the crafted packets, and what the fuzzer makes of them.
//
//	go test -run XXX -fuzz FuzzDecodeMatchesGopacket -fuzztime 30s ./internal/nfqueue/filter
func FuzzDecodeMatchesGopacket(f *testing.F) {
	for _, c := range craftedPackets() {
		f.Add(c.data)
	}
	for _, s := range []spec{
		{"192.0.2.1", "198.51.100.2", "tcp", 40000, 80, "GET / HTTP/1.0\r\n\r\n"},
		{"2001:db8::1", "2001:db8::2", "icmpv6", 0, 0, "ping"},
	} {
		f.Add(build(f, s))
	}
	f.Fuzz(sameAsGopacket)
}
