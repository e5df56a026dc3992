package bridgeport

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/netcompose/netcompose/internal/nsrun"
)

// A port's flags set through SetFlags read back through Dump, and agree
// with `bridge -j -d link show`.
func TestSetFlagsAndDump(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	b := make([]byte, 4)
	rand.Read(b)
	name := "bp" + hex.EncodeToString(b)
	if err := nsrun.Create(name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nsrun.Delete(name) })
	ns, err := netns.GetFromPath(nsrun.Path(name))
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}}); err != nil {
		t.Fatal(err)
	}
	if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "p0"}, PeerName: "p1"}); err != nil {
		t.Fatal(err)
	}
	br, _ := h.LinkByName("br0")
	p0, _ := h.LinkByName("p0")
	if err := h.LinkSetMaster(p0, br); err != nil {
		t.Fatal(err)
	}
	sock, err := nl.GetNetlinkSocketAt(ns, netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	sh := &nl.SocketHandle{Socket: sock}
	set := map[int]bool{nl.IFLA_BRPORT_ISOLATED: true, nl.IFLA_BRPORT_LEARNING: false}
	if err := SetFlags(sh, p0.Attrs().Index, set); err != nil {
		t.Fatal(err)
	}
	ports, err := Dump(sh)
	if err != nil {
		t.Fatal(err)
	}
	var port, self *Port
	for i, p := range ports {
		switch p.Index {
		case p0.Attrs().Index:
			port = &ports[i]
		case br.Attrs().Index:
			self = &ports[i]
		}
	}
	if port == nil || port.Master != br.Attrs().Index {
		t.Fatalf("Dump: no port p0 of br0 in %+v", ports)
	}
	if self != nil && self.Master != self.Index {
		t.Errorf("Dump: the bridge's own entry has master %d", self.Master)
	}
	for attr, want := range set {
		if got, ok := port.Flags[attr]; !ok || got != want {
			t.Errorf("Dump: flag %d = %v (reported %v), want %v", attr, got, ok, want)
		}
	}
	out, err := exec.Command("bridge", "-j", "-d", "-n", name, "link", "show", "dev", "p0").Output()
	if err != nil {
		t.Skipf("no bridge(8) for the independent check: %v", err)
	}
	var seen []map[string]any
	if err := json.Unmarshal(out, &seen); err != nil || len(seen) != 1 {
		t.Fatalf("bridge -j link show: %v %s", err, out)
	}
	if seen[0]["isolated"] != true || seen[0]["learning"] != false || seen[0]["flood"] != port.Flags[nl.IFLA_BRPORT_UNICAST_FLOOD] {
		t.Errorf("bridge -j link show dev p0: %v, Dump: %v", seen[0], port.Flags)
	}
}
