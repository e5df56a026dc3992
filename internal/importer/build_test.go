package importer

import (
	"flag"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// Builders of what Read would find, for tests without root.

func attrs(index int, name, mac string) netlink.LinkAttrs {
	a := netlink.NewLinkAttrs()
	a.Index, a.Name, a.MTU, a.Flags, a.EncapType = index, name, 1500, net.FlagUp, "ether"
	if mac != "" {
		a.HardwareAddr, _ = net.ParseMAC(mac)
	}
	return a
}

func lo() netlink.Link {
	a := attrs(1, "lo", "")
	a.EncapType, a.MTU = "loopback", 65536
	return &netlink.Device{LinkAttrs: a}
}

// veth is an end whose peer is ifindex peer in the namespace numbered
// nsid here (-1: this one).
func veth(index int, name, mac string, peer, nsid int) netlink.Link {
	a := attrs(index, name, mac)
	a.ParentIndex, a.NetNsID = peer, nsid
	return &netlink.Veth{LinkAttrs: a}
}

func addr(index int, cidr string) netlink.Addr {
	ip, n, _ := net.ParseCIDR(cidr)
	n.IP = ip
	scope := unix.RT_SCOPE_UNIVERSE
	if ip.IsLinkLocalUnicast() {
		scope = unix.RT_SCOPE_LINK
	}
	return netlink.Addr{IPNet: n, LinkIndex: index, Flags: unix.IFA_F_PERMANENT, Scope: scope}
}

func route(dst, gw string, dev int) netlink.Route {
	r := netlink.Route{LinkIndex: dev, Table: unix.RT_TABLE_MAIN, Type: unix.RTN_UNICAST, Protocol: unix.RTPROT_BOOT, Family: unix.AF_INET}
	if dst != "default" {
		_, r.Dst, _ = net.ParseCIDR(dst)
	}
	if gw != "" {
		r.Gw = net.ParseIP(gw)
	} else {
		r.Scope = netlink.SCOPE_LINK
	}
	return r
}

// kernelRules4 are the IPv4 rules of a fresh namespace.
func kernelRules4() []Rule {
	return []Rule{
		{Family: unix.AF_INET, Priority: 0, Action: nl.FR_ACT_TO_TBL, Table: unix.RT_TABLE_LOCAL},
		{Family: unix.AF_INET, Priority: 32766, Action: nl.FR_ACT_TO_TBL, Table: unix.RT_TABLE_MAIN},
		{Family: unix.AF_INET, Priority: 32767, Action: nl.FR_ACT_TO_TBL, Table: unix.RT_TABLE_DEFAULT},
	}
}

// fresh is a fresh namespace's sysctls, the few the tests look at.
func fresh() map[string]string {
	return map[string]string{
		"ipv4/ip_forward": "0", "ipv6/conf/all/forwarding": "0", "ipv6/conf/all/disable_ipv6": "0",
		"ipv4/conf/all/accept_redirects": "1", "ipv4/conf/all/proxy_arp": "0", "ipv4/conf/all/arp_ignore": "0",
		"ipv4/conf/all/rp_filter": "2", "ipv4/conf/default/rp_filter": "2", "ipv4/conf/default/arp_ignore": "0",
		"ipv4/conf/default/proxy_arp": "0", "ipv4/conf/default/forwarding": "0",
		"ipv4/conf/lo/rp_filter": "0", "ipv4/neigh/lo/gc_stale_time": "60", "ipv4/tcp_syncookies": "1",
		"ipv6/conf/default/forwarding": "0",
	}
}

// nodeSysctls is a node's sysctls: fresh ones with an interface's conf
// for each name, then changes.
func nodeSysctls(ifaces []string, changes map[string]string) map[string]string {
	m := fresh()
	for _, i := range ifaces {
		m["ipv4/conf/"+i+"/rp_filter"] = "2"
		m["ipv4/conf/"+i+"/arp_ignore"] = "0"
		m["ipv4/conf/"+i+"/proxy_arp"] = "0"
		m["ipv4/conf/"+i+"/forwarding"] = "0"
		m["ipv6/conf/"+i+"/mtu"] = "1500"
		m["ipv4/neigh/"+i+"/gc_stale_time"] = "60"
	}
	for k, v := range changes {
		m[k] = v
	}
	return m
}

func node(name string, links []netlink.Link, f func(*NodeState)) *NodeState {
	st := &NodeState{Source: Source{Node: name, Netns: "hb-" + name}, Links: append([]netlink.Link{lo()}, links...),
		Rules: kernelRules4(), STP: map[int]bool{}, Qdiscs: map[int][]string{}, Peers: map[int]string{}, HomeID: -1}
	var names []string
	for _, l := range links {
		names = append(names, l.Attrs().Name)
	}
	st.Sysctls = nodeSysctls(names, nil)
	if f != nil {
		f(st)
	}
	return st
}

func TestBuild(t *testing.T) {
	tests := []struct {
		name string
		snap func() *Snapshot
		o    BuildOptions
	}{
		{"proxy-arp-firewall", func() *Snapshot {
			client := node("client", []netlink.Link{veth(2, "eth0", "02:00:00:00:00:0a", 2, 0)}, func(st *NodeState) {
				st.Peers[0] = "fw"
				st.Addrs = []netlink.Addr{addr(2, "192.0.2.10/24"), addr(2, "fe80::ff:fe00:a/64")}
				st.Neighs = []netlink.Neigh{{LinkIndex: 2, IP: net.ParseIP("192.0.2.20"), HardwareAddr: mac("02:00:00:00:00:f1"), State: netlink.NUD_PERMANENT},
					{LinkIndex: 2, IP: net.ParseIP("192.0.2.1"), HardwareAddr: mac("02:00:00:00:00:f1"), State: netlink.NUD_STALE}}
			})
			fw := node("fw", []netlink.Link{veth(2, "cli", "02:00:00:00:00:f1", 2, 0), veth(3, "srv", "02:00:00:00:00:f2", 2, 1)}, func(st *NodeState) {
				st.Peers[0], st.Peers[1] = "client", "server"
				st.Addrs = []netlink.Addr{addr(2, "192.0.2.1/32"), addr(3, "192.0.2.1/32")}
				st.Routes = []netlink.Route{route("192.0.2.10/32", "", 2), route("192.0.2.20/32", "", 3)}
				st.Sysctls = nodeSysctls([]string{"cli", "srv"}, map[string]string{
					"ipv4/ip_forward": "1", "ipv6/conf/all/forwarding": "1", "ipv6/conf/default/forwarding": "1", "ipv4/conf/all/accept_redirects": "0",
					"ipv4/conf/cli/forwarding": "1", "ipv4/conf/srv/forwarding": "1", "ipv4/conf/default/forwarding": "1",
					"ipv4/conf/all/rp_filter": "0", "ipv4/conf/cli/rp_filter": "0", "ipv4/conf/srv/rp_filter": "0",
					"ipv4/conf/cli/proxy_arp": "1", "ipv4/conf/srv/proxy_arp": "1",
				})
			})
			server := node("server", []netlink.Link{veth(2, "eth0", "02:00:00:00:00:14", 3, 0)}, func(st *NodeState) {
				st.Peers[0] = "fw"
				st.Addrs = []netlink.Addr{addr(2, "192.0.2.20/24")}
				st.Sysctls["ipv4/conf/eth0/arp_ignore"] = "1"
			})
			return &Snapshot{Nodes: []*NodeState{client, fw, server}, Fresh: fresh()}
		}, BuildOptions{Command: "netcompose import hb-client hb-fw hb-server"}},

		{"what a file cannot say", func() *Snapshot {
			tun := &netlink.Tuntap{LinkAttrs: attrs(3, "tun0", "")}
			tun.EncapType = "none"
			a := node("a", []netlink.Link{veth(2, "eth0", "02:00:00:00:00:01", 7, 4), tun, veth(4, "eth1", "02:00:00:00:00:02", 5, -1),
				veth(5, "eth2", "02:00:00:00:00:03", 4, -1)}, func(st *NodeState) {
				st.HomeID = 4
				st.Links[4].Attrs().Flags = 0 // eth2 down
				st.Links[4].Attrs().Alias = "uplink"
				st.Addrs = []netlink.Addr{addr(2, "10.0.0.1/24"), addr(3, "10.99.0.1/24"), addr(4, "10.1.0.1/24"), addr(5, "10.1.0.2/24")}
				nodad := addr(4, "2001:db8::1/64")
				nodad.Flags |= unix.IFA_F_NODAD
				st.Addrs = append(st.Addrs, nodad)
				tbl := route("10.10.0.0/24", "10.1.0.2", 4)
				tbl.Table = 100
				metric := route("10.11.0.0/24", "10.1.0.2", 4)
				metric.Priority = 50
				bh := route("10.12.0.0/24", "", 0)
				bh.Type, bh.LinkIndex = unix.RTN_BLACKHOLE, 0
				st.Routes = []netlink.Route{route("default", "10.1.0.2", 4), tbl, metric, bh, route("10.99.1.0/24", "", 3)}
				st.Rules = append(st.Rules,
					Rule{Family: unix.AF_INET, Priority: 100, Action: nl.FR_ACT_BLACKHOLE, Iif: "eth1", IPProto: unix.IPPROTO_UDP, Dport: [2]uint16{5000, 5099}},
					Rule{Family: unix.AF_INET, Priority: 101, Action: nl.FR_ACT_TO_TBL, Table: 100, Others: []string{"fwmark 0x1"}},
					Rule{Family: unix.AF_INET, Priority: 102, Action: nl.FR_ACT_PROHIBIT, Src: netip.MustParsePrefix("10.1.0.0/24")})
				st.Rules = slicesDelete(st.Rules, 0) // the local table's rule, deleted by hand
				st.Proxies = []netlink.Neigh{{LinkIndex: 4, IP: net.ParseIP("10.1.0.9")}}
				st.Qdiscs[4] = []string{"netem 8001: root"}
				st.Firewall = []string{"iptables -t filter -A FORWARD -p tcp --dport 22 -j DROP"}
				st.Sysctls["ipv4/conf/tun0/rp_filter"] = "0" // with tun0: left out
			})
			return &Snapshot{Nodes: []*NodeState{a}, Fresh: fresh()}
		}, BuildOptions{}},

		{"bridge and vxlan overlay", func() *Snapshot {
			vx := &netlink.Vxlan{LinkAttrs: attrs(4, "vx0", "02:00:00:00:01:04"), VxlanId: 42, VtepDevIndex: 2, SrcAddr: net.ParseIP("198.51.100.1"),
				Group: net.ParseIP("198.51.100.2"), Port: 4789, Learning: true, Age: 300}
			vx.MTU, vx.MasterIndex, vx.NetNsID = 1450, 3, 0
			br := &netlink.Bridge{LinkAttrs: attrs(3, "br0", "02:00:00:00:01:03")}
			br.MTU = 1450
			// vx0 was created in m1 (netnsid 0 here) on its eth0, then
			// moved into h1.
			eth9 := veth(2, "eth9", "02:00:00:00:01:02", 9, -1) // its peer is in h1 too
			eth9.Attrs().MasterIndex = 3
			h1 := node("h1", []netlink.Link{eth9, br, vx, veth(9, "eth8", "02:00:00:00:01:09", 2, -1)}, func(st *NodeState) {
				st.Peers[0] = "m1"
				st.STP[3] = true
				st.Addrs = []netlink.Addr{addr(3, "10.20.0.1/24")}
				st.FDB = []netlink.Neigh{
					{LinkIndex: 4, HardwareAddr: make(net.HardwareAddr, 6), IP: net.ParseIP("198.51.100.2"), State: netlink.NUD_PERMANENT, Family: unix.AF_BRIDGE},
					{LinkIndex: 4, HardwareAddr: make(net.HardwareAddr, 6), IP: net.ParseIP("198.51.100.3"), State: netlink.NUD_PERMANENT, Family: unix.AF_BRIDGE},
					{LinkIndex: 4, HardwareAddr: mac("02:aa:00:00:00:01"), IP: net.ParseIP("198.51.100.3"), State: netlink.NUD_NOARP, Family: unix.AF_BRIDGE},
					{LinkIndex: 2, HardwareAddr: mac("02:00:00:00:01:02"), State: netlink.NUD_PERMANENT, Family: unix.AF_BRIDGE},
					{LinkIndex: 2, HardwareAddr: mac("33:33:00:00:00:01"), State: netlink.NUD_PERMANENT, Family: unix.AF_BRIDGE},
				}
			})
			m1 := node("m1", []netlink.Link{veth(2, "eth0", "02:00:00:00:02:02", 2, 1)}, func(st *NodeState) {
				st.Peers[1] = "m2"
				st.Addrs = []netlink.Addr{addr(2, "198.51.100.1/24")}
			})
			m2 := node("m2", []netlink.Link{veth(2, "eth0", "02:00:00:00:03:02", 2, 1)}, func(st *NodeState) {
				st.Peers[1] = "m1"
				st.Addrs = []netlink.Addr{addr(2, "198.51.100.2/24")}
				st.Sysctls["ipv6/conf/all/disable_ipv6"] = "1"
			})
			return &Snapshot{Nodes: []*NodeState{h1, m1, m2}, Fresh: fresh()}
		}, BuildOptions{DeriveMACs: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := Build("hb", tt.snap(), tt.o)
			var b strings.Builder
			if err := Write(&b, f, "ini"); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", strings.ReplaceAll(tt.name, " ", "-")+".ini")
			if *update {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if diff := cmp.Diff(string(want), b.String()); diff != "" {
				t.Errorf("file (-%s +got):\n%s", golden, diff)
			}
			// YAML says the same, and loads too (Write checks).
			if err := Write(&strings.Builder{}, f, "yaml"); err != nil {
				t.Errorf("yaml: %v", err)
			}
		})
	}
}

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func slicesDelete(r []Rule, i int) []Rule { return append(r[:i:i], r[i+1:]...) }

func TestSources(t *testing.T) {
	tests := []struct {
		name       string
		lab        string
		namespaces []string
		wantLab    string
		want       []Source
		err        string
	}{
		{"shared prefix is the lab", "", []string{"demo-client", "demo-fw"}, "demo",
			[]Source{{"client", "demo-client"}, {"fw", "demo-fw"}}, ""},
		{"no shared prefix", "", []string{"red", "Blue_NS"}, "imported",
			[]Source{{"red", "red"}, {"blue_ns", "Blue_NS"}}, ""},
		{"lab given strips its prefix", "demo", []string{"demo-a", "b"}, "demo",
			[]Source{{"a", "demo-a"}, {"b", "b"}}, ""},
		{"nodes named", "", []string{"x=ns1", "y=ns2"}, "imported",
			[]Source{{"x", "ns1"}, {"y", "ns2"}}, ""},
		{"two namespaces, one node", "", []string{"a.b", "A.B"}, "", nil, "both become node a.b"},
		{"one namespace twice", "", []string{"x=ns1", "y=ns1"}, "", nil, "namespace ns1 is named twice"},
		{"unsafe node name", "", []string{"X Y=ns"}, "", nil, `node name "X Y" is not a safe name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lab, got, err := Sources(tt.lab, tt.namespaces)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if lab != tt.wantLab {
				t.Errorf("lab %q, want %q", lab, tt.wantLab)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("sources (-want +got):\n%s", diff)
			}
		})
	}
}

// A lab netcompose applied, imported back, keeps its sections' names:
// they are in the alias netcompose marks its links with.
func TestMarkedNames(t *testing.T) {
	e0 := veth(2, "eth0", "02:00:00:00:00:01", 2, 0)
	e0.Attrs().Alias = "netcompose:pfw:veth:client-fw"
	br := &netlink.Bridge{LinkAttrs: attrs(3, "br0", "02:00:00:00:00:03")}
	br.Alias = "netcompose:pfw:bridge:lan"
	a := node("a", []netlink.Link{e0, br}, func(st *NodeState) { st.Peers[0] = "b" })
	b := node("b", []netlink.Link{veth(2, "eth0", "02:00:00:00:00:02", 2, 0)}, func(st *NodeState) { st.Peers[0] = "a" })
	var w strings.Builder
	if err := Write(&w, Build("pfw", &Snapshot{Nodes: []*NodeState{a, b}, Fresh: fresh()}, BuildOptions{}), "ini"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[veth:client-fw]\n", "[bridge:lan]\nnetns = a\nifname = br0\n"} {
		if !strings.Contains(w.String(), want) {
			t.Errorf("file lacks %q:\n%s", want, w.String())
		}
	}
	if strings.Contains(w.String(), "alias") {
		t.Errorf("netcompose's own alias noted:\n%s", w.String())
	}
}
