package filter

import (
	"bytes"
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/netcompose/netcompose/internal/hdr"
	"github.com/netcompose/netcompose/internal/hdr/hdrtest"
)

// spec describes a test packet; build serialises it with gopacket.
type spec struct {
	src, dst     string
	proto        string // tcp, udp, icmp, icmpv6
	sport, dport uint16
	payload      string
}

func build(t testing.TB, s spec) []byte {
	t.Helper()
	src, dst := net.ParseIP(s.src), net.ParseIP(s.dst)
	var ls []gopacket.SerializableLayer
	var netLayer gopacket.NetworkLayer
	v6 := src.To4() == nil
	ipProto := map[string]layers.IPProtocol{"tcp": layers.IPProtocolTCP, "udp": layers.IPProtocolUDP,
		"icmp": layers.IPProtocolICMPv4, "icmpv6": layers.IPProtocolICMPv6}[s.proto]
	if v6 {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: ipProto, SrcIP: src, DstIP: dst}
		ls, netLayer = append(ls, ip), ip
	} else {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: ipProto, SrcIP: src.To4(), DstIP: dst.To4()}
		ls, netLayer = append(ls, ip), ip
	}
	switch s.proto {
	case "tcp":
		tcp := &layers.TCP{SrcPort: layers.TCPPort(s.sport), DstPort: layers.TCPPort(s.dport), PSH: true, ACK: true, Window: 512}
		tcp.SetNetworkLayerForChecksum(netLayer)
		ls = append(ls, tcp)
	case "udp":
		udp := &layers.UDP{SrcPort: layers.UDPPort(s.sport), DstPort: layers.UDPPort(s.dport)}
		udp.SetNetworkLayerForChecksum(netLayer)
		ls = append(ls, udp)
	case "icmp":
		ls = append(ls, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 1, Seq: 1})
	case "icmpv6":
		icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)}
		icmp.SetNetworkLayerForChecksum(netLayer)
		ls = append(ls, icmp, &layers.ICMPv6Echo{Identifier: 1, SeqNumber: 1})
	}
	ls = append(ls, gopacket.Payload(s.payload))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatalf("serialise %+v: %v", s, err)
	}
	return buf.Bytes()
}

func decode(t testing.TB, s spec) *Packet {
	t.Helper()
	var p Packet
	if err := NewDecoder().Decode(build(t, s), &p); err != nil {
		t.Fatalf("decode %+v: %v", s, err)
	}
	return &p
}

func TestDecode(t *testing.T) {
	type got struct {
		Version, Protocol uint8
		Src, Dst          string
		Sport, Dport      uint16
		Payload           string
		Transport         bool
	}
	cases := []struct {
		name string
		in   spec
		want got
	}{
		{"ipv4 tcp with payload", spec{"192.0.2.1", "198.51.100.2", "tcp", 40000, 80, "GET / HTTP/1.0\r\n\r\n"},
			got{4, ProtoTCP, "192.0.2.1", "198.51.100.2", 40000, 80, "GET / HTTP/1.0\r\n\r\n", true}},
		{"ipv4 udp to dns port stops at udp", spec{"192.0.2.1", "198.51.100.2", "udp", 5000, 53, "q"},
			got{4, ProtoUDP, "192.0.2.1", "198.51.100.2", 5000, 53, "q", true}},
		{"ipv4 icmp payload after 8 bytes", spec{"192.0.2.1", "198.51.100.2", "icmp", 0, 0, "ping"},
			got{4, ProtoICMP, "192.0.2.1", "198.51.100.2", 0, 0, "ping", true}},
		{"ipv6 udp", spec{"2001:db8::1", "2001:db8::2", "udp", 1, 9, "x"},
			got{6, ProtoUDP, "2001:db8::1", "2001:db8::2", 1, 9, "x", true}},
		{"ipv6 icmpv6 payload after 8 bytes", spec{"2001:db8::1", "2001:db8::2", "icmpv6", 0, 0, "ping"},
			got{6, ProtoICMPv6, "2001:db8::1", "2001:db8::2", 0, 0, "ping", true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := decode(t, c.in)
			g := got{p.Version, p.Protocol, p.Src.String(), p.Dst.String(), p.Sport, p.Dport, string(p.Payload), p.Transport}
			if d := cmp.Diff(c.want, g); d != "" {
				t.Errorf("decoded (-want +got):\n%s", d)
			}
		})
	}
}

func TestDecodeTruncatedTransport(t *testing.T) {
	data := build(t, spec{"192.0.2.1", "198.51.100.2", "tcp", 1, 2, ""})
	data = data[:24] // IP header and 4 bytes of TCP
	data[2], data[3] = 0, 24
	var p Packet
	if err := NewDecoder().Decode(data, &p); err != nil {
		t.Fatalf("decode: %v, want the IP layer read", err)
	}
	if p.Transport || p.Protocol != ProtoTCP || p.Src != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("got %+v, want tcp from 192.0.2.1 without transport", p)
	}
}

func TestDecodeNotIP(t *testing.T) {
	for _, data := range [][]byte{nil, {0x50, 0, 0}, {0x45, 0}} {
		var p Packet
		if err := NewDecoder().Decode(data, &p); err == nil {
			t.Errorf("Decode(% x) = nil error, want one", data)
		}
	}
}

// The corners of Decode that filters see, spelled out: gopacket's reading,
// which TestDecodeMatchesGopacket holds Decoder to.
func TestDecodeCorners(t *testing.T) {
	type got struct {
		Protocol  uint8
		Src       string
		Transport bool
		Payload   string
	}
	udp4 := ip4(ProtoUDP, nil, udpDgram('q')...)
	tests := []struct {
		name string
		data []byte
		want got
	}{
		{"ethernet padding is no payload", append(bytes.Clone(udp4), 0, 0, 0, 0),
			got{ProtoUDP, "192.0.2.1", true, "q"}},
		{"a first fragment's ports are not read", hdrtest.With(ip4(ProtoTCP, nil, tcpSeg(nil, 'x')...), 6, 0x20, 0),
			got{ProtoTCP, "192.0.2.1", false, ""}},
		{"ip in ip gives the inner header", ip4(hdr.ProtoIPIP, nil, hdrtest.With(udp4, 12, 10, 0, 0, 1)...),
			got{ProtoUDP, "10.0.0.1", true, "q"}},
		{"hop-by-hop options: protocol 0, the transport read", ip6(0, hdrtest.Ext(ProtoUDP, []byte{1, 4, 0, 0, 0, 0}, udpDgram('q')...)...),
			got{0, "2001:db8::1", true, "q"}},
		{"a routing header: its number, no transport", ip6(43, hdrtest.Ext(ProtoUDP, make([]byte, 6), udpDgram('q')...)...),
			got{43, "2001:db8::1", false, ""}},
		{"icmpv6 shorter than 8 bytes: no transport", ip6(ProtoICMPv6, 128, 0, 0, 0, 0, 1, 0),
			got{ProtoICMPv6, "2001:db8::1", false, ""}},
		{"a bad tcp option: no transport", ip4(ProtoTCP, nil, tcpSeg([]byte{1, 1, 5, 1}, 'x')...),
			got{ProtoTCP, "192.0.2.1", false, ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Packet
			if err := NewDecoder().Decode(tt.data, &p); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got{p.Protocol, p.Src.String(), p.Transport, string(p.Payload)}); d != "" {
				t.Errorf("decoded (-want +got):\n%s", d)
			}
		})
	}
}

// Decode allocates nothing, whatever it is given: the queue decodes every
// packet.
func TestDecodeAllocatesNothing(t *testing.T) {
	d := NewDecoder()
	var p Packet
	for _, c := range craftedPackets() {
		if n := testing.AllocsPerRun(100, func() { d.Decode(c.data, &p) }); n != 0 {
			t.Errorf("%s: %v allocations, want 0", c.name, n)
		}
	}
}
