package filter

import (
	"io"
	"testing"
)

// BenchmarkDecode is the Decoder on an IPv4 UDP packet, beside gopacket's
// DecodingLayerParser that it replaced (its oracle in the tests).
func BenchmarkDecode(b *testing.B) {
	data := build(b, spec{"192.0.2.1", "198.51.100.2", "udp", 40000, 9, string(make([]byte, 36))})
	for _, bc := range []struct {
		name string
		dec  interface{ Decode([]byte, *Packet) error }
	}{
		{"Decoder", NewDecoder()},
		{"gopacket", newGopacketDecoder()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var p Packet
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.dec.Decode(data, &p); err != nil || p.Dport != 9 {
					b.Fatal(err)
				}
			}
		})
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
