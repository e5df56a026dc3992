package check

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// frame builds an Ethernet frame carrying an ICMP (or ICMPv6) message of
// type typ whose data is data, behind the given VLAN tags (TPIDs).
func frame(v6 bool, typ byte, data []byte, tags ...uint16) []byte {
	f := make([]byte, 12) // MACs
	for _, tpid := range tags {
		f = binary.BigEndian.AppendUint16(f, tpid)
		f = binary.BigEndian.AppendUint16(f, 10) // VID 10
	}
	icmp := append([]byte{typ, 0, 0, 0, 0x12, 0x34, 0, 1}, data...)
	if v6 {
		ip := make([]byte, 40)
		ip[0], ip[6] = 0x60, protoICMPv6
		f = binary.BigEndian.AppendUint16(f, 0x86dd)
		return append(append(f, ip...), icmp...)
	}
	ip := make([]byte, 20)
	ip[0], ip[9] = 0x45, protoICMP
	f = binary.BigEndian.AppendUint16(f, 0x0800)
	return append(append(f, ip...), icmp...)
}

func TestIsEchoRequest(t *testing.T) {
	tok := []byte("tok12345")
	for _, tc := range []struct {
		name  string
		frame []byte
		want  bool
	}{
		{"an IPv4 echo request with the token", frame(false, 8, append(tok, 'x')), true},
		{"behind an 802.1Q tag", frame(false, 8, tok, 0x8100), true},
		{"behind QinQ tags", frame(false, 8, tok, 0x88a8, 0x8100), true},
		{"an ICMPv6 echo request", frame(true, 128, tok), true},
		{"an echo reply", frame(false, 0, tok), false},
		{"another probe's token", frame(false, 8, []byte("other123")), false},
		{"cut short", frame(false, 8, tok)[:40], false},
		{"not IP", []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x06, 0, 1}, false},
	} {
		if got := isEchoRequest(tc.frame, tok); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCaptureVerdict(t *testing.T) {
	s := Spec{Target: netip.MustParseAddr("10.10.0.12"), CaptureName: "ids:eth0"}
	for _, tc := range []struct {
		name        string
		want        bool
		seen, other int
		pass        bool
		reason      string
	}{
		{"seen as wanted", true, 3, 10, true, "ok; ids:eth0 saw 3 of 3 echo requests"},
		{"not seen, wanted", true, 0, 10, false, "ok; but ids:eth0 saw none of the 3 echo requests to 10.10.0.12 (10 other frames)"},
		{"seen, not wanted", false, 2, 10, false, "ok; but ids:eth0 saw 2 of the 3 echo requests to 10.10.0.12, want none"},
		{"not seen as wanted", false, 0, 7, true, "ok; ids:eth0 saw none of them, as wanted (7 other frames)"},
	} {
		s.CaptureWant = tc.want
		pass, reason := captureVerdict(s, true, "ok", 3, tc.seen, tc.other)
		if pass != tc.pass || reason != tc.reason {
			t.Errorf("%s: %v %q, want %v %q", tc.name, pass, reason, tc.pass, tc.reason)
		}
	}
}
