package compose

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStateKey(t *testing.T) {
	for _, c := range []struct{ lab, host, key string }{
		{"vxo", "", "vxo"},
		{"vxo", "m1", "vxo@m1"},
	} {
		if got := StateKey(c.lab, c.host); got != c.key {
			t.Errorf("StateKey(%q, %q) = %q, want %q", c.lab, c.host, got, c.key)
		}
		if lab, host := SplitStateKey(c.key); lab != c.lab || host != c.host {
			t.Errorf("SplitStateKey(%q) = %q, %q", c.key, lab, host)
		}
	}
}

// The VNI of a link is a pure function of lab and link name: the same on
// every machine and run (pinned here), 24 bits, never 0.
func TestTunnelVNI(t *testing.T) {
	if got := TunnelVNI("vxo", "segment"); got != 12803656 {
		t.Errorf("TunnelVNI(vxo, segment) = %d, want 12803656 (changing it breaks running labs)", got)
	}
	for i := range 1000 {
		v := TunnelVNI("lab", "l"+strconv.Itoa(i))
		if v < 1 || v >= 1<<24 {
			t.Fatalf("VNI %d out of 1..2^24-1", v)
		}
	}
}

func TestForHostOverlay(t *testing.T) {
	lab, err := Build(loadFile(t, "../topologies/vxlan-overlay.ini"))
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.OneMachine(); err != nil {
		t.Errorf("overlay lab on one machine: %v", err)
	}
	vni := strconv.Itoa(TunnelVNI("vxo", "segment"))
	tunnel := func(node, local, remote string) Resource {
		return Resource{Kind: KindVxlan, Node: node, Name: "eth0", Attrs: map[string]string{
			"vni": vni, "port": "4789", "learning": "on", "ttl": "0", "tos": "0", "mtu": "1450",
			"local": local, "remote": remote, "group": "", "underlay": "", "underlay.netns": "", "up": "true",
			"mac": DerivedMAC("vxo", node, "eth0"),
		}}
	}
	for _, c := range []struct {
		host string
		want []Resource
	}{
		{"m1", []Resource{
			{Kind: KindNetns, Node: "n1", Attrs: map[string]string{"lo.up": "true"}},
			tunnel("n1", "192.0.2.1", "192.0.2.2"),
			{Kind: KindAddr, Node: "n1", Name: "eth0/10.42.0.1/24"},
		}},
		{"m2", []Resource{
			{Kind: KindNetns, Node: "n2", Attrs: map[string]string{"lo.up": "true"}},
			tunnel("n2", "192.0.2.2", "192.0.2.1"),
			{Kind: KindAddr, Node: "n2", Name: "eth0/10.42.0.2/24"},
		}},
	} {
		t.Run(c.host, func(t *testing.T) {
			s, err := lab.ForHost(c.host)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, s.Resources()); diff != "" {
				t.Errorf("resources (-want +got):\n%s", diff)
			}
			if len(s.Checks) != 1 || s.Checks[0].From != s.Nodes[0].Name {
				t.Errorf("checks of the slice: %+v", s.Checks)
			}
		})
	}
	// The lab itself is untouched: the link is still a veth.
	if len(lab.Veths) != 1 || len(lab.Vxlans) != 0 {
		t.Errorf("ForHost changed the lab: %d veths, %d vxlans", len(lab.Veths), len(lab.Vxlans))
	}
}

func TestForHostTenantsAndThreeHosts(t *testing.T) {
	for _, c := range []struct {
		file, host string
		nodes      []string
		fdb        int
	}{
		{"vxlan-tenants.ini", "m1", []string{"sw1", "a1", "b1"}, 0},
		{"vxlan-tenants.ini", "m2", []string{"sw2", "a2", "b2"}, 0},
		{"vxlan-3hosts.ini", "m3", []string{"n3"}, 2},
	} {
		t.Run(c.file+"/"+c.host, func(t *testing.T) {
			lab, err := Build(loadFile(t, "../topologies/"+c.file))
			if err != nil {
				t.Fatal(err)
			}
			if err := lab.OneMachine(); err == nil {
				t.Errorf("OneMachine: want an error for vxlan devices on host underlays")
			}
			s, err := lab.ForHost(c.host)
			if err != nil {
				t.Fatal(err)
			}
			var nodes []string
			fdb := 0
			for _, r := range s.Resources() {
				switch r.Kind {
				case KindNetns:
					nodes = append(nodes, r.Node)
				case KindFDB:
					fdb++
				case KindVeth:
					if lab.HostOf(r.Attrs["a.node"]) != c.host || lab.HostOf(r.Attrs["b.node"]) != c.host {
						t.Errorf("veth %s leaves host %s", r.Name, c.host)
					}
				}
			}
			if diff := cmp.Diff(c.nodes, nodes, sortStrings); diff != "" {
				t.Errorf("nodes (-want +got):\n%s", diff)
			}
			if fdb != c.fdb {
				t.Errorf("%d fdb entries, want %d", fdb, c.fdb)
			}
		})
	}
}

var sortStrings = cmp.Transformer("sort", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

func TestForHostErrors(t *testing.T) {
	// l4310 and l6620 hash to the same VNI in lab "clash".
	clash := `
[DEFAULT]
lab = clash
[host:m1]
underlay = 192.0.2.1
[host:m2]
underlay = 192.0.2.2
[netns:a]
host = m1
[netns:b]
host = m2
[veth:l4310]
endpoints = a:e1 b:e1
[veth:l6620]
endpoints = a:e2 b:e2
`
	explicit := `
[DEFAULT]
lab = vxo
[host:m1]
underlay = 192.0.2.1
[host:m2]
underlay = 192.0.2.2
[netns:a]
host = m1
[netns:b]
host = m2
[veth:segment]
endpoints = a:e1 b:e1
[vxlan:other]
netns = a
vni = 12803656
local = 192.0.2.1
`
	noUnderlay := `
[host:m1]
underlay = 192.0.2.1
[host:m2]
[netns:a]
[netns:b]
host = m2
[veth:ab]
endpoints = a:e1 b:e1
`
	for _, c := range []struct {
		name, text, host string
		want             []string
	}{
		{"two links with one VNI", clash, "m1", []string{"VNI 16364804", "[veth:l6620]", "[veth:l4310]"}},
		{"link VNI taken by a vxlan", explicit, "m2", []string{"[veth:segment]", "[vxlan:other]"}},
		{"unknown host", explicit, "m9", []string{"no [host:m9]", "m1, m2"}},
		{"peer without underlay", noUnderlay, "m1", []string{"[veth:ab]", "underlay"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			lab, err := build(t, c.text)
			if err != nil {
				t.Fatal(err)
			}
			_, err = lab.ForHost(c.host)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// The graph draws hosts as clusters and a link between hosts as a
// dashed VXLAN tunnel with its VNI.
func TestGraphTunnel(t *testing.T) {
	lab, err := Build(loadFile(t, "../topologies/vxlan-overlay.ini"))
	if err != nil {
		t.Fatal(err)
	}
	var dot bytes.Buffer
	if err := WriteDOT(&dot, lab); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`"cluster_host_m1"`, `"cluster_host_m2"`,
		"VXLAN tunnel VNI " + strconv.Itoa(TunnelVNI("vxo", "segment")) + `\nm1—m2`, "style=dashed"} {
		if !strings.Contains(dot.String(), w) {
			t.Errorf("dot lacks %q:\n%s", w, dot.String())
		}
	}
}

// A vxlan device's MTU defaults to its underlay's minus the outer
// headers, and its local address to the underlay's.
func TestVxlanDefaults(t *testing.T) {
	for _, c := range []struct {
		name, text   string
		mtu, local   string
		remote, port string
	}{
		{"over a 9000-byte veth", `
[netns:h]
address.eth0 = 192.0.2.1/24
[netns:o]
[veth:u]
endpoints = h:eth0 o:up
mtu = 9000
[vxlan:vx]
netns = h
vni = 5
underlay = h:eth0
remote = 192.0.2.2
`, "8950", "192.0.2.1", "192.0.2.2", "4789"},
		{"over IPv6", `
[netns:h]
address.eth0 = 2001:db8::1/64
[netns:o]
[veth:u]
endpoints = h:eth0 o:up
[vxlan:vx]
netns = h
vni = 5
underlay = h:eth0
remote = 2001:db8::2
port = 8472
`, "1430", "2001:db8::1", "2001:db8::2", "8472"},
		{"no underlay", `
[netns:h]
[vxlan:vx]
netns = h
vni = 5
local = 192.0.2.1
remote = 192.0.2.2 192.0.2.3
`, "1450", "192.0.2.1", "", "4789"},
	} {
		t.Run(c.name, func(t *testing.T) {
			lab, err := build(t, c.text)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range lab.Resources() {
				if r.Kind != KindVxlan {
					continue
				}
				got := [4]string{r.Attrs["mtu"], r.Attrs["local"], r.Attrs["remote"], r.Attrs["port"]}
				if want := [4]string{c.mtu, c.local, c.remote, c.port}; got != want {
					t.Errorf("mtu, local, remote, port = %q, want %q", got, want)
				}
				return
			}
			t.Fatal("no vxlan resource")
		})
	}
}
