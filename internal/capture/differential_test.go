package capture

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"github.com/netcompose/netcompose/internal/hdr/hdrtest"
)

// Raw frames, to be taken apart: each builder makes its header well
// formed, for the tests to break one field at a time.

var (
	macB     = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}
	rawNames = map[string]string{macA.String(): "a:eth0", macFW.String(): "firewall:cli"}
	v4a, v4b = []byte{10, 0, 0, 1}, []byte{10, 0, 0, 2}
	v6a      = net.ParseIP("2001:db8::1")
	v6b      = net.ParseIP("fe80::2")
)

func ethFrame(dst, src net.HardwareAddr, etherType int, payload ...byte) []byte {
	b := append(append(bytes.Clone(dst), src...), byte(etherType>>8), byte(etherType))
	return append(b, payload...)
}

func ipv4Packet(proto byte, payload ...byte) []byte {
	return hdrtest.IPv4(v4a, v4b, proto, nil, payload...)
}

func ipv6Packet(next byte, payload ...byte) []byte {
	return hdrtest.IPv6(v6a, v6b, next, 255, payload...)
}

func udpDatagram(sport, dport int, payload ...byte) []byte {
	h := binary.BigEndian.AppendUint16(nil, uint16(sport))
	h = binary.BigEndian.AppendUint16(h, uint16(dport))
	h = binary.BigEndian.AppendUint16(h, uint16(8+len(payload)))
	return append(append(h, 0, 0), payload...)
}

func tcpSegment(flags byte, payload ...byte) []byte {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h[0:], 40000)
	binary.BigEndian.PutUint16(h[2:], 80)
	binary.BigEndian.PutUint32(h[4:], 1e9)
	binary.BigEndian.PutUint32(h[8:], 7)
	h[12], h[13] = 5<<4, flags
	binary.BigEndian.PutUint16(h[14:], 64240)
	return append(h, payload...)
}

func icmpMessage(typ, code byte, payload ...byte) []byte {
	return append([]byte{typ, code, 0, 0, 0, 3, 0, 9}, payload...)
}

func arpMessage(op byte, hw, pr int, sha []byte, spa, tpa []byte) []byte {
	b := []byte{0, 1, 8, 0, byte(hw), byte(pr), 0, op}
	b = append(b, sha...)
	b = append(b, spa...)
	b = append(b, make([]byte, hw)...)
	return append(b, tpa...)
}

// ndOption is an NDP option of type typ whose length, in 8 bytes, is n.
func ndOption(typ byte, n int, data ...byte) []byte {
	o := append([]byte{typ, byte(n)}, data...)
	return append(o, make([]byte, max(0, n*8-len(o)))...)
}

// craftedFrames are frames for the Summarizer: each kind of line, and
// the corners where gopacket's reading has an answer.
func craftedFrames() map[string][]byte {
	ip := func(proto byte, payload ...byte) []byte {
		return ethFrame(macFW, macA, 0x0800, ipv4Packet(proto, payload...)...)
	}
	ip6 := func(next byte, payload ...byte) []byte {
		return ethFrame(bcast, macA, 0x86dd, ipv6Packet(next, payload...)...)
	}
	hbh := func(next byte, payload ...byte) []byte { // with a router alert
		return append([]byte{next, 0, 5, 2, 0, 0, 1, 0}, payload...)
	}
	ns := icmpMessage(135, 0, append(v6b.To16(), ndOption(1, 1, macA...)...)...)
	na := icmpMessage(136, 0, append(v6b.To16(), ndOption(2, 1, macFW...)...)...)
	udp := ip(17, udpDatagram(40000, 5000, []byte("hello")...)...)
	inner := ethFrame(macFW, macA, 0x0800, ipv4Packet(1, icmpMessage(8, 0, 'p')...)...)
	f := map[string][]byte{
		"udp":                        udp,
		"udp padded":                 append(bytes.Clone(udp), make([]byte, 13)...),
		"udp length 0":               hdrtest.With(udp, 14+20+4, 0, 0),
		"udp length 3":               hdrtest.With(udp, 14+20+4, 0, 3),
		"udp on a dns port":          ip(17, udpDatagram(53, 40000, 'x')...),
		"ip total length 0":          hdrtest.With(udp, 14+2, 0, 0),
		"ip total length 10":         hdrtest.With(udp, 14+2, 0, 10),
		"ip total length past data":  hdrtest.With(udp, 14+2, 1, 0),
		"ip ihl 4":                   hdrtest.With(udp, 14, 0x44),
		"ip ihl 15":                  hdrtest.With(udp, 14, 0x4f),
		"ip version 6 in ipv4 type":  hdrtest.With(udp, 14, 0x65),
		"ip first fragment":          hdrtest.With(udp, 14+6, 0x20),
		"ip later fragment":          hdrtest.With(udp, 14+6, 0, 1),
		"ip in ip":                   ip(4, ipv4Packet(17, udpDatagram(1, 2)...)...),
		"ip in ip, inner malformed":  ip(94, hdrtest.With(ipv4Packet(17, udpDatagram(1, 2)...), 0, 0x44, 0, 0, 0, 0, 0, 0, 0, 9, 1)...),
		"ipv6 in ipv4":               ip(41, ipv6Packet(17, udpDatagram(1, 2)...)...),
		"ipv4 in ipv6":               ip6(4, ipv4Packet(6, tcpSegment(0x12)...)...),
		"icmpv6 in ipv4":             ip(58, icmpMessage(128, 0, 0, 0, 0, 0)...),
		"tcp syn":                    ip(6, tcpSegment(0x02)...),
		"tcp data offset 4":          ip(6, hdrtest.With(tcpSegment(0x10), 12, 0x40)...),
		"tcp data offset past data":  ip(6, hdrtest.With(tcpSegment(0x10), 12, 0xf0)...),
		"tcp bad option":             ip(6, hdrtest.With(tcpSegment(0x10, 1, 1, 5, 1), 12, 0x60)...),
		"tcp good options":           ip(6, hdrtest.With(tcpSegment(0x10, 2, 4, 5, 0xb4, 0), 12, 0x60)...),
		"icmp unreachable":           ip(1, icmpMessage(3, 3, ipv4Packet(17)...)...),
		"icmp short":                 ip(1, 8, 0, 0, 0, 0, 1, 0),
		"ipv6 udp":                   ip6(17, udpDatagram(5353, 5353, 'q')...),
		"ipv6 payload length 0":      hdrtest.With(ip6(17, udpDatagram(1, 2)...), 14+4, 0, 0),
		"ipv6 no next header":        ip6(59, 1, 2, 3),
		"ipv6 routing header":        ip6(43, 17, 0, 0, 0, 0, 0, 0, 0),
		"ipv6 in ipv6":               ip6(41, ipv6Packet(6, tcpSegment(0x11)...)...),
		"ipv4-mapped addresses":      hdrtest.With(ip6(17, udpDatagram(1, 2)...), 14+8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4),
		"mld report":                 ip6(0, hbh(58, icmpMessage(143, 0, make([]byte, 20)...)...)...),
		"hop-by-hop then udp":        ip6(0, hbh(17, udpDatagram(1, 2, 'x')...)...),
		"hop-by-hop bad option":      ip6(0, 17, 0, 5, 9, 0, 0, 1, 0),
		"jumbogram":                  hdrtest.With(ip6(0, 17, 0, 0xc2, 4, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), 14+4, 0, 0),
		"echo request":               ip6(58, icmpMessage(128, 0, 'p')...),
		"echo reply":                 ip6(58, icmpMessage(129, 0)...),
		"echo without its body":      ip6(58, 128, 0, 0, 0),
		"neighbor solicitation":      ip6(58, ns...),
		"neighbor solicitation, bad": ip6(58, ns[:len(ns)-1]...),
		"neighbor advertisement":     ip6(58, na...),
		"advertisement, 2 addresses": ip6(58, append(bytes.Clone(na), ndOption(2, 2, macB...)...)...),
		"advertisement, option 0":    ip6(58, append(bytes.Clone(na), 2, 0, 0, 0, 0, 0, 0, 0)...),
		"advertisement, no options":  ip6(58, na[:24]...),
		"router advertisement":       ip6(58, icmpMessage(134, 0, make([]byte, 8)...)...),
		"arp request":                ethFrame(bcast, macA, 0x0806, arpMessage(1, 6, 4, macA, v4a, v4b)...),
		"arp reply":                  ethFrame(macA, macFW, 0x0806, arpMessage(2, 6, 4, macFW, v4b, v4a)...),
		"arp announcement":           ethFrame(bcast, macA, 0x0806, arpMessage(1, 6, 4, macA, v4a, v4a)...),
		"arp op 9":                   ethFrame(bcast, macA, 0x0806, arpMessage(9, 6, 4, macA, v4a, v4b)...),
		"arp of odd sizes":           ethFrame(bcast, macA, 0x0806, arpMessage(2, 3, 7, macA[:3], make([]byte, 7), v4b[:3])...),
		"arp of 0 sizes":             ethFrame(bcast, macA, 0x0806, arpMessage(2, 0, 0, nil, nil, nil)...),
		"arp over 255 bytes":         ethFrame(bcast, macA, 0x0806, arpMessage(2, 60, 64, make([]byte, 60), make([]byte, 64), make([]byte, 64))...),
		"arp short":                  ethFrame(bcast, macA, 0x0806, arpMessage(1, 6, 4, macA, v4a, v4b)[:20]...),
		"vlan":                       ethFrame(macFW, macA, 0x8100, append([]byte{0, 100, 8, 0}, ipv4Packet(17, udpDatagram(1, 2)...)...)...),
		"qinq then arp":              ethFrame(bcast, macA, 0x88a8, append([]byte{0, 10, 0x81, 0, 0, 20, 8, 6}, arpMessage(1, 6, 4, macA, v4a, v4b)...)...),
		"vlan then lldp":             ethFrame(bcast, macA, 0x8100, 0, 1, 0x88, 0xcc, 1, 2, 3),
		"vlan short":                 ethFrame(bcast, macA, 0x8100, 0, 1, 8),
		"ethernet in ethernet":       ethFrame(bcast, macB, 0x6558, udp...),
		"802.3 length":               ethFrame(bcast, macA, 0x0026, make([]byte, 46)...),
		"802.3 length past data":     ethFrame(bcast, macA, 0x05ff, 0xaa, 0xaa, 3),
		"vxlan":                      ip(17, udpDatagram(50000, 4789, append([]byte{8, 0, 0, 0, 0, 0, 42, 0}, inner...)...)...),
		"vxlan on linux's port":      ip(17, udpDatagram(50000, 8472, append([]byte{8, 0, 0, 0, 1, 2, 3, 0}, inner...)...)...),
		"vxlan from its port":        ip(17, udpDatagram(4789, 50000, append([]byte{8, 0, 0, 0, 0, 0, 42, 0}, inner...)...)...),
		"vxlan short":                ip(17, udpDatagram(50000, 4789, 8, 0, 0, 0, 0, 0, 42)...),
		"vxlan of a short frame":     ip(17, udpDatagram(50000, 4789, 8, 0, 0, 0, 0, 0, 42, 0, 1, 2)...),
		"vxlan of nothing":           ip(17, udpDatagram(50000, 4789, 8, 0, 0, 0, 0, 0, 42, 0)...),
		"vxlan in vxlan":             ip(17, udpDatagram(1, 4789, append([]byte{8, 0, 0, 0, 0, 0, 1, 0}, ip(17, udpDatagram(2, 4789, append([]byte{8, 0, 0, 0, 0, 0, 2, 0}, inner...)...)...)...)...)...),
		"empty":                      nil,
	}
	// IPv4 with a No Operation and a record route option, then with the
	// route's length past the header
	opts := append(ipv4Packet(17)[:20:20], 1, 7, 7, 4, 0, 0, 0, 0)
	opts[0], opts[3] = 0x47, 28+10
	f["ip options"] = ethFrame(macFW, macA, 0x0800, append(opts, udpDatagram(1, 2, 'x')...)...)
	f["ip option past the header"] = ethFrame(macFW, macA, 0x0800, append(hdrtest.With(opts, 22, 9), udpDatagram(1, 2, 'x')...)...)
	for t := range 256 {
		f[fmt.Sprint("ipv4 protocol ", t)] = ip(byte(t), make([]byte, 48)...)
		f[fmt.Sprint("ipv6 next header ", t)] = ip6(byte(t), make([]byte, 48)...)
		f[fmt.Sprint("tcp flags ", t)] = ip(6, tcpSegment(byte(t))...)
	}
	for _, t := range []byte{0, 3, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 42} {
		for _, c := range []byte{0, 1, 2, 3, 4, 15, 16, 255} {
			f[fmt.Sprintf("icmp %d/%d", t, c)] = ip(1, icmpMessage(t, c, 'x')...)
		}
	}
	for _, t := range []byte{0, 1, 2, 3, 4, 5, 127, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 143, 200} {
		for _, c := range []byte{0, 1, 2, 3, 4, 6, 7, 255} {
			f[fmt.Sprintf("icmpv6 %d/%d", t, c)] = ip6(58, icmpMessage(t, c, make([]byte, 24)...)...)
		}
	}
	for _, t := range []int{0x0600, 0x0800, 0x0806, 0x86dd, 0x2000, 0x01a2, 0x6558, 0x8100, 0x880b, 0x8863,
		0x8864, 0x8847, 0x8848, 0x888e, 0x88be, 0x88a8, 0x88cc, 0x9000, 0x88b5, 0xffff} {
		f[fmt.Sprintf("ethertype %#04x", t)] = ethFrame(bcast, macA, t, 0, 0, 0)
	}
	return f
}

// sameLineAsGopacket fails t if Summarizer and gopacket's summarise data
// differently, with link addresses on every line or not, and s and g (if
// not nil) are kept from frame to frame.
func sameLineAsGopacket(t *testing.T, s *Summarizer, g *gopacketSummarizer, data []byte) {
	t.Helper()
	if s == nil {
		for _, link := range []bool{false, true} {
			sameLineAsGopacket(t, &Summarizer{Names: rawNames, Link: link}, &gopacketSummarizer{Names: rawNames, Link: link}, data)
		}
		return
	}
	want := g.Summary(data, len(data)+4)
	if got := s.Summary(data, len(data)+4); got != want {
		t.Errorf("Summary(% x), link %v:\n got %s\nwant %s (gopacket's)", data, s.Link, got, want)
	}
}

func TestSummaryMatchesGopacket(t *testing.T) {
	// Summarizers kept from frame to frame, as a text writer's: nothing
	// of one frame may show in the next's line.
	kept, keptg := &Summarizer{Names: rawNames}, &gopacketSummarizer{Names: rawNames}
	for name, data := range craftedFrames() {
		t.Run(name, func(t *testing.T) {
			sameLineAsGopacket(t, nil, nil, data)
			sameLineAsGopacket(t, kept, keptg, data)
			for n := range len(data) {
				sameLineAsGopacket(t, nil, nil, data[:n:n])
			}
		})
	}
}

// FuzzSummaryMatchesGopacket holds Summarizer to gopacket's lines for any
// bytes.
//
//	go test -run XXX -fuzz FuzzSummaryMatchesGopacket -fuzztime 30s ./internal/capture
func FuzzSummaryMatchesGopacket(f *testing.F) {
	for _, data := range craftedFrames() {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) { sameLineAsGopacket(t, nil, nil, data) })
}

// The pcap and pcapng writers write what gopacket's pcapgo wrote, byte for
// byte, and pcapgo and tcpdump read it back.

// testPackets are packets of an Ethernet and a raw interface, of every
// padding to 32 bits, cut at the snaplen or not.
func testPackets() []*Packet {
	eth0 := Interface{Index: 2, Name: "eth0", Ethernet: true}
	tun0 := Interface{Index: 7, Name: "tun0"}
	noName := Interface{Index: 9, Ethernet: true}
	udp := ethFrame(macFW, macA, 0x0800, ipv4Packet(17, udpDatagram(40000, 5000, []byte("hello")...)...)...)
	t0 := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	var ps []*Packet
	for i, data := range [][]byte{udp, udp[:44], udp[:45], udp[:46], ipv4Packet(17, udpDatagram(1, 2, 'x')...), udp} {
		p := &Packet{Time: t0.Add(time.Duration(i) * 1001 * time.Microsecond), Ifindex: 2, Length: len(data), Data: data, Interface: eth0}
		switch i {
		case 1:
			p.Length = 1500 // cut at the snaplen
		case 4:
			p.Ifindex, p.Interface = 7, tun0
		case 5:
			p.Ifindex, p.Interface = 9, noName
		}
		ps = append(ps, p)
	}
	return ps
}

func writeAll(t *testing.T, w Writer, err error, ps []*Packet) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if err := w.WritePacket(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// readBack writes b to a file, which tcpdump reads: one line a packet.
func readBack(t *testing.T, name string, b []byte, n int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	lines := tcpdumpRead(t, path)
	if len(lines) != n || !strings.Contains(lines[0], "10.0.0.1.40000 > 10.0.0.2.5000: UDP, length 5") {
		t.Errorf("tcpdump -r read:\n%s\nwant %d packets, the first UDP from 10.0.0.1.40000", strings.Join(lines, "\n"), n)
	}
}

func TestPcapMatchesGopacket(t *testing.T) {
	var ps []*Packet // pcap's are of one interface, an Ethernet one
	for _, p := range testPackets() {
		if p.Interface.Ethernet {
			ps = append(ps, p)
		}
	}
	var got, want bytes.Buffer
	w, err := NewPcap(&got, 262144)
	writeAll(t, w, err, ps)
	w, err = newGopacketPcap(&want, 262144)
	writeAll(t, w, err, ps)
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("pcap file:\n% x\nwant (pcapgo's)\n% x", got.Bytes(), want.Bytes())
	}
	r, err := pcapgo.NewReader(bytes.NewReader(got.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != layers.LinkTypeEthernet || r.Snaplen() != 262144 {
		t.Errorf("link type %v, snaplen %d: want Ethernet, 262144", r.LinkType(), r.Snaplen())
	}
	for _, p := range ps {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			t.Fatal(err)
		}
		if !ci.Timestamp.Equal(p.Time.Truncate(time.Microsecond)) || ci.Length != p.Length || !bytes.Equal(data, p.Data) {
			t.Errorf("read %v, length %d, % x; want %v, %d, % x", ci.Timestamp, ci.Length, data, p.Time, p.Length, p.Data)
		}
	}
	if _, _, err := r.ReadPacketData(); err != io.EOF {
		t.Errorf("after the packets: %v, want EOF", err)
	}
	readBack(t, "out.pcap", got.Bytes(), len(ps))
}

func TestPcapngMatchesGopacket(t *testing.T) {
	ps := testPackets()
	ifaces := []Interface{ps[0].Interface, {Index: 3, Name: "eth1", Ethernet: true}}
	var got, want bytes.Buffer
	w, err := NewPcapng(&got, 96, ifaces)
	writeAll(t, w, err, ps)
	w, err = newGopacketPcapng(&want, 96, ifaces)
	writeAll(t, w, err, ps)
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("pcapng file:\n% x\nwant (pcapgo's)\n% x", got.Bytes(), want.Bytes())
	}
	r, err := pcapgo.NewNgReader(bytes.NewReader(got.Bytes()), pcapgo.NgReaderOptions{WantMixedLinkType: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			t.Fatal(err)
		}
		intf, err := r.Interface(ci.InterfaceIndex)
		if err != nil {
			t.Fatal(err)
		}
		lt := layers.LinkTypeEthernet
		if !p.Interface.Ethernet {
			lt = layers.LinkTypeRaw
		}
		if intf.Name != p.Interface.Name || intf.LinkType != lt || intf.SnapLength != 96 ||
			!ci.Timestamp.Equal(p.Time) || ci.Length != p.Length || !bytes.Equal(data, p.Data) {
			t.Errorf("read %+v on %+v, % x; want %+v", ci, intf, data, p)
		}
	}
	if _, _, err := r.ReadPacketData(); err != io.EOF {
		t.Errorf("after the packets: %v, want EOF", err)
	}
	// libpcap reads no file whose interfaces differ in link type (nor did
	// it pcapgo's): tcpdump has the Ethernet ones.
	var eth []*Packet
	for _, p := range ps {
		if p.Interface.Ethernet {
			eth = append(eth, p)
		}
	}
	got.Reset()
	w, err = NewPcapng(&got, 96, ifaces)
	writeAll(t, w, err, eth)
	readBack(t, "out.pcapng", got.Bytes(), len(eth))
}

// BenchmarkSummary is the line of a UDP frame (a text capture's work per
// packet), beside gopacket's Summarizer that it replaced.
func BenchmarkSummary(b *testing.B) {
	data := ethFrame(macFW, macA, 0x0800, ipv4Packet(17, udpDatagram(40000, 5000, []byte("netcompose-capture")...)...)...)
	for _, bc := range []struct {
		name string
		s    interface{ Summary([]byte, int) string }
	}{
		{"Summarizer", &Summarizer{Names: rawNames}},
		{"gopacket", &gopacketSummarizer{Names: rawNames}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bc.s.Summary(data, 60)
			}
		})
	}
}
