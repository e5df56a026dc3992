package filter

import (
	"encoding/binary"
	"io"
	"net/netip"
	"testing"
)

// BenchmarkDecode compares gopacket's DecodingLayerParser with the least a
// hand decoder could do (IPv4 + UDP, no checks beyond lengths), to know
// whether the parser is worth replacing.
func BenchmarkDecode(b *testing.B) {
	data := build(b, spec{"192.0.2.1", "198.51.100.2", "udp", 40000, 9, string(make([]byte, 36))})
	b.Run("gopacket", func(b *testing.B) {
		d := NewDecoder()
		var p Packet
		b.ReportAllocs()
		for b.Loop() {
			if err := d.Decode(data, &p); err != nil || p.Dport != 9 {
				b.Fatal(err)
			}
		}
	})
	b.Run("hand", func(b *testing.B) {
		var p Packet
		b.ReportAllocs()
		for b.Loop() {
			handDecode(data, &p)
			if p.Dport != 9 {
				b.Fatal("bad decode")
			}
		}
	})
}

func handDecode(data []byte, p *Packet) {
	*p = Packet{Data: data}
	if len(data) < 20 || data[0]>>4 != 4 {
		return
	}
	ihl := int(data[0]&0xf) * 4
	p.Version, p.Protocol = 4, data[9]
	p.Src = netip.AddrFrom4([4]byte(data[12:16]))
	p.Dst = netip.AddrFrom4([4]byte(data[16:20]))
	if p.Protocol == ProtoUDP && len(data) >= ihl+8 {
		p.Sport = binary.BigEndian.Uint16(data[ihl:])
		p.Dport = binary.BigEndian.Uint16(data[ihl+2:])
		p.Payload, p.Transport = data[ihl+8:], true
	}
}

// BenchmarkChain is the pipeline the queue benchmark runs (match, count,
// ratelimit with limits never reached), without the kernel.
func BenchmarkChain(b *testing.B) {
	type a = map[string]string
	var stages []Stage
	for _, s := range []struct {
		kind string
		args a
	}{
		{"match", a{"protocol": "tcp", "dport": "22"}},
		{"count", nil},
		{"ratelimit", a{"rate": "100000000"}},
	} {
		f, err := New(s.kind, s.args, Env{Log: io.Discard})
		if err != nil {
			b.Fatal(err)
		}
		stages = append(stages, Stage{s.kind, s.kind, f})
	}
	ch := NewChain(stages, Accept)
	tally := ch.NewTally()
	data := build(b, spec{"192.0.2.1", "198.51.100.2", "udp", 40000, 9, string(make([]byte, 36))})
	d := NewDecoder()
	var p Packet
	b.ReportAllocs()
	for b.Loop() {
		d.Decode(data, &p)
		if ch.Run(&p, tally) != Accept {
			b.Fatal("not accepted")
		}
	}
}
