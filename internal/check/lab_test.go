package check

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/netcompose/netcompose/internal/nsrun"
)

// testLab builds real namespaces for probe tests and removes them in
// t.Cleanup, whatever happens.
type testLab struct {
	t      *testing.T
	prefix string
}

func newTestLab(t *testing.T) *testLab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	b := make([]byte, 3)
	rand.Read(b)
	return &testLab{t: t, prefix: fmt.Sprintf("chk%d-%s", os.Getpid(), hex.EncodeToString(b))}
}

// netns creates namespace <prefix>-<node> with lo up and returns its name.
func (l *testLab) netns(node string) string {
	l.t.Helper()
	name := l.prefix + "-" + node
	if err := nsrun.Create(name); err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() {
		if err := nsrun.Delete(name); err != nil {
			l.t.Error(err)
		}
	})
	h := l.handle(name)
	lo, err := h.LinkByName("lo")
	if err != nil {
		l.t.Fatal(err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		l.t.Fatal(err)
	}
	return name
}

func (l *testLab) handle(ns string) *netlink.Handle {
	l.t.Helper()
	h, closeH, err := handleAt(ns)
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(closeH)
	return h
}

// veth links nsA/ifA with nsB/ifB and sets both up.
func (l *testLab) veth(nsA, ifA, nsB, ifB string) {
	l.t.Helper()
	nb, err := netns.GetFromPath(nsrun.Path(nsB))
	if err != nil {
		l.t.Fatal(err)
	}
	defer nb.Close()
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: ifA}, PeerName: ifB, PeerNamespace: netlink.NsFd(nb)}
	if err := l.handle(nsA).LinkAdd(v); err != nil {
		l.t.Fatalf("veth %s/%s-%s/%s: %v", nsA, ifA, nsB, ifB, err)
	}
	l.up(nsA, ifA)
	l.up(nsB, ifB)
}

func (l *testLab) link(ns, ifname string) netlink.Link {
	l.t.Helper()
	link, err := l.handle(ns).LinkByName(ifname)
	if err != nil {
		l.t.Fatalf("%s/%s: %v", ns, ifname, err)
	}
	return link
}

func (l *testLab) up(ns, ifname string) {
	l.t.Helper()
	if err := l.handle(ns).LinkSetUp(l.link(ns, ifname)); err != nil {
		l.t.Fatal(err)
	}
}

func (l *testLab) addr(ns, ifname, cidr string) {
	l.t.Helper()
	a, err := netlink.ParseAddr(cidr)
	if err != nil {
		l.t.Fatal(err)
	}
	if err := l.handle(ns).AddrAdd(l.link(ns, ifname), a); err != nil {
		l.t.Fatalf("%s/%s: addr %s: %v", ns, ifname, cidr, err)
	}
}

// route adds dst dev ifname [via gw].
// addrNoDAD adds an IPv6 address usable at once (no duplicate detection).
func (l *testLab) addrNoDAD(ns, ifname, cidr string) {
	l.t.Helper()
	a, err := netlink.ParseAddr(cidr)
	if err != nil {
		l.t.Fatal(err)
	}
	a.Flags = unix.IFA_F_NODAD
	if err := l.handle(ns).AddrAdd(l.link(ns, ifname), a); err != nil {
		l.t.Fatalf("%s/%s: addr %s: %v", ns, ifname, cidr, err)
	}
}

func (l *testLab) route(ns, dst, ifname string, gw ...string) {
	l.t.Helper()
	_, n, err := net.ParseCIDR(dst)
	if err != nil {
		l.t.Fatal(err)
	}
	r := &netlink.Route{Dst: n, LinkIndex: l.link(ns, ifname).Attrs().Index}
	if len(gw) > 0 {
		r.Gw = net.ParseIP(gw[0])
	}
	if err := l.handle(ns).RouteAdd(r); err != nil {
		l.t.Fatalf("%s: route %s dev %s: %v", ns, dst, ifname, err)
	}
}

func (l *testLab) bridge(ns, name string, ports ...string) {
	l.t.Helper()
	h := l.handle(ns)
	if err := h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}); err != nil {
		l.t.Fatal(err)
	}
	br := l.link(ns, name)
	for _, p := range ports {
		if err := h.LinkSetMaster(l.link(ns, p), br); err != nil {
			l.t.Fatal(err)
		}
	}
	l.up(ns, name)
}

// sysctl writes a net.* sysctl inside ns, e.g. "ipv4/conf/all/arp_ignore".
func (l *testLab) sysctl(ns, key, value string) {
	l.t.Helper()
	err := nsrun.Do(nsrun.Path(ns), func() error {
		return os.WriteFile("/proc/sys/net/"+key, []byte(value), 0o644)
	})
	if err != nil {
		l.t.Fatalf("%s: sysctl %s=%s: %v", ns, key, value, err)
	}
}

// ipJSON runs `ip -j -n ns args...` and decodes its output: the
// independent view of what the kernel holds.
func ipJSON(t *testing.T, ns string, args ...string) []map[string]any {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"-j", "-n", ns}, args...)...).Output()
	if err != nil {
		t.Fatalf("ip -n %s %v: %v", ns, args, err)
	}
	var v []map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("ip -n %s %v: %v: %s", ns, args, err, out)
	}
	return v
}

// ipMAC is the MAC of ns/ifname as `ip -j link` reports it.
func ipMAC(t *testing.T, ns, ifname string) string {
	t.Helper()
	for _, l := range ipJSON(t, ns, "link", "show", "dev", ifname) {
		if mac, ok := l["address"].(string); ok {
			return mac
		}
	}
	t.Fatalf("ip -n %s link show dev %s: no address", ns, ifname)
	return ""
}

func mustMAC(t *testing.T, s string) net.HardwareAddr {
	t.Helper()
	m, err := net.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var ip = netip.MustParseAddr

// twoHosts builds client 10.0.0.1/24 eth0 <-> server 10.0.0.2/24 eth0.
func twoHosts(t *testing.T) (l *testLab, client, server string) {
	l = newTestLab(t)
	client, server = l.netns("client"), l.netns("server")
	l.veth(client, "eth0", server, "eth0")
	l.addr(client, "eth0", "10.0.0.1/24")
	l.addr(server, "eth0", "10.0.0.2/24")
	return l, client, server
}

func runOut(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
	return string(out)
}
