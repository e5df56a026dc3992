package nfqueue

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/netcompose/netcompose/internal/nsrun"
)

// The kernel tests build their own three nodes, client -> router ->
// server, in uniquely named namespaces, with documentation addresses that
// exist only inside them:
//
//	client eth0 192.0.2.2/24 (+ .10-.25), 2001:db8:1::2/64
//	router c0 192.0.2.1/24, 2001:db8:1::1/64 | s0 198.51.100.1/24, 2001:db8:2::1/64
//	server eth0 198.51.100.2/24, 2001:db8:2::2/64
var (
	serverAddr  = netip.MustParseAddr("198.51.100.2")
	serverAddr6 = netip.MustParseAddr("2001:db8:2::2")
)

var nsSeq atomic.Uint64

// needRoot skips a kernel test that cannot run here, saying why.
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and iptables rules")
	}
	supportedOnce.Do(func() { supportedErr = Supported() })
	if supportedErr != nil {
		t.Skipf("nfqueue unavailable: %v", supportedErr)
	}
}

var (
	supportedOnce sync.Once
	supportedErr  error
)

type testLab struct {
	t                      testing.TB
	name                   string // the lab name in rule comments
	client, router, server string // namespace names
}

func (l *testLab) path(ns string) string { return nsrun.Path(ns) }

// with is the lab seen from a subtest: its helpers fail that test.
func (l *testLab) with(t testing.TB) *testLab {
	c := *l
	c.t = t
	return &c
}

// newTestLab builds the three nodes; t.Cleanup removes them, and with
// them every link, address and rule inside.
func newTestLab(t testing.TB) *testLab {
	t.Helper()
	needRoot(t)
	base := fmt.Sprintf("nfqt-%d-%d", os.Getpid(), nsSeq.Add(1))
	l := &testLab{t: t, name: base, client: base + "-c", router: base + "-r", server: base + "-s"}
	for _, ns := range []string{l.client, l.router, l.server} {
		if err := nsrun.Create(ns); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := nsrun.Delete(ns); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		})
	}
	for _, ns := range []string{l.client, l.router, l.server} {
		// Link-local addresses usable at once: neighbour discovery would
		// otherwise wait out duplicate address detection.
		l.sysctl(ns, "net/ipv6/conf/default/accept_dad", "0")
		l.sysctl(ns, "net/ipv6/conf/all/accept_dad", "0")
	}
	r := l.handle(l.router)
	l.veth(r, "c0", l.client)
	l.veth(r, "s0", l.server)
	l.addrs(l.client, "eth0", "192.0.2.2/24", "2001:db8:1::2/64")
	for i := 10; i <= 25; i++ {
		l.addrs(l.client, "eth0", fmt.Sprintf("192.0.2.%d/24", i))
	}
	l.addrs(l.router, "c0", "192.0.2.1/24", "2001:db8:1::1/64")
	l.addrs(l.router, "s0", "198.51.100.1/24", "2001:db8:2::1/64")
	l.addrs(l.server, "eth0", "198.51.100.2/24", "2001:db8:2::2/64")
	l.gateway(l.client, "192.0.2.1", "2001:db8:1::1")
	l.gateway(l.server, "198.51.100.1", "2001:db8:2::1")
	l.sysctl(l.router, "net/ipv4/ip_forward", "1")
	l.sysctl(l.router, "net/ipv6/conf/all/forwarding", "1")
	return l
}

func (l *testLab) handle(ns string) *netlink.Handle {
	l.t.Helper()
	h, err := netns.GetFromPath(l.path(ns))
	if err != nil {
		l.t.Fatal(err)
	}
	defer h.Close()
	nh, err := netlink.NewHandleAt(h)
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(nh.Close)
	return nh
}

// veth makes name in the router and eth0 in peer, both up, lo up too.
func (l *testLab) veth(r *netlink.Handle, name, peer string) {
	l.t.Helper()
	pns, err := netns.GetFromPath(l.path(peer))
	if err != nil {
		l.t.Fatal(err)
	}
	defer pns.Close()
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: "eth0", PeerNamespace: netlink.NsFd(pns)}
	if err := r.LinkAdd(v); err != nil {
		l.t.Fatalf("veth %s-%s: %v", name, peer, err)
	}
	for _, x := range []struct {
		h   *netlink.Handle
		if_ string
	}{{r, name}, {r, "lo"}, {l.handle(peer), "eth0"}, {l.handle(peer), "lo"}} {
		link, err := x.h.LinkByName(x.if_)
		if err != nil {
			l.t.Fatal(err)
		}
		if err := x.h.LinkSetUp(link); err != nil {
			l.t.Fatal(err)
		}
	}
}

func (l *testLab) addrs(ns, ifname string, cidrs ...string) {
	l.t.Helper()
	h := l.handle(ns)
	link, err := h.LinkByName(ifname)
	if err != nil {
		l.t.Fatal(err)
	}
	for _, c := range cidrs {
		a, err := netlink.ParseAddr(c)
		if err != nil {
			l.t.Fatal(err)
		}
		a.Flags = unix.IFA_F_NODAD // usable at once, no duplicate detection wait
		if err := h.AddrAdd(link, a); err != nil {
			l.t.Fatalf("%s %s %s: %v", ns, ifname, c, err)
		}
	}
}

func (l *testLab) gateway(ns string, gws ...string) {
	l.t.Helper()
	h := l.handle(ns)
	for _, gw := range gws {
		if err := h.RouteAdd(&netlink.Route{Gw: net.ParseIP(gw)}); err != nil {
			l.t.Fatalf("%s default via %s: %v", ns, gw, err)
		}
	}
}

func (l *testLab) sysctl(ns, key, value string) {
	l.t.Helper()
	err := nsrun.Do(l.path(ns), func() error {
		return os.WriteFile("/proc/sys/"+key, []byte(value), 0o644)
	})
	if err != nil {
		l.t.Fatal(err)
	}
}

// ipt runs an iptables command inside ns with ip netns exec: the tests'
// independent eye on what the code under test installed.
func (l *testLab) ipt(ns string, cmd string, args ...string) string {
	l.t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns, cmd}, args...)...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("ip netns exec %s %s %s: %v\n%s", ns, cmd, strings.Join(args, " "), err, out)
	}
	return string(out)
}
