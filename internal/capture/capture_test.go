package capture

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/pcapgo"

	"github.com/netcompose/netcompose/internal/nsrun"
)

// capture runs Copy of a capture on ns:ifname into w in the background
// until n packets are written; wait returns how many were.
func capture(t *testing.T, ns, ifname string, o Options, w Writer, n int) (s *Socket, wait func() int) {
	t.Helper()
	s, err := Open(nsrun.Path(ns), ifname, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	done := make(chan int, 1)
	go func() {
		got, err := Copy(ctx, s, w, n)
		if err != nil {
			t.Errorf("Copy: %v", err)
		}
		done <- got
	}()
	return s, func() int {
		defer cancel()
		return <-done
	}
}

// newPcapFile creates a pcap file of that name for a test to write and
// tcpdump to read once f is closed.
func newPcapFile(t *testing.T, name string) (path string, f *os.File, w Writer) {
	t.Helper()
	path = filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err = NewPcap(f, DefaultSnaplen)
	if err != nil {
		t.Fatal(err)
	}
	return path, f, w
}

func TestPcapReadByTcpdump(t *testing.T) {
	p := newPair(t)
	filter, err := Compile(context.Background(), "udp dst port 5000", 0)
	if errors.Is(err, ErrNoCompiler) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	path, f, w := newPcapFile(t, "out.pcap")
	s, wait := capture(t, p.b, "eth0", Options{Filter: filter}, w, 10)
	c := udpSender(t, p.a)
	sendUDP(t, c, "10.77.0.2:5001", 5) // filtered out
	sendUDP(t, c, "10.77.0.2:5000", 10)
	if got := wait(); got != 10 {
		t.Fatalf("wrote %d packets, want 10", got)
	}
	f.Close()
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Received != 10 || st.Dropped != 0 {
		t.Errorf("stats %+v, want 10 received (the filter let only port 5000 in), 0 dropped", st)
	}
	lines := tcpdumpRead(t, path)
	if len(lines) != 10 {
		t.Fatalf("tcpdump read %d packets, want 10:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for _, l := range lines {
		if !strings.Contains(l, "10.77.0.1.") || !strings.Contains(l, "> 10.77.0.2.5000: UDP, length 18") {
			t.Errorf("tcpdump line %q: want a UDP packet from 10.77.0.1 to 10.77.0.2.5000 with 18 bytes", l)
		}
	}
}

// A capture of a whole node writes pcapng with each interface by name;
// tcpdump reads it, and its interface blocks name eth0 and eth1.
func TestWholeNodePcapng(t *testing.T) {
	p := newPair(t)
	ip(t, "-n", p.b, "link", "add", "eth1", "type", "veth", "peer", "name", "eth1", "netns", p.a)
	ip(t, "-n", p.b, "addr", "add", "10.78.0.2/24", "dev", "eth1")
	ip(t, "-n", p.a, "addr", "add", "10.78.0.1/24", "dev", "eth1")
	ip(t, "-n", p.b, "link", "set", "eth1", "up")
	ip(t, "-n", p.a, "link", "set", "eth1", "up")
	filter, err := Compile(context.Background(), "udp", 0)
	if err != nil {
		t.Skip(err)
	}
	path := filepath.Join(t.TempDir(), "out.pcapng")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(nsrun.Path(p.b), "", Options{Filter: filter})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w, err := NewPcapng(f, DefaultSnaplen, s.Interfaces())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan int)
	go func() {
		n, err := Copy(ctx, s, w, 4)
		if err != nil {
			t.Error(err)
		}
		done <- n
	}()
	c := udpSender(t, p.a)
	sendUDP(t, c, "10.77.0.2:5000", 2)
	sendUDP(t, c, "10.78.0.2:5000", 2)
	if n := <-done; n != 4 {
		t.Fatalf("wrote %d packets, want 4", n)
	}
	f.Close()
	if lines := tcpdumpRead(t, path); len(lines) != 4 {
		t.Errorf("tcpdump read %d packets, want 4:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	r, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ng, err := pcapgo.NewNgReader(r, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for {
		_, ci, err := ng.ReadPacketData()
		if err != nil {
			break
		}
		intf, err := ng.Interface(ci.InterfaceIndex)
		if err != nil {
			t.Fatal(err)
		}
		seen[intf.Name]++
	}
	if seen["eth0"] != 2 || seen["eth1"] != 2 {
		t.Errorf("packets per interface %v, want eth0 2 and eth1 2", seen)
	}
}

// A VLAN tag the kernel moved out of the frame is put back: tcpdump sees
// the 802.1Q header on the parent link.
func TestVLANTagKept(t *testing.T) {
	p := newPair(t)
	// The probe is the first vlan device itself.
	if out, err := exec.Command("ip", "-n", p.a, "link", "add", "link", "eth0", "name", "eth0.100", "type", "vlan", "id", "100").CombinedOutput(); err != nil {
		t.Skipf("this kernel makes no vlan device (8021q): %v: %s", err, out)
	}
	ip(t, "-n", p.b, "link", "add", "link", "eth0", "name", "eth0.100", "type", "vlan", "id", "100")
	for _, ns := range []string{p.a, p.b} {
		ip(t, "-n", ns, "link", "set", "eth0.100", "up")
	}
	ip(t, "-n", p.a, "addr", "add", "10.79.0.1/24", "dev", "eth0.100")
	ip(t, "-n", p.b, "addr", "add", "10.79.0.2/24", "dev", "eth0.100")
	path, f, w := newPcapFile(t, "vlan.pcap")
	filter, err := Compile(context.Background(), "vlan 100 and udp", 0)
	if err != nil {
		t.Skip(err)
	}
	_, wait := capture(t, p.b, "eth0", Options{Filter: filter}, w, 3)
	sendUDP(t, udpSender(t, p.a), "10.79.0.2:5000", 3)
	if n := wait(); n != 3 {
		t.Fatalf("wrote %d packets, want 3", n)
	}
	f.Close()
	lines := tcpdumpRead(t, path, "-e")
	if len(lines) != 3 {
		t.Fatalf("tcpdump read %d packets, want 3", len(lines))
	}
	for _, l := range lines {
		if !strings.Contains(l, "vlan 100") || !strings.Contains(l, "10.79.0.2.5000: UDP") {
			t.Errorf("tcpdump -e line %q: want the vlan 100 tag and the UDP packet inside", l)
		}
	}
}

func TestTextLines(t *testing.T) {
	p := newPair(t)
	var b strings.Builder
	w := NewText(&b, TextOptions{Names: map[string]string{}})
	filter, err := Compile(context.Background(), "udp or arp", 0)
	if err != nil {
		t.Skip(err)
	}
	_, wait := capture(t, p.b, "eth0", Options{Filter: filter}, w, 4)
	// Two datagrams from a, the first after ARP's request and reply.
	sendUDP(t, udpSender(t, p.a), "10.77.0.2:5000", 2)
	if n := wait(); n != 4 {
		t.Fatalf("wrote %d packets, want 4:\n%s", n, b.String())
	}
	out := b.String()
	for _, want := range []string{
		"In  ", "Out ",
		"ARP request who-has 10.77.0.2 tell 10.77.0.1",
		"ARP reply 10.77.0.2 is-at ",
		" > 10.77.0.2.5000: UDP, ttl 64, length 60",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lines lack %q:\n%s", want, out)
		}
	}
}

// Close interrupts a ReadBatch that waits for packets.
func TestCloseInterruptsRead(t *testing.T) {
	p := newPair(t)
	s, err := Open(nsrun.Path(p.b), "eth0", Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for {
			if err := s.ReadBatch(context.Background(), func(*Packet) error { return nil }); err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	s.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("ReadBatch after Close: %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadBatch still waiting 5s after Close")
	}
}

func TestNoInterface(t *testing.T) {
	p := newPair(t)
	_, err := Open(nsrun.Path(p.b), "eth9", Options{})
	var ne *NoInterfaceError
	if !errors.As(err, &ne) {
		t.Fatalf("Open on eth9: %v, want a NoInterfaceError", err)
	}
	if want := "capture: no interface eth9 (there are: eth0, lo)"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}
