package kernel

import (
	"context"
	"encoding/json"
	"net/netip"
	"os/exec"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/check"
)

// vxlanLab: h1 and h2 joined by an underlay veth (192.0.2.0/24); o1 and o2
// are overlay nodes whose vx0 devices are created on h1's and h2's eth0
// and moved into o1 and o2.
func vxlanLab(vni string, remotes1 ...string) []compose.Resource {
	vx := func(node, underlay, local, remote string) compose.Resource {
		return res(compose.KindVxlan, node, "vx0", "vni", vni, "port", "4789", "learning", "on",
			"ttl", "0", "tos", "0", "mtu", "1450", "local", local, "remote", remote,
			"underlay", "eth0", "underlay.netns", underlay)
	}
	remote1 := ""
	if len(remotes1) == 1 {
		remote1 = remotes1[0]
	}
	rs := []compose.Resource{
		res(compose.KindNetns, "h1", ""), res(compose.KindNetns, "h2", ""),
		res(compose.KindNetns, "o1", ""), res(compose.KindNetns, "o2", ""),
		veth("underlay", "h1", "eth0", "h2", "eth0", "1500"),
		res(compose.KindAddr, "h1", "eth0/192.0.2.1/24"),
		res(compose.KindAddr, "h2", "eth0/192.0.2.2/24"),
		vx("o1", "h1", "192.0.2.1", remote1),
		vx("o2", "h2", "192.0.2.2", "192.0.2.1"),
		res(compose.KindAddr, "o1", "vx0/10.42.0.1/24"),
		res(compose.KindAddr, "o2", "vx0/10.42.0.2/24"),
	}
	if len(remotes1) > 1 {
		for _, r := range remotes1 {
			rs = append(rs, res(compose.KindFDB, "o1", "vx0/"+r))
		}
	}
	compose.Sort(rs)
	return rs
}

func ping(t *testing.T, fromNS, to string, expect string) {
	t.Helper()
	r := check.RunOne(context.Background(), check.Spec{Name: "ping " + to, FromNetns: fromNS,
		Protocol: check.ICMP, Target: netip.MustParseAddr(to), Expect: expect})
	if !r.Pass {
		t.Errorf("ping %s from %s (expect %s): %s", to, fromNS, expect, r.Reason)
	}
}

// vxlanInfo is the vxlan part of `ip -j -d link show`, read independently
// of the code under test.
type vxlanInfo struct {
	Ifindex  int    `json:"ifindex"`
	MTU      int    `json:"mtu"`
	Alias    string `json:"ifalias"`
	Linkinfo struct {
		Kind string `json:"info_kind"`
		Data struct {
			ID       int    `json:"id"`
			Remote   string `json:"remote"`
			Local    string `json:"local"`
			Link     any    `json:"link"`
			Port     int    `json:"port"`
			Learning bool   `json:"learning"`
		} `json:"info_data"`
	} `json:"linkinfo"`
}

func showVxlan(t *testing.T, ns, dev string) vxlanInfo {
	t.Helper()
	out := ip(t, "-j", "-d", "-n", ns, "link", "show", "dev", dev)
	var v []vxlanInfo
	if err := json.Unmarshal([]byte(out), &v); err != nil || len(v) != 1 {
		t.Fatalf("ip -j -d link show %s in %s: %v\n%s", dev, ns, err, out)
	}
	return v[0]
}

// zeroFDB lists the dst of the all-zero FDB entries of dev, by `bridge -j`.
func zeroFDB(t *testing.T, ns, dev string) []string {
	t.Helper()
	out, err := exec.Command("bridge", "-n", ns, "-j", "fdb", "show", "dev", dev).CombinedOutput()
	if err != nil {
		t.Fatalf("bridge fdb show: %v\n%s", err, out)
	}
	var es []struct {
		MAC string `json:"mac"`
		Dst string `json:"dst"`
	}
	if err := json.Unmarshal(out, &es); err != nil {
		t.Fatalf("bridge fdb show: %v\n%s", err, out)
	}
	var dsts []string
	for _, e := range es {
		if e.MAC == "00:00:00:00:00:00" {
			dsts = append(dsts, e.Dst)
		}
	}
	slices.Sort(dsts)
	return dsts
}

func TestVxlanLifecycle(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	ns := func(node string) string { return compose.NamespaceName(lab, node) }
	noChanges := func(when string, desired []compose.Resource) {
		t.Helper()
		actual, err := Observe(context.Background(), lab, desired)
		if err != nil {
			t.Fatalf("%s: observe: %v", when, err)
		}
		if p := compose.Diff(lab, desired, actual); !p.Empty() {
			t.Fatalf("%s: plan not empty: %v", when, planIDs(p))
		}
	}

	desired := vxlanLab("42", "192.0.2.2")
	if _, err := converge(lab, desired, ApplyOptions{}); err != nil {
		t.Fatalf("apply: %v", err)
	}
	noChanges("after apply", desired)
	ping(t, ns("o1"), "10.42.0.2", check.ExpectPass)

	// Independent eye: iproute2's view of the device.
	got := showVxlan(t, ns("o1"), "vx0")
	d := got.Linkinfo.Data
	if got.Linkinfo.Kind != "vxlan" || d.ID != 42 || d.Local != "192.0.2.1" || d.Remote != "192.0.2.2" ||
		d.Port != 4789 || !d.Learning || got.MTU != 1450 || got.Alias != "netcompose:"+lab+":vxlan:vx0" {
		t.Errorf("o1 vx0 as ip sees it: %+v", got)
	}
	if d.Link == nil {
		t.Errorf("o1 vx0 has no underlay link: %+v", got)
	}
	// The UDP socket lives where the device was created: h1, not o1.
	if !hasUDP(t, ns("h1"), 4789) || hasUDP(t, ns("o1"), 4789) {
		t.Errorf("want the vxlan socket in %s only", ns("h1"))
	}

	// One remote to two: the device stays, the FDB gains both entries.
	before := got.Ifindex
	two := vxlanLab("42", "192.0.2.2", "192.0.2.3")
	p, err := converge(lab, two, ApplyOptions{})
	if err != nil {
		t.Fatalf("apply two remotes: %v", err)
	}
	want := []string{"create fdb/o1/vx0/192.0.2.2", "create fdb/o1/vx0/192.0.2.3", "update vxlan/o1/vx0"}
	if diff := cmp.Diff(want, planIDs(p)); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	noChanges("after two remotes", two)
	if diff := cmp.Diff([]string{"192.0.2.2", "192.0.2.3"}, zeroFDB(t, ns("o1"), "vx0")); diff != "" {
		t.Errorf("all-zero fdb (-want +got):\n%s", diff)
	}
	ping(t, ns("o1"), "10.42.0.2", check.ExpectPass)

	// Back to one, another one: still the same device.
	one := vxlanLab("42", "192.0.2.3")
	if _, err := converge(lab, one, ApplyOptions{}); err != nil {
		t.Fatalf("apply other remote: %v", err)
	}
	noChanges("after other remote", one)
	if diff := cmp.Diff([]string{"192.0.2.3"}, zeroFDB(t, ns("o1"), "vx0")); diff != "" {
		t.Errorf("all-zero fdb (-want +got):\n%s", diff)
	}
	if after := showVxlan(t, ns("o1"), "vx0"); after.Ifindex != before || after.Linkinfo.Data.Remote != "192.0.2.3" {
		t.Errorf("remote change: ifindex %d -> %d, remote %q", before, after.Ifindex, after.Linkinfo.Data.Remote)
	}

	// A VNI change replaces the device (and what lives on it).
	vni := vxlanLab("43", "192.0.2.2")
	p, err = converge(lab, vni, ApplyOptions{})
	if err != nil {
		t.Fatalf("apply vni change: %v", err)
	}
	if !slices.Contains(planIDs(p), "replace vxlan/o1/vx0") {
		t.Errorf("vni change: plan %v has no replace of vxlan/o1/vx0", planIDs(p))
	}
	noChanges("after vni change", vni)
	ping(t, ns("o1"), "10.42.0.2", check.ExpectPass)

	if err := destroy(lab); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	if left := namespaces(t, lab+"-"); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// hasUDP reports whether a UDP socket is bound to port in the namespace,
// by `ss` run inside it.
func hasUDP(t *testing.T, ns string, port int) bool {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "ss", "-Hlun", "sport", "= :"+itoa(port)).CombinedOutput()
	if err != nil {
		t.Fatalf("ss in %s: %v\n%s", ns, err, out)
	}
	return len(out) > 0
}

// Each setting reaches the kernel as written and reads back in the
// lowering's normal form, so a second apply is a no-op; changing it
// replaces the device.
func TestVxlanSettings(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	base := []compose.Resource{
		res(compose.KindNetns, "h1", ""), res(compose.KindNetns, "h2", ""), res(compose.KindNetns, "o1", ""),
		veth("underlay", "h1", "eth0", "h2", "eth0", "1500"),
		res(compose.KindAddr, "h1", "eth0/192.0.2.1/24"),
	}
	type want struct {
		Group, Remote string
		Port, TTL     int
		Learning      bool
		MTU           int
	}
	for _, c := range []struct {
		name  string
		attrs []string
		want  want
	}{
		{"multicast group on the underlay",
			[]string{"vni", "7", "port", "4789", "learning", "on", "ttl", "5", "tos", "0", "mtu", "1450",
				"local", "192.0.2.1", "group", "239.1.1.7", "underlay", "eth0", "underlay.netns", "h1"},
			want{Group: "239.1.1.7", Port: 4789, TTL: 5, Learning: true, MTU: 1450}},
		{"learning off, linux port, ttl and own mtu",
			[]string{"vni", "7", "port", "8472", "learning", "off", "ttl", "64", "tos", "0", "mtu", "1400",
				"local", "192.0.2.1", "remote", "192.0.2.2", "underlay", "eth0", "underlay.netns", "h1"},
			want{Remote: "192.0.2.2", Port: 8472, TTL: 64, MTU: 1400}},
		{"vni change replaces the device",
			[]string{"vni", "9", "port", "4789", "learning", "on", "ttl", "0", "tos", "0", "mtu", "1450",
				"local", "192.0.2.1", "remote", "192.0.2.2", "underlay", "eth0", "underlay.netns", "h1"},
			want{Remote: "192.0.2.2", Port: 4789, Learning: true, MTU: 1450}},
	} {
		t.Run(c.name, func(t *testing.T) {
			desired := append(slices.Clone(base), res(compose.KindVxlan, "o1", "vx0", c.attrs...))
			compose.Sort(desired)
			p, err := converge(lab, desired, ApplyOptions{})
			if err != nil {
				t.Fatalf("apply: %v", err)
			}
			if first := c.name == "multicast group on the underlay"; !first && !slices.Contains(planIDs(p), "replace vxlan/o1/vx0") {
				t.Errorf("plan %v: want a replace of vxlan/o1/vx0", planIDs(p))
			}
			actual, err := Observe(context.Background(), lab, desired)
			if err != nil {
				t.Fatal(err)
			}
			if p := compose.Diff(lab, desired, actual); !p.Empty() {
				t.Errorf("second apply would change %v", planIDs(p))
			}
			out := ip(t, "-j", "-d", "-n", compose.NamespaceName(lab, "o1"), "link", "show", "dev", "vx0")
			var v []struct {
				MTU      int `json:"mtu"`
				Linkinfo struct {
					Data struct {
						Group    string `json:"group"`
						Remote   string `json:"remote"`
						Port     int    `json:"port"`
						TTL      int    `json:"ttl"`
						Learning bool   `json:"learning"`
					} `json:"info_data"`
				} `json:"linkinfo"`
			}
			if err := json.Unmarshal([]byte(out), &v); err != nil || len(v) != 1 {
				t.Fatalf("ip link show: %v\n%s", err, out)
			}
			d := v[0].Linkinfo.Data
			got := want{Group: d.Group, Remote: d.Remote, Port: d.Port, TTL: d.TTL, Learning: d.Learning, MTU: v[0].MTU}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("ip -d link show vx0 (-want +got):\n%s", diff)
			}
		})
	}
}
