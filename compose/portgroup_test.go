package compose

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The shipped vSphere lab lowers to a port's VLANs, flags, allowed MACs,
// mirrors and shaping, and its VLAN sub-interfaces.
func TestPortGroupResources(t *testing.T) {
	lab, err := Build(loadFile(t, "../topologies/vswitch-portgroups.ini"))
	if err != nil {
		t.Fatal(err)
	}
	got := texts(ofKind(lab.Resources(), KindVlan, KindBrVlan, KindBrPort, KindBrFDB, KindMirror, KindQdisc, KindMaster, KindBridge))
	web1 := lab.MAC("web1", "eth0")
	web2 := lab.MAC("web2", "eth0")
	want := []string{
		"bridge esx vswitch0  mtu=1500 stp=off vlan_filtering=on",
		"vlan router eth0.10  id=10 link=eth0 protocol=802.1Q",
		"vlan router eth0.20  id=20 link=eth0 protocol=802.1Q",
		"master esx db1  bridge=vswitch0",
		"master esx db2  bridge=vswitch0",
		"master esx router  bridge=vswitch0",
		"master esx web1  bridge=vswitch0",
		"master esx web2  bridge=vswitch0",
		"qdisc esx web1  tbf rate=100mbit limit=690536 burst=65538",
		"qdisc esx web2  tbf rate=100mbit limit=690536 burst=65538",
		"brvlan esx db1  pvid=20 untagged=20",
		"brvlan esx db2  pvid=20 untagged=20",
		"brvlan esx router  tagged=10,20",
		"brvlan esx vswitch0  pvid=1 untagged=1",
		"brvlan esx web1  pvid=10 untagged=10",
		"brvlan esx web2  pvid=10 untagged=10",
		"brport esx db1  isolated=on",
		"brport esx db2  isolated=on",
		"brport esx web1  locked=on",
		"brport esx web2  locked=on",
		"brfdb esx web1 " + web1 + " vlan 10",
		"brfdb esx web2 " + web2 + " vlan 10",
		"mirror esx web1 egress  → ids",
		"mirror esx web1 ingress  → ids",
		"mirror esx web2 egress  → ids",
		"mirror esx web2 ingress  → ids",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("resources (-want +got):\n%s", d)
	}
	// a VLAN sub-interface has its parent's MAC
	if a, b := lab.MAC("router", "eth0.10"), lab.MAC("router", "eth0"); a != b {
		t.Errorf("MAC of router:eth0.10 %s, of its parent %s", a, b)
	}
	wantFeatures := []string{"netns", "veth", "bridge", "vlan", "bridge_vlan", "bridge_locked", "tc_mirred", "tbf", "bridge_isolated"}
	if d := cmp.Diff(wantFeatures, lab.Features()); d != "" {
		t.Errorf("features (-want +got):\n%s", d)
	}
}

func TestPortGroupLowering(t *testing.T) {
	const base = `
[netns:sw]
[netns:a]
vlan = eth0.10
svlan = eth0.100
mac.eth0.10 = 02:00:00:00:0a:10
[netns:b]
[veth:a]
endpoints = a:eth0 sw:pa
[veth:b]
endpoints = b:eth0 sw:pb
[vxlan:vx]
netns = sw
vni = 9
bridge = br0
[bridge:sw]
netns = sw
ifname = br0
`
	for _, tc := range []struct {
		name, groups string
		want         []string // Text of the resources of these kinds
		kinds        []Kind
	}{
		{
			name:  "a VLAN-aware bridge gives ungrouped ports and itself VLAN 1, as the kernel does",
			kinds: []Kind{KindBrVlan},
			groups: `vlan_filtering = on
[portgroup:g]
bridge = sw
ports = pa
vlan = 7
trunk = 100-103 200`,
			want: []string{
				"brvlan sw br0  pvid=1 untagged=1",
				"brvlan sw pa  pvid=7 tagged=100-103,200 untagged=7",
				"brvlan sw vx  pvid=1 untagged=1",
			},
		},
		{
			name:  "the bridge itself in a group takes the group's VLANs; a group without VLANs leaves VLAN 1",
			kinds: []Kind{KindBrVlan},
			groups: `vlan_filtering = on
[portgroup:mgmt]
bridge = sw
ports = br0
vlan = 99
[portgroup:plain]
bridge = sw
ports = pa
isolated = on`,
			want: []string{
				"brvlan sw br0  pvid=99 untagged=99",
				"brvlan sw pa  pvid=1 untagged=1",
				"brvlan sw vx  pvid=1 untagged=1",
			},
		},
		{
			name:  "a locked port allows its peer, the peer's VLAN sub-interfaces and its allow list, in each VLAN it carries",
			kinds: []Kind{KindBrFDB, KindBrPort},
			groups: `vlan_filtering = on
[portgroup:g]
bridge = sw
ports = pa
trunk = 10 100
locked = on
learning = off
allow.pa = 02:00:00:00:00:99 b:eth0`,
			want: []string{
				"brport sw pa  learning=off locked=on",
				"brfdb sw pa 02:00:00:00:00:99 vlan 10",
				"brfdb sw pa 02:00:00:00:00:99 vlan 100",
				"brfdb sw pa 02:00:00:00:0a:10 vlan 10",
				"brfdb sw pa 02:00:00:00:0a:10 vlan 100",
				"brfdb sw pa " + DerivedMAC("lab", "a", "eth0") + " vlan 10",
				"brfdb sw pa " + DerivedMAC("lab", "a", "eth0") + " vlan 100",
				"brfdb sw pa " + DerivedMAC("lab", "b", "eth0") + " vlan 10",
				"brfdb sw pa " + DerivedMAC("lab", "b", "eth0") + " vlan 100",
			},
		},
		{
			name:  "without VLAN filtering an allowed MAC has one entry, without a VLAN",
			kinds: []Kind{KindBrFDB, KindMaster},
			groups: `
[portgroup:g]
bridge = sw
ports = pa pb
locked = on`,
			want: []string{
				"master sw pa  bridge=br0",
				"master sw pb  bridge=br0",
				"master sw vx  bridge=br0",
				"brfdb sw pa 02:00:00:00:0a:10",
				"brfdb sw pa " + DerivedMAC("lab", "a", "eth0"),
				"brfdb sw pb " + DerivedMAC("lab", "b", "eth0"),
			},
		},
		{
			name:  "mirror one direction; flags all default need no brport",
			kinds: []Kind{KindMirror, KindBrPort},
			groups: `
[portgroup:g]
bridge = sw
ports = pa
learning = on
mirror = pb
mirror_direction = ingress`,
			want: []string{"mirror sw pa ingress  → pb"},
		},
		{
			name:  "VLAN sub-interfaces: 802.1Q and 802.1ad, a MAC of their own or their parent's",
			kinds: []Kind{KindVlan},
			want: []string{
				"vlan a eth0.10  id=10 link=eth0 protocol=802.1Q",
				"vlan a eth0.100  id=100 link=eth0 protocol=802.1ad",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lab, err := build(t, "[DEFAULT]\nlab = lab\n"+base+tc.groups+"\n")
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, texts(ofKind(lab.Resources(), tc.kinds...))); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// A port moved to another VLAN reads as one change in place, in VLAN
// words.
func TestBrVlanChangeLine(t *testing.T) {
	before := Resource{Kind: KindBrVlan, Node: "esx", Name: "db1", Attrs: map[string]string{"bridge": "vswitch0", "pvid": "10", "untagged": "10,20", "tagged": ""}}
	after := Resource{Kind: KindBrVlan, Node: "esx", Name: "db1", Attrs: map[string]string{"bridge": "vswitch0", "pvid": "20", "untagged": "20", "tagged": ""}}
	p := Diff("vswitch", []Resource{after}, []Resource{before})
	if len(p.Changes) != 1 {
		t.Fatalf("changes: %+v", p.Changes)
	}
	if got, want := p.Changes[0].Line(), "~ brvlan esx db1  pvid: 10 → 20, untagged: 10,20 → 20"; got != want {
		t.Errorf("line %q, want %q", got, want)
	}
	// the port's VLANs, flags and mirror go with its bridge
	bridge := Resource{Kind: KindBridge, Node: "esx", Name: "vswitch0"}
	flags := Resource{Kind: KindBrPort, Node: "esx", Name: "db1", Attrs: map[string]string{"bridge": "vswitch0", "isolated": "on"}}
	p = Diff("vswitch", nil, []Resource{bridge, before, flags})
	for _, c := range p.Changes {
		if c.Resource().Kind != KindBridge && !c.Cascade {
			t.Errorf("%s: not a cascade of the bridge's delete", c.Line())
		}
	}
}

func TestVIDs(t *testing.T) {
	for _, tc := range []struct{ in, text string }{
		{"10", "10"},
		{"20,10,11,12", "10-12,20"},
		{"1-3,3,4,4094", "1-4,4094"},
		{"", ""},
	} {
		ids, err := ParseVIDs(tc.in)
		if err != nil {
			t.Errorf("ParseVIDs(%q): %v", tc.in, err)
			continue
		}
		if got := VIDText(ids); got != tc.text {
			t.Errorf("VIDText(ParseVIDs(%q)) = %q, want %q", tc.in, got, tc.text)
		}
	}
	for _, bad := range []string{"0", "4095", "10-5", "x", "10,,20"} {
		if _, err := ParseVIDs(bad); err == nil {
			t.Errorf("ParseVIDs(%q): no error", bad)
		}
	}
}

func TestPortGroupShapingDefaults(t *testing.T) {
	lab, err := build(t, `[DEFAULT]
lab = l
[netns:sw]
[netns:a]
[veth:a]
endpoints = a:eth0 sw:pa
[bridge:sw]
netns = sw
[portgroup:g]
bridge = sw
ports = pa
rate = 8mbit
`)
	if err != nil {
		t.Fatal(err)
	}
	// 10 ms at 1 MB/s is 10000 bytes; the queue holds 50 ms more
	sh := lab.PortGroups[0].Shaping
	if sh == nil || sh.Rate != 8_000_000 || sh.Burst != 10000 || sh.Limit != 60000 {
		t.Errorf("shaping %+v, want rate 8000000 burst 10000 limit 60000", sh)
	}
	if !strings.Contains(strings.Join(lab.Features(), " "), "tbf") {
		t.Errorf("features %v: no tbf", lab.Features())
	}
}
