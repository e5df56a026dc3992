package hdr

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"

	"github.com/netcompose/netcompose/internal/hdr/hdrtest"
)

// read is what a function here made of a header: whether it holds, the
// payload by its place in the data (offset and length: a payload of the
// right bytes from the wrong place would be wrong), and IPv4's fragment
// flag and IPv6's next header.
type read struct {
	OK       bool
	Off, Len int
	Fragment bool
	Next     uint8
}

// at is a payload's place in data, which it is a slice of: slicing keeps
// the end of the backing array, so the capacity lost is the offset.
func at(data, payload []byte, ok bool) read {
	if !ok {
		if payload != nil {
			return read{Off: -1} // a payload with no header to go with it
		}
		return read{}
	}
	return read{OK: true, Off: cap(data) - cap(payload), Len: len(payload)}
}

// with is b with the bytes at off replaced by v.

// be16 is n in network byte order.
func be16(n int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(n)) }

// ip4 is an IPv4 header with options opts (a multiple of 4 bytes) and its
// total length right, then payload.
func ip4(opts []byte, payload ...byte) []byte {
	return hdrtest.IPv4([]byte{192, 0, 2, 1}, []byte{198, 51, 100, 2}, ProtoUDP, opts, payload...)
}

func TestIPv4(t *testing.T) {
	payload := []byte("payload!")
	ok := ip4(nil, payload...)
	for _, c := range []struct {
		name string
		data []byte
		want read
	}{
		{"well formed", ok, read{OK: true, Off: 20, Len: 8}},
		{"header only", ip4(nil), read{OK: true, Off: 20}},
		{"shorter than the fixed header", ok[:19], read{}},
		{"total length under the data (padding)", hdrtest.With(ok, 2, be16(24)...), read{OK: true, Off: 20, Len: 4}},
		{"total length over the data (cut short)", hdrtest.With(ok, 2, be16(1500)...), read{OK: true, Off: 20, Len: 8}},
		{"total length 0 (segmentation offload)", hdrtest.With(ok, 2, 0, 0), read{OK: true, Off: 20, Len: 8}},
		{"total length under 20", hdrtest.With(ok, 2, be16(19)...), read{}},
		{"header length under 20", hdrtest.With(ok, 0, 0x44), read{}},
		{"header length over the total length", hdrtest.With(ip4([]byte{1, 1, 1, 1}), 2, be16(20)...), read{}},
		{"header length over the total length of the data", hdrtest.With(ok, 0, 0x4f), read{}},
		{"header length over the data cut short", hdrtest.With(hdrtest.With(ok, 0, 0x4f), 2, be16(1500)...), read{}},
		{"header length over a total length 0", hdrtest.With(hdrtest.With(ok, 0, 0x4f), 2, 0, 0), read{}},
		{"options: no operation, end of list", ip4([]byte{1, 1, 0, 0}, payload...), read{OK: true, Off: 24, Len: 8}},
		{"options: anything after end of list", ip4([]byte{0, 0xff, 0xff, 0xff}, payload...), read{OK: true, Off: 24, Len: 8}},
		{"options: router alert", ip4([]byte{0x94, 4, 0, 0}, payload...), read{OK: true, Off: 24, Len: 8}},
		{"options: 3 bytes then end", ip4([]byte{7, 3, 4, 0}, payload...), read{OK: true, Off: 24, Len: 8}},
		{"options: length 2", ip4([]byte{7, 2, 0, 0}, payload...), read{}},
		{"options: length 0", ip4([]byte{7, 0, 0, 0}, payload...), read{}},
		{"options: length over the options", ip4([]byte{7, 5, 0, 0}, payload...), read{}},
		{"options: type without length", ip4([]byte{1, 1, 1, 7}, payload...), read{}},
		{"options: cut by the total length", hdrtest.With(ip4([]byte{1, 1, 1, 1}, payload...), 2, be16(22)...), read{}},
		{"more fragments", hdrtest.With(ok, 6, 0x20, 0), read{OK: true, Off: 20, Len: 8, Fragment: true}},
		{"fragment offset", hdrtest.With(ok, 6, 0, 1), read{OK: true, Off: 20, Len: 8, Fragment: true}},
		{"don't fragment", hdrtest.With(ok, 6, 0x40, 0), read{OK: true, Off: 20, Len: 8}},
		{"reserved flag", hdrtest.With(ok, 6, 0x80, 0), read{OK: true, Off: 20, Len: 8}},
		{"version not looked at", hdrtest.With(ok, 0, 0x65), read{OK: true, Off: 20, Len: 8}},
	} {
		p, fragment, ok := IPv4(c.data)
		got := at(c.data, p, ok)
		got.Fragment = fragment
		if got != c.want {
			t.Errorf("%s: IPv4(% x) = %+v, want %+v", c.name, c.data, got, c.want)
		}
	}
}

// ip6 is an IPv6 header with next header next and its payload length
// right, then payload.
func ip6(next byte, payload ...byte) []byte {
	return hdrtest.IPv6(net.IPv6loopback, []byte{15: 2}, next, 64, payload...)
}

func concat(b ...[]byte) []byte { return bytes.Join(b, nil) }

// hbh is a hop-by-hop options header with next header next and options
// opts (6 bytes, or 6 and a multiple of 8), then payload.
func hbh(next byte, opts []byte, payload ...byte) []byte { return hdrtest.Ext(next, opts, payload...) }

func TestIPv6(t *testing.T) {
	payload := []byte("payload!")
	ok := ip6(ProtoUDP, payload...)
	padN := []byte{1, 4, 0, 0, 0, 0}
	jumbo := func(n uint32) []byte { return binary.BigEndian.AppendUint32([]byte{0xc2, 4}, n) }
	bigJumbo := hdrtest.With(ip6(ProtoHopByHop, hbh(ProtoUDP, jumbo(0x10004), make([]byte, 0x10000)...)...), 4, 0, 0)
	for _, c := range []struct {
		name string
		data []byte
		want read
	}{
		{"well formed", ok, read{OK: true, Off: 40, Len: 8, Next: ProtoUDP}},
		{"shorter than the fixed header", ok[:39], read{}},
		{"payload length under the data", hdrtest.With(ok, 4, 0, 4), read{OK: true, Off: 40, Len: 4, Next: ProtoUDP}},
		{"payload length over the data", hdrtest.With(ok, 4, be16(1500)...), read{OK: true, Off: 40, Len: 8, Next: ProtoUDP}},
		{"payload length 0", hdrtest.With(ok, 4, 0, 0), read{}},
		{"header only, payload length 0", ip6(59), read{}},
		{"no next header", ip6(59, 1, 2, 3), read{OK: true, Off: 40, Len: 3, Next: 59}},
		{"routing header: the caller's to stop at", ip6(43, 17, 0, 0, 0, 0, 0, 0, 0), read{OK: true, Off: 40, Len: 8, Next: 43}},
		{"version not looked at", hdrtest.With(ok, 0, 0x40), read{OK: true, Off: 40, Len: 8, Next: ProtoUDP}},
		{"hop-by-hop: padN", ip6(ProtoHopByHop, hbh(ProtoUDP, padN, payload...)...), read{OK: true, Off: 48, Len: 8, Next: ProtoUDP}},
		{"hop-by-hop: pad1s", ip6(ProtoHopByHop, hbh(ProtoTCP, make([]byte, 6), payload...)...), read{OK: true, Off: 48, Len: 8, Next: ProtoTCP}},
		{"hop-by-hop: 16 bytes", ip6(ProtoHopByHop, hbh(ProtoUDP, append([]byte{1, 12}, make([]byte, 12)...), payload...)...), read{OK: true, Off: 56, Len: 8, Next: ProtoUDP}},
		{"hop-by-hop: router alert", ip6(ProtoHopByHop, hbh(ProtoICMPv6, []byte{5, 2, 0, 0, 1, 0}, payload...)...), read{OK: true, Off: 48, Len: 8, Next: ProtoICMPv6}},
		// The payload length counts the options, but cuts what follows
		// them: gopacket's reading.
		{"hop-by-hop: payload length cuts from after it", hdrtest.With(ip6(ProtoHopByHop, hbh(ProtoUDP, padN, payload...)...), 4, 0, 3), read{OK: true, Off: 48, Len: 3, Next: ProtoUDP}},
		{"hop-by-hop: payload length counts it", hdrtest.With(ip6(ProtoHopByHop, hbh(ProtoUDP, padN, payload...)...), 4, 0, 10), read{OK: true, Off: 48, Len: 8, Next: ProtoUDP}},
		{"hop-by-hop: payload length 0", hdrtest.With(ip6(ProtoHopByHop, hbh(ProtoUDP, padN, payload...)...), 4, 0, 0), read{}},
		{"hop-by-hop: 1 byte", ip6(ProtoHopByHop, ProtoUDP), read{}},
		{"hop-by-hop: longer than the data", ip6(ProtoHopByHop, ProtoUDP, 1, 0, 0, 0, 0, 0, 0), read{}},
		// An option must fit in the data, not in the header.
		{"hop-by-hop: option over the header", ip6(ProtoHopByHop, hbh(ProtoUDP, []byte{1, 5, 0, 0, 0, 0}, payload...)...), read{OK: true, Off: 48, Len: 8, Next: ProtoUDP}},
		{"hop-by-hop: option over the data", ip6(ProtoHopByHop, hbh(59, []byte{1, 5, 0, 0, 0, 0})...), read{}},
		{"hop-by-hop: pad1 the data's last byte", ip6(ProtoHopByHop, hbh(59, []byte{1, 3, 0, 0, 0, 0})...), read{}},
		{"hop-by-hop: pad1 the header's last byte", ip6(ProtoHopByHop, hbh(ProtoUDP, []byte{1, 3, 0, 0, 0, 0}, payload...)...), read{OK: true, Off: 48, Len: 8, Next: ProtoUDP}},
		{"jumbogram: the payload from the hop-by-hop header", hdrtest.With(ip6(ProtoHopByHop, hbh(ProtoUDP, jumbo(0x10000), payload...)...), 4, 0, 0), read{OK: true, Off: 40, Len: 16, Next: ProtoUDP}},
		{"jumbogram: its length cuts the payload", bigJumbo, read{OK: true, Off: 40, Len: 0x10004, Next: ProtoUDP}},
		{"jumbogram: with a payload length", ip6(ProtoHopByHop, hbh(ProtoUDP, jumbo(0x10000), payload...)...), read{}},
		{"jumbogram: length under 65536", hdrtest.With(ip6(ProtoHopByHop, hbh(ProtoUDP, jumbo(0xffff), payload...)...), 4, 0, 0), read{}},
		{"jumbogram: option not 4 bytes", hdrtest.With(ip6(ProtoHopByHop, hbh(ProtoUDP, []byte{0xc2, 2, 1, 0, 0, 0}, payload...)...), 4, 0, 0), read{}},
		{"jumbogram: only the first option counts", hdrtest.With(ip6(ProtoHopByHop, hbh(ProtoUDP, concat(jumbo(0x10000), jumbo(1), []byte{1, 0}), payload...)...), 4, 0, 0), read{OK: true, Off: 40, Len: 24, Next: ProtoUDP}},
		{"jumbogram: only the first option counts, too short", hdrtest.With(ip6(ProtoHopByHop, hbh(ProtoUDP, concat(jumbo(1), jumbo(0x10000), []byte{1, 0}), payload...)...), 4, 0, 0), read{}},
	} {
		next, p, ok := IPv6(c.data)
		got := at(c.data, p, ok)
		got.Next = next
		if got != c.want {
			t.Errorf("%s: IPv6(% .60x) = %+v, want %+v", c.name, c.data, got, c.want)
		}
	}
}

// tcpSeg is a TCP header with options opts (a multiple of 4 bytes), then
// payload.
func tcpSeg(opts []byte, payload ...byte) []byte {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h[0:2], 40000)
	binary.BigEndian.PutUint16(h[2:4], 22)
	h[12] = byte((20+len(opts))/4) << 4
	h[13] = 0x18 // PSH, ACK
	return append(append(h, opts...), payload...)
}

func TestTCP(t *testing.T) {
	payload := []byte("data")
	ok := tcpSeg(nil, payload...)
	for _, c := range []struct {
		name string
		data []byte
		want read
	}{
		{"well formed", ok, read{OK: true, Off: 20, Len: 4}},
		{"header only", tcpSeg(nil), read{OK: true, Off: 20}},
		{"shorter than the fixed header", ok[:19], read{}},
		{"data offset under 20", hdrtest.With(ok, 12, 0x40), read{}},
		{"data offset over the data", hdrtest.With(ok, 12, 0x70), read{}},
		{"options: mss", tcpSeg([]byte{2, 4, 0x05, 0xb4}, payload...), read{OK: true, Off: 24, Len: 4}},
		{"options: sack permitted, 2 bytes", tcpSeg([]byte{4, 2, 1, 1}, payload...), read{OK: true, Off: 24, Len: 4}},
		{"options: anything after end of list", tcpSeg([]byte{1, 0, 0xff, 0xff}, payload...), read{OK: true, Off: 24, Len: 4}},
		{"options: length 1", tcpSeg([]byte{2, 1, 0, 0}, payload...), read{}},
		{"options: length over the options", tcpSeg([]byte{2, 5, 0, 0}, payload...), read{}},
		{"options: kind without length", tcpSeg([]byte{1, 1, 1, 2}, payload...), read{}},
	} {
		p, ok := TCP(c.data)
		if got := at(c.data, p, ok); got != c.want {
			t.Errorf("%s: TCP(% x) = %+v, want %+v", c.name, c.data, got, c.want)
		}
	}
}

func TestUDP(t *testing.T) {
	ok := []byte{0x9c, 0x40, 0, 53, 0, 12, 0, 0, 'd', 'a', 't', 'a'}
	for _, c := range []struct {
		name string
		data []byte
		want read
	}{
		{"well formed", ok, read{OK: true, Off: 8, Len: 4}},
		{"shorter than the header", ok[:7], read{}},
		{"length under the data", hdrtest.With(ok, 4, 0, 10), read{OK: true, Off: 8, Len: 2}},
		{"length over the data", hdrtest.With(ok, 4, be16(1500)...), read{OK: true, Off: 8, Len: 4}},
		{"length 8", hdrtest.With(ok, 4, 0, 8), read{OK: true, Off: 8}},
		{"length 0 (a jumbogram's)", hdrtest.With(ok, 4, 0, 0), read{OK: true, Off: 8, Len: 4}},
		{"length 7", hdrtest.With(ok, 4, 0, 7), read{}},
		{"length 1", hdrtest.With(ok, 4, 0, 1), read{}},
	} {
		p, ok := UDP(c.data)
		if got := at(c.data, p, ok); got != c.want {
			t.Errorf("%s: UDP(% x) = %+v, want %+v", c.name, c.data, got, c.want)
		}
	}
}

// The packet readers allocate nothing per packet, and these are on their
// way.
func TestAllocatesNothing(t *testing.T) {
	v4 := ip4([]byte{1, 1, 0, 0}, tcpSeg([]byte{2, 4, 0x05, 0xb4}, 'x')...)
	v6 := ip6(ProtoHopByHop, hbh(ProtoUDP, []byte{1, 4, 0, 0, 0, 0}, 0, 1, 0, 2, 0, 9, 0, 0, 'x')...)
	if n := testing.AllocsPerRun(100, func() {
		if p, _, ok := IPv4(v4); !ok || !ok2(TCP(p)) {
			t.Fatal("IPv4 or TCP not ok")
		}
		if _, p, ok := IPv6(v6); !ok || !ok2(UDP(p)) {
			t.Fatal("IPv6 or UDP not ok")
		}
	}); n != 0 {
		t.Errorf("%v allocations a run", n)
	}
}

func ok2(_ []byte, ok bool) bool { return ok }

// FuzzPayloadInData holds every function to its payload being a piece of
// data, whatever the bytes.
func FuzzPayloadInData(f *testing.F) {
	f.Add(ip4([]byte{1, 1, 0, 0}, tcpSeg([]byte{2, 4, 0x05, 0xb4}, 'x')...))
	f.Add(ip6(ProtoHopByHop, hbh(ProtoUDP, []byte{0xc2, 4, 0, 1, 0, 0}, 0, 1, 0, 2, 0, 0, 0, 0, 'x')...))
	f.Fuzz(func(t *testing.T, data []byte) {
		within := func(name string, p []byte, ok bool) {
			r := at(data, p, ok)
			if r.Off < 0 || r.Off+r.Len > len(data) ||
				ok && len(p) > 0 && &p[0] != &data[r.Off] {
				t.Fatalf("%s(% x): payload %+v not in the data", name, data, r)
			}
		}
		p4, _, ok := IPv4(data)
		within("IPv4", p4, ok)
		_, p6, ok := IPv6(data)
		within("IPv6", p6, ok)
		p, ok := TCP(data)
		within("TCP", p, ok)
		p, ok = UDP(data)
		within("UDP", p, ok)
	})
}
