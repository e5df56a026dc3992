package capture

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/netcompose/netcompose/internal/nsrun"
)

// pair is two namespaces, a and b, joined by a veth a:eth0 <-> b:eth0
// with 10.77.0.1/24 and 10.77.0.2/24, built with iproute2 so that the
// code under test is not also the code that made its lab.
type pair struct {
	a, b string // namespace names
}

func needRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root: creates network namespaces and AF_PACKET sockets")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		tb.Skip("needs iproute2 (ip) to build the test's namespaces")
	}
}

func ip(tb testing.TB, args ...string) {
	tb.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		tb.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func newPair(tb testing.TB) pair {
	tb.Helper()
	needRoot(tb)
	b := make([]byte, 3)
	rand.Read(b)
	p := pair{a: "capt" + hex.EncodeToString(b) + "-a", b: "capt" + hex.EncodeToString(b) + "-b"}
	for _, ns := range []string{p.a, p.b} {
		ip(tb, "netns", "add", ns)
		tb.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		ip(tb, "-n", ns, "link", "set", "lo", "up")
	}
	ip(tb, "-n", p.a, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", p.b)
	ip(tb, "-n", p.a, "addr", "add", "10.77.0.1/24", "dev", "eth0")
	ip(tb, "-n", p.b, "addr", "add", "10.77.0.2/24", "dev", "eth0")
	ip(tb, "-n", p.a, "link", "set", "eth0", "up")
	ip(tb, "-n", p.b, "link", "set", "eth0", "up")
	return p
}

// udpSender is a UDP socket opened in namespace ns, sending from any
// goroutine afterwards.
func udpSender(tb testing.TB, ns string) *net.UDPConn {
	tb.Helper()
	var c *net.UDPConn
	err := nsrun.Do(nsrun.Path(ns), func() error {
		var err error
		c, err = net.ListenUDP("udp4", &net.UDPAddr{})
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

func sendUDP(tb testing.TB, c *net.UDPConn, to string, n int) {
	tb.Helper()
	dst, err := net.ResolveUDPAddr("udp4", to)
	if err != nil {
		tb.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if _, err := c.WriteToUDP([]byte("netcompose-capture"), dst); err != nil {
			tb.Fatal(err)
		}
	}
}

// tcpdumpRead is tcpdump -nr FILE's lines: the independent reader.
func tcpdumpRead(tb testing.TB, path string, args ...string) []string {
	tb.Helper()
	if _, err := exec.LookPath("tcpdump"); err != nil {
		tb.Skip("needs tcpdump to read the capture independently")
	}
	out, err := exec.Command("tcpdump", append([]string{"-nr", path}, args...)...).Output()
	if err != nil {
		tb.Fatalf("tcpdump -nr %s: %v", path, err)
	}
	s := strings.TrimSpace(string(out))
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
