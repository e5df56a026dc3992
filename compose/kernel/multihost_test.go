package kernel

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/check"
	"github.com/netcompose/netcompose/internal/nsrun"
	"golang.org/x/sys/unix"
)

// Multi-host labs on one machine: each simulated host is a namespace uN
// whose e0 holds the host's underlay address 192.0.2.N/24, all joined by
// a bridge in a further namespace. Each host's slice of a lab is applied
// with --underlay-netns uN (ApplyOptions.UnderlayNetns), so its tunnels'
// sockets live in uN as they would in a real machine's own namespace.

// simHosts builds the underlay for n hosts and returns the namespace of
// each host's underlay (index 0 is host 1) and of the bridge.
func simHosts(t *testing.T, n int) (hosts []string, bridge string) {
	t.Helper()
	b := make([]byte, 3)
	rand.Read(b)
	prefix := "u" + hex.EncodeToString(b)
	bridge = prefix + "-ul"
	all := []string{bridge}
	for i := 1; i <= n; i++ {
		all = append(all, fmt.Sprintf("%s-h%d", prefix, i))
	}
	t.Cleanup(func() {
		for _, ns := range all {
			if err := nsrun.Delete(ns); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	for _, ns := range all {
		if err := nsrun.Create(ns); err != nil {
			t.Fatal(err)
		}
		ip(t, "-n", ns, "link", "set", "lo", "up")
	}
	ip(t, "-n", bridge, "link", "add", "br0", "type", "bridge")
	ip(t, "-n", bridge, "link", "set", "br0", "up")
	for i, ns := range all[1:] {
		port := fmt.Sprintf("p%d", i+1)
		ip(t, "-n", bridge, "link", "add", port, "type", "veth", "peer", "name", "e0", "netns", ns)
		ip(t, "-n", bridge, "link", "set", port, "master", "br0", "up")
		ip(t, "-n", ns, "addr", "add", fmt.Sprintf("192.0.2.%d/24", i+1), "dev", "e0")
		ip(t, "-n", ns, "link", "set", "e0", "up")
	}
	return all[1:], bridge
}

// shippedLab loads a lab from topologies/ under a unique name.
func shippedLab(t *testing.T, file string) *compose.Lab {
	t.Helper()
	lab, err := compose.Load("../../topologies/" + file)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 3)
	rand.Read(b)
	lab.Name = "t" + hex.EncodeToString(b)
	return lab
}

// applyHost is `netcompose apply --host HOST --underlay-netns NS`; the
// host's slice is destroyed at the end even when the test fails.
func applyHost(t *testing.T, lab *compose.Lab, host, underlay string) (key string, desired []compose.Resource) {
	t.Helper()
	slice, err := lab.ForHost(host)
	if err != nil {
		t.Fatal(err)
	}
	key = compose.StateKey(lab.Name, host)
	desired = slice.Resources()
	t.Cleanup(func() {
		if err := destroy(key); err != nil {
			t.Errorf("cleanup: destroy %s: %v", key, err)
		}
	})
	if _, err := converge(key, desired, ApplyOptions{UnderlayNetns: underlay}); err != nil {
		t.Fatalf("apply %s: %v", key, err)
	}
	return key, desired
}

func planOf(t *testing.T, key string, desired []compose.Resource) compose.Plan {
	t.Helper()
	actual, err := Observe(context.Background(), key, desired)
	if err != nil {
		t.Fatalf("observe %s: %v", key, err)
	}
	return compose.Diff(key, desired, actual)
}

func TestMultiHostOverlay(t *testing.T) {
	requireRoot(t)
	hosts, bridge := simHosts(t, 2)
	lab := shippedLab(t, "vxlan-overlay.ini")
	ns := func(node string) string { return compose.NamespaceName(lab.Name, node) }
	vni := compose.TunnelVNI(lab.Name, "segment")

	k1, d1 := applyHost(t, lab, "m1", hosts[0])
	k2, d2 := applyHost(t, lab, "m2", hosts[1])
	// The second host's apply left the first's node alone: each slice
	// owns its own nodes, and both are converged.
	for key, d := range map[string][]compose.Resource{k1: d1, k2: d2} {
		if p := planOf(t, key, d); !p.Empty() {
			t.Errorf("%s: second apply would change %v", key, planIDs(p))
		}
	}
	if got := namespaces(t, lab.Name+"-"); !slices.Equal(got, []string{ns("n1"), ns("n2")}) {
		t.Errorf("namespaces %v, want both nodes", got)
	}

	// The tunnel as iproute2 sees it, and where its socket is.
	v := showVxlan(t, ns("n1"), "eth0")
	if d := v.Linkinfo.Data; v.Linkinfo.Kind != "vxlan" || d.ID != vni || d.Local != "192.0.2.1" ||
		d.Remote != "192.0.2.2" || d.Port != 4789 || v.MTU != 1450 {
		t.Errorf("n1 eth0 as ip sees it: %+v (want VNI %d)", v, vni)
	}
	if !hasUDP(t, hosts[0], 4789) || hasUDP(t, ns("n1"), 4789) {
		t.Errorf("want the tunnel's socket in the host's underlay namespace %s only", hosts[0])
	}

	// Traffic flows, and the underlay carries it as VXLAN with the VNI.
	seen := capture(t, hosts[1], func(f []byte) bool {
		got, ok := vxlanVNI(f)
		return ok && got == vni
	})
	ping(t, ns("n1"), "10.42.0.2", check.ExpectPass)
	ping(t, ns("n2"), "10.42.0.1", check.ExpectPass)
	if !seen() {
		t.Errorf("no UDP to port 4789 with VNI %d seen on host 2's underlay", vni)
	}

	// Each slice has its own state record (and lock) on this machine.
	infos, err := Labs()
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[string][]string{}
	for _, li := range infos {
		recorded[li.Name] = li.Nodes
	}
	if !slices.Equal(recorded[k1], []string{"n1"}) || !slices.Equal(recorded[k2], []string{"n2"}) {
		t.Errorf("state records: %s %v, %s %v", k1, recorded[k1], k2, recorded[k2])
	}

	// Destroy per host: host 2's destroy leaves host 1's slice alone;
	// then everything goes, and the underlay stays.
	if err := destroy(k2); err != nil {
		t.Fatalf("destroy %s: %v", k2, err)
	}
	if p := planOf(t, k1, d1); !p.Empty() {
		t.Errorf("%s after destroying %s: plan %v", k1, k2, planIDs(p))
	}
	if err := destroy(k1); err != nil {
		t.Fatalf("destroy %s: %v", k1, err)
	}
	if left := namespaces(t, lab.Name+"-"); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	checkUnderlay(t, hosts, bridge)
}

// checkUnderlay: each host keeps its address and has no vxlan device or
// socket left; the bridge keeps its ports.
func checkUnderlay(t *testing.T, hosts []string, bridge string) {
	t.Helper()
	for i, h := range hosts {
		if !hasAddr(ipJSON(t, h, "addr", "show", "dev", "e0"), fmt.Sprintf("192.0.2.%d", i+1)) {
			t.Errorf("%s lost its underlay address", h)
		}
		if l := ipJSON(t, h, "link", "show", "type", "vxlan"); len(l) > 0 {
			t.Errorf("%s: vxlan devices left: %v", h, l)
		}
		if hasUDP(t, h, 4789) {
			t.Errorf("%s: vxlan socket left", h)
		}
	}
	if ports := ipJSON(t, bridge, "link", "show", "master", "br0"); len(ports) != len(hosts) {
		t.Errorf("underlay bridge has %d ports, want %d", len(ports), len(hosts))
	}
}

func hasAddr(links []map[string]any, addr string) bool {
	for _, l := range links {
		infos, _ := l["addr_info"].([]any)
		for _, i := range infos {
			if m, ok := i.(map[string]any); ok && m["local"] == addr {
				return true
			}
		}
	}
	return false
}

func TestMultiHostTenants(t *testing.T) {
	requireRoot(t)
	hosts, bridge := simHosts(t, 2)
	lab := shippedLab(t, "vxlan-tenants.ini")
	ns := func(node string) string { return compose.NamespaceName(lab.Name, node) }
	k1, d1 := applyHost(t, lab, "m1", hosts[0])
	k2, d2 := applyHost(t, lab, "m2", hosts[1])
	for key, d := range map[string][]compose.Resource{k1: d1, k2: d2} {
		if p := planOf(t, key, d); !p.Empty() {
			t.Errorf("%s: second apply would change %v", key, planIDs(p))
		}
	}
	if v := showVxlan(t, ns("sw1"), "vx-b"); v.Linkinfo.Data.ID != 200 || v.Linkinfo.Data.Local != "192.0.2.1" {
		t.Errorf("sw1 vx-b as ip sees it: %+v", v)
	}
	mac := func(node string) net.HardwareAddr {
		l := ipJSON(t, ns(node), "link", "show", "dev", "eth0")
		m, err := net.ParseMAC(l[0]["address"].(string))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	ctx := context.Background()
	for _, s := range []check.Spec{
		{Name: "a1 reaches a2", FromNetns: ns("a1"), Protocol: check.ICMP, Target: netip.MustParseAddr("10.0.0.2")},
		{Name: "b1 reaches b2", FromNetns: ns("b1"), Protocol: check.ICMP, Target: netip.MustParseAddr("10.0.0.2")},
		{Name: "only a2 answers a1", FromNetns: ns("a1"), Protocol: check.ARP, Target: netip.MustParseAddr("10.0.0.2"), Answer: check.Answers(mac("a2"))},
		{Name: "only b2 answers b1", FromNetns: ns("b1"), Protocol: check.ARP, Target: netip.MustParseAddr("10.0.0.2"), Answer: check.Answers(mac("b2"))},
		{Name: "a1 cannot reach tenant b", FromNetns: ns("a1"), Protocol: check.ICMP, Target: netip.MustParseAddr("10.0.0.3"), Expect: check.ExpectFail},
		{Name: "b2 never answers a1", FromNetns: ns("a1"), Protocol: check.ARP, Target: netip.MustParseAddr("10.0.0.2"), Answer: check.Answers(mac("b2")), Expect: check.ExpectFail},
	} {
		if r := check.RunOne(ctx, s); !r.Pass {
			t.Errorf("%s: %s", s.Name, r.Reason)
		}
	}
	for _, key := range []string{k1, k2} {
		if err := destroy(key); err != nil {
			t.Fatalf("destroy %s: %v", key, err)
		}
	}
	if left := namespaces(t, lab.Name+"-"); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	checkUnderlay(t, hosts, bridge)
}

// Three hosts, head-end replication: n1's broadcast ARP reaches n2 and n3
// through its two all-zero FDB entries.
func TestMultiHostHeadEnd(t *testing.T) {
	requireRoot(t)
	hosts, bridge := simHosts(t, 3)
	lab := shippedLab(t, "vxlan-3hosts.ini")
	ns := func(node string) string { return compose.NamespaceName(lab.Name, node) }
	var keys []string
	for i, h := range []string{"m1", "m2", "m3"} {
		key, d := applyHost(t, lab, h, hosts[i])
		if p := planOf(t, key, d); !p.Empty() {
			t.Errorf("%s: second apply would change %v", key, planIDs(p))
		}
		keys = append(keys, key)
	}
	if diff := cmp.Diff([]string{"192.0.2.2", "192.0.2.3"}, zeroFDB(t, ns("n1"), "vx0")); diff != "" {
		t.Errorf("n1 all-zero fdb (-want +got):\n%s", diff)
	}
	// A broadcast from n1 is replicated to both other hosts' underlays.
	isARP := func(f []byte) bool {
		if _, ok := vxlanVNI(f); !ok {
			return false
		}
		inner := f[14+20+8+8:]
		return len(inner) >= 14 && binary.BigEndian.Uint16(inner[12:14]) == unix.ETH_P_ARP
	}
	seen2, seen3 := capture(t, hosts[1], isARP), capture(t, hosts[2], isARP)
	ctx := context.Background()
	for _, to := range []string{"10.7.0.2", "10.7.0.3"} {
		r := check.RunOne(ctx, check.Spec{Name: "arp " + to, FromNetns: ns("n1"), Protocol: check.ARP, Target: netip.MustParseAddr(to)})
		if !r.Pass {
			t.Errorf("arp %s from n1: %s", to, r.Reason)
		}
	}
	if !seen2() || !seen3() {
		t.Errorf("ARP in VXLAN on the underlays: host 2 %v, host 3 %v", seen2(), seen3())
	}
	for _, key := range keys {
		if err := destroy(key); err != nil {
			t.Fatalf("destroy %s: %v", key, err)
		}
	}
	if left := namespaces(t, lab.Name+"-"); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	checkUnderlay(t, hosts, bridge)
}

// vxlanVNI parses an Ethernet frame: IPv4 (no options) carrying UDP to
// port 4789 with a VXLAN header whose I flag is set; it returns the VNI.
func vxlanVNI(f []byte) (int, bool) {
	const eth, ip4, udp = 14, 20, 8
	if len(f) < eth+ip4+udp+8 || binary.BigEndian.Uint16(f[12:14]) != unix.ETH_P_IP {
		return 0, false
	}
	iph := f[eth:]
	if iph[0] != 0x45 || iph[9] != unix.IPPROTO_UDP {
		return 0, false
	}
	u := iph[ip4:]
	if binary.BigEndian.Uint16(u[2:4]) != 4789 {
		return 0, false
	}
	vx := u[udp:]
	if vx[0]&0x08 == 0 {
		return 0, false
	}
	return int(vx[4])<<16 | int(vx[5])<<8 | int(vx[6]), true
}

// capture listens on every interface of namespace ns with an AF_PACKET
// socket until the returned function is first called, which reports
// whether any frame matched.
func capture(t *testing.T, ns string, match func([]byte) bool) func() bool {
	t.Helper()
	var fd int
	err := nsrun.Do(nsrun.Path(ns), func() error {
		var err error
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		return err
	})
	if err != nil {
		t.Fatalf("capture in %s: %v", ns, err)
	}
	// A read timeout lets the reader notice it was stopped.
	tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	var mu sync.Mutex
	found, stop := false, false
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer unix.Close(fd)
		buf := make([]byte, 65536)
		for {
			mu.Lock()
			s := stop
			mu.Unlock()
			if s {
				return
			}
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				continue
			}
			if match(buf[:n]) {
				mu.Lock()
				found = true
				mu.Unlock()
			}
		}
	}()
	var once sync.Once
	result := func() bool {
		once.Do(func() {
			mu.Lock()
			stop = true
			mu.Unlock()
			<-done
		})
		mu.Lock()
		defer mu.Unlock()
		return found
	}
	t.Cleanup(func() { result() })
	return result
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
