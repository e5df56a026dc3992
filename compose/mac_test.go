package compose

import (
	"net"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The derived MAC is a pure function of lab, node and interface (pinned
// here: changing it makes every applied lab drift), locally administered
// and unicast, and differs between interfaces.
func TestDerivedMAC(t *testing.T) {
	if got := DerivedMAC("quickstart", "a", "eth0"); got != "de:cc:d1:3e:cd:2b" {
		t.Errorf("DerivedMAC(quickstart, a, eth0) = %s, want de:cc:d1:3e:cd:2b (changing it makes applied labs drift)", got)
	}
	seen := map[string]string{}
	for _, lab := range []string{"l1", "l2"} {
		for i := range 200 {
			for _, ifname := range []string{"eth0", "eth1"} {
				node := "n" + strconv.Itoa(i)
				mac := DerivedMAC(lab, node, ifname)
				hw, err := net.ParseMAC(mac)
				if err != nil || len(hw) != 6 {
					t.Fatalf("%s/%s/%s: %q is not a MAC", lab, node, ifname, mac)
				}
				if hw[0]&0x01 != 0 || hw[0]&0x02 == 0 {
					t.Fatalf("%s/%s/%s: %s is not a locally administered unicast MAC", lab, node, ifname, mac)
				}
				who := lab + "/" + node + "/" + ifname
				if prev, ok := seen[mac]; ok {
					t.Fatalf("%s and %s both get %s", prev, who, mac)
				}
				seen[mac] = who
			}
		}
	}
}

// Every link gets its MAC: the node's mac.IF, the bridge's or vxlan's own
// mac key, else the derived one; a neighbour can name the interface whose
// MAC it is; and a multi-host lab's tunnel end keeps the MAC its veth end
// would have had.
func TestLinkMACs(t *testing.T) {
	lab, err := build(t, `
[DEFAULT]
lab = m
[host:h1]
underlay = 192.0.2.1
[host:h2]
underlay = 192.0.2.2
[netns:a]
host = h1
mac.eth0 = 02:00:00:00:00:0A
mac.br0 = 02:00:00:00:00:b0
address.eth0 = 10.0.0.1/24
[netns:b]
host = h1
address.eth0 = 10.0.0.2/24
[netns:c]
host = h2
mac.eth0 = 02:00:00:00:00:0c
[veth:a-b]
endpoints = a:eth0 b:eth0
[veth:a-c]
endpoints = a:eth1 c:eth0
[bridge:br0]
netns = a
[bridge:br1]
netns = b
mac = 02:00:00:00:00:b1
[vxlan:vx]
netns = b
vni = 9
local = 192.0.2.1
[arp:b]
netns = b
neighbors = 10.0.0.1 a:eth0 dev eth0
            10.0.0.3 c:eth0 dev eth0
            10.0.0.4 a:eth1 dev eth0
`)
	if err != nil {
		t.Fatal(err)
	}
	macs := func(l *Lab) map[string]string {
		out := map[string]string{}
		for _, r := range l.Resources() {
			for k, v := range r.Attrs {
				if k == "mac" || k == "a.mac" || k == "b.mac" {
					out[r.ID()+" "+k] = v
				}
			}
		}
		return out
	}
	want := map[string]string{
		"veth//a-b a.mac":           "02:00:00:00:00:0a",
		"veth//a-b b.mac":           DerivedMAC("m", "b", "eth0"),
		"veth//a-c a.mac":           DerivedMAC("m", "a", "eth1"),
		"veth//a-c b.mac":           "02:00:00:00:00:0c",
		"bridge/a/br0 mac":          "02:00:00:00:00:b0",
		"bridge/b/br1 mac":          "02:00:00:00:00:b1",
		"vxlan/b/vx mac":            DerivedMAC("m", "b", "vx"),
		"neigh/b/eth0/10.0.0.1 mac": "02:00:00:00:00:0a",
		"neigh/b/eth0/10.0.0.3 mac": "02:00:00:00:00:0c",
		"neigh/b/eth0/10.0.0.4 mac": DerivedMAC("m", "a", "eth1"),
	}
	if d := cmp.Diff(want, macs(lab)); d != "" {
		t.Errorf("MACs (-want +got):\n%s", d)
	}
	h1, err := lab.ForHost("h1")
	if err != nil {
		t.Fatal(err)
	}
	h2, err := lab.ForHost("h2")
	if err != nil {
		t.Fatal(err)
	}
	if got := macs(h1)["vxlan/a/eth1 mac"]; got != DerivedMAC("m", "a", "eth1") {
		t.Errorf("h1's tunnel end a:eth1: mac %s, want the veth end's %s", got, DerivedMAC("m", "a", "eth1"))
	}
	if got := macs(h2)["vxlan/c/eth0 mac"]; got != "02:00:00:00:00:0c" {
		t.Errorf("h2's tunnel end c:eth0: mac %s, want its mac.eth0 02:00:00:00:00:0c", got)
	}
	if got := macs(h1)["neigh/b/eth0/10.0.0.3 mac"]; got != "02:00:00:00:00:0c" {
		t.Errorf("h1's neighbour naming c:eth0 on h2: mac %s, want 02:00:00:00:00:0c", got)
	}
}
