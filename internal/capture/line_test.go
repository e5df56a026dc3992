package capture

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"golang.org/x/net/bpf"
)

var (
	macA  = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	macFW = net.HardwareAddr{0x02, 0, 0, 0, 0, 0xf1}
	bcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
)

func frame(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	for _, l := range ls {
		if nl, ok := l.(interface {
			SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
		}); ok {
			for _, x := range ls {
				if n, ok := x.(gopacket.NetworkLayer); ok {
					nl.SetNetworkLayerForChecksum(n)
				}
			}
		}
	}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func eth(src, dst net.HardwareAddr, t layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: t}
}

func ip4(src, dst string, p layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, TTL: 64, Protocol: p, SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
}

func TestSummary(t *testing.T) {
	names := map[string]string{macFW.String(): "firewall:cli"}
	inner := func(t *testing.T) []byte {
		return frame(t, eth(macA, macFW, layers.EthernetTypeIPv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolICMPv4),
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 1, Seq: 1})
	}
	tests := []struct {
		name  string
		frame func(t *testing.T) []byte
		link  bool
		want  string
	}{
		{"arp request names no one yet", func(t *testing.T) []byte {
			return frame(t, eth(macA, bcast, layers.EthernetTypeARP), &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
				HwAddressSize: 6, ProtAddressSize: 4, Operation: layers.ARPRequest, SourceHwAddress: macA,
				SourceProtAddress: []byte{192, 0, 2, 10}, DstHwAddress: make([]byte, 6), DstProtAddress: []byte{192, 0, 2, 20}})
		}, false, "02:00:00:00:00:0a > ff:ff:ff:ff:ff:ff, ARP request who-has 192.0.2.20 tell 192.0.2.10, length 60"},
		{"arp reply names the lab interface that answered", func(t *testing.T) []byte {
			return frame(t, eth(macFW, macA, layers.EthernetTypeARP), &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
				HwAddressSize: 6, ProtAddressSize: 4, Operation: layers.ARPReply, SourceHwAddress: macFW,
				SourceProtAddress: []byte{192, 0, 2, 20}, DstHwAddress: macA, DstProtAddress: []byte{192, 0, 2, 10}})
		}, false, "02:00:00:00:00:f1 (firewall:cli) > 02:00:00:00:00:0a, ARP reply 192.0.2.20 is-at 02:00:00:00:00:f1 (firewall:cli), length 60"},
		{"udp with ports", func(t *testing.T) []byte {
			return frame(t, eth(macA, macFW, layers.EthernetTypeIPv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolUDP),
				&layers.UDP{SrcPort: 40000, DstPort: 5000}, gopacket.Payload("hello"))
		}, false, "IP 10.0.0.1.40000 > 10.0.0.2.5000: UDP, ttl 64, length 60"},
		{"tcp syn", func(t *testing.T) []byte {
			return frame(t, eth(macA, macFW, layers.EthernetTypeIPv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP),
				&layers.TCP{SrcPort: 40000, DstPort: 80, SYN: true, Seq: 7, Window: 64240})
		}, false, "IP 10.0.0.1.40000 > 10.0.0.2.80: TCP [S] seq 7 win 64240, ttl 64, length 60"},
		{"icmp echo with link addresses", func(t *testing.T) []byte { return inner(t) }, true,
			"02:00:00:00:00:0a > 02:00:00:00:00:f1 (firewall:cli), IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 1, seq 1, ttl 64, length 60"},
		{"icmpv6 neighbour solicitation", func(t *testing.T) []byte {
			ip6 := &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6, SrcIP: net.ParseIP("2001:db8::1"), DstIP: net.ParseIP("ff02::1:ff00:2")}
			return frame(t, eth(macA, bcast, layers.EthernetTypeIPv6), ip6,
				&layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborSolicitation, 0)},
				&layers.ICMPv6NeighborSolicitation{TargetAddress: net.ParseIP("2001:db8::2")})
		}, false, "IP6 2001:db8::1 > ff02::1:ff00:2: ICMP6 neighbor solicitation, who-has 2001:db8::2, hlim 255, length 78"},
		{"vxlan shows the frame inside", func(t *testing.T) []byte {
			in := inner(t)
			return frame(t, eth(macA, macFW, layers.EthernetTypeIPv4), ip4("198.51.100.1", "198.51.100.2", layers.IPProtocolUDP),
				&layers.UDP{SrcPort: 50000, DstPort: 4789}, &layers.VXLAN{ValidIDFlag: true, VNI: 42}, gopacket.Payload(in))
		}, false, "IP 198.51.100.1.50000 > 198.51.100.2.4789: UDP, ttl 64, length 110: VXLAN vni 42: " +
			"02:00:00:00:00:0a > 02:00:00:00:00:f1 (firewall:cli), IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 1, seq 1, ttl 64, length 60"},
		{"other ethertypes by number", func(t *testing.T) []byte {
			return frame(t, eth(macA, bcast, layers.EthernetType(0x88b5)), gopacket.Payload("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"))
		}, false, "02:00:00:00:00:0a > ff:ff:ff:ff:ff:ff, ethertype UnknownEthernetType (0x88b5), length 60"},
		{"truncated frame", func(t *testing.T) []byte { return []byte{1, 2, 3} }, false,
			"truncated frame (3 of 3 bytes): Ethernet packet too small"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Summarizer{Names: names, Link: tt.link}
			data := tt.frame(t)
			if diff := cmp.Diff(tt.want, s.Summary(data, len(data))); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
		})
	}
}

// Compile's programs do what the expression says: run in x/net/bpf's
// VM, "arp" keeps an ARP frame (snaplen bytes of it) and drops UDP.
func TestCompileRuns(t *testing.T) {
	prog, err := Compile(context.Background(), "arp", 96)
	if errors.Is(err, ErrNoCompiler) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	ins, ok := bpf.Disassemble(prog)
	if !ok {
		t.Fatalf("program has raw instructions: %v", ins)
	}
	vm, err := bpf.NewVM(ins)
	if err != nil {
		t.Fatal(err)
	}
	arp := frame(t, eth(macA, bcast, layers.EthernetTypeARP), &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
		HwAddressSize: 6, ProtAddressSize: 4, Operation: layers.ARPRequest, SourceHwAddress: macA,
		SourceProtAddress: []byte{192, 0, 2, 10}, DstHwAddress: make([]byte, 6), DstProtAddress: []byte{192, 0, 2, 20}})
	udp := frame(t, eth(macA, macFW, layers.EthernetTypeIPv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolUDP), &layers.UDP{SrcPort: 1, DstPort: 2})
	if n, err := vm.Run(arp); err != nil || n != 96 {
		t.Errorf("arp frame: kept %d bytes (%v), want 96", n, err)
	}
	if n, err := vm.Run(udp); err != nil || n != 0 {
		t.Errorf("udp frame: kept %d bytes (%v), want 0", n, err)
	}
}

func TestCompileErrors(t *testing.T) {
	_, err := Compile(context.Background(), "udp prot 53", 0)
	if errors.Is(err, ErrNoCompiler) {
		t.Skip(err)
	}
	var fe *FilterError
	if !errors.As(err, &fe) || !strings.Contains(fe.Reason, "can't parse filter expression") {
		t.Errorf("bad expression: %v, want a FilterError with tcpdump's reason", err)
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := Compile(context.Background(), "udp", 0); !errors.Is(err, ErrNoCompiler) {
		t.Errorf("without tcpdump: %v, want ErrNoCompiler", err)
	}
}

func TestParseDDD(t *testing.T) {
	tests := []struct {
		name, in, err string
		n             int
	}{
		{"arp filter", "4\n40 0 0 12\n21 0 1 2054\n6 0 0 262144\n6 0 0 0\n", "", 4},
		{"count disagrees", "3\n40 0 0 12\n", "3 instructions announced, 1 given", 0},
		{"not four fields", "1\n40 0 0\n", `instruction 0: "40 0 0" is not "code jt jf k"`, 0},
		{"jump too far for a byte", "1\n21 300 0 1\n", `instruction 0: "21 300 0 1"`, 0},
		{"no count", "x\n", `bad instruction count "x"`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog, err := parseDDD(tt.in)
			switch {
			case tt.err == "" && err != nil:
				t.Fatal(err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("error %v, want one containing %q", err, tt.err)
			case len(prog) != tt.n:
				t.Errorf("%d instructions, want %d", len(prog), tt.n)
			}
		})
	}
}
