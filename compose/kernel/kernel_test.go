package kernel

import (
	"context"
	"errors"
	"os"
	"slices"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/netcompose/netcompose/compose"
)

// smallLab: a and b on a bridge in r, a spare veth a<->b, a default route
// in a, a static route in b, sysctls and a static neighbour.
func smallLab() []compose.Resource {
	rs := []compose.Resource{
		res(compose.KindNetns, "a", ""),
		res(compose.KindNetns, "b", ""),
		res(compose.KindNetns, "r", ""),
		veth("a-r", "a", "eth0", "r", "ra", "1500"),
		veth("b-r", "b", "eth0", "r", "rb", "1500"),
		veth("spare", "a", "s0", "b", "s0", "1500"),
		res(compose.KindBridge, "r", "br0", "mtu", "1500", "stp", "off"),
		res(compose.KindMaster, "r", "ra", "bridge", "br0"),
		res(compose.KindMaster, "r", "rb", "bridge", "br0"),
		res(compose.KindAddr, "a", "eth0/10.0.0.1/24"),
		res(compose.KindAddr, "b", "eth0/10.0.0.2/24"),
		res(compose.KindAddr, "r", "br0/10.0.0.254/24"),
		res(compose.KindAddr, "a", "eth0/2001:db8::1/64"),
		res(compose.KindRoute, "a", "0.0.0.0/0", "via", "10.0.0.254", "dev", "eth0"),
		res(compose.KindRoute, "b", "198.51.100.0/24", "via", "10.0.0.254"),
		res(compose.KindSysctl, "r", "net.ipv4.ip_forward", "value", "1"),
		res(compose.KindSysctl, "a", "net.ipv4.conf.eth0.arp_ignore", "value", "1"),
		res(compose.KindNeigh, "a", "eth0/10.0.0.2", "mac", "02:00:00:00:00:02"),
	}
	compose.Sort(rs)
	return rs
}

func without(rs []compose.Resource, id string) []compose.Resource {
	return slices.DeleteFunc(slices.Clone(rs), func(r compose.Resource) bool { return r.ID() == id })
}

func replaced(rs []compose.Resource, r compose.Resource) []compose.Resource {
	out := append(without(rs, r.ID()), r)
	compose.Sort(out)
	return out
}

func TestLabLifecycle(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	ns := func(node string) string { return compose.NamespaceName(lab, node) }
	desired := smallLab()

	if _, err := converge(lab, desired, ApplyOptions{}); err != nil {
		t.Fatalf("apply: %v", err)
	}
	checkKernel(t, lab)

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
	noChanges("after apply", desired)

	// Drift by hand.
	ip(t, "-n", ns("a"), "link", "del", "s0")
	ip(t, "-n", ns("r"), "addr", "del", "10.0.0.254/24", "dev", "br0")
	ip(t, "-n", ns("r"), "addr", "add", "10.0.0.253/24", "dev", "br0")
	ip(t, "netns", "exec", ns("r"), "sysctl", "-qw", "net.ipv4.ip_forward=0")
	actual, err := Observe(context.Background(), lab, desired)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"create addr/r/br0/10.0.0.254/24",
		"create veth//spare",
		"delete addr/r/br0/10.0.0.253/24",
		"update sysctl/r/net.ipv4.ip_forward",
	}
	if d := cmp.Diff(want, planIDs(compose.Diff(lab, desired, actual))); d != "" {
		t.Fatalf("drift plan (-want +got):\n%s", d)
	}
	if _, err := converge(lab, desired, ApplyOptions{}); err != nil {
		t.Fatalf("apply after drift: %v", err)
	}
	noChanges("after repair", desired)
	checkKernel(t, lab)

	// Change the file: add a node, change an mtu, drop a sysctl.
	idx := func(node, ifname string) float64 {
		t.Helper()
		l := ipJSON(t, ns(node), "link", "show", "dev", ifname)
		return l[0]["ifindex"].(float64)
	}
	keep := map[string]float64{"a/eth0": idx("a", "eth0"), "r/ra": idx("r", "ra"), "r/br0": idx("r", "br0")}
	changed := replaced(desired, veth("b-r", "b", "eth0", "r", "rb", "1400"))
	changed = without(changed, "sysctl/a/net.ipv4.conf.eth0.arp_ignore")
	changed = append(changed,
		res(compose.KindNetns, "c", ""),
		veth("c-r", "c", "eth0", "r", "rc", "1500"),
		res(compose.KindMaster, "r", "rc", "bridge", "br0"),
		res(compose.KindAddr, "c", "eth0/10.0.0.3/24"))
	compose.Sort(changed)
	p, err := converge(lab, changed, ApplyOptions{})
	if err != nil {
		t.Fatalf("apply changed lab: %v", err)
	}
	want = []string{
		"create addr/c/eth0/10.0.0.3/24",
		"create master/r/rc",
		"create netns/c/",
		"create veth//c-r",
		"delete sysctl/a/net.ipv4.conf.eth0.arp_ignore",
		"update veth//b-r",
	}
	if d := cmp.Diff(want, planIDs(p)); d != "" {
		t.Errorf("change plan (-want +got):\n%s", d)
	}
	for k, v := range keep {
		node, ifname, _ := cut(k)
		if got := idx(node, ifname); got != v {
			t.Errorf("%s: ifindex %v, was %v: an unchanged link was recreated", k, got, v)
		}
	}
	for _, end := range [][2]string{{"b", "eth0"}, {"r", "rb"}} {
		if mtu := ipJSON(t, ns(end[0]), "link", "show", "dev", end[1])[0]["mtu"].(float64); mtu != 1400 {
			t.Errorf("%s/%s: mtu %v, want 1400", end[0], end[1], mtu)
		}
	}
	if v := sysctl(t, ns("a"), "net.ipv4.conf.eth0.arp_ignore"); v != "0" {
		t.Errorf("arp_ignore after removing the sysctl: %s, want the original 0", v)
	}
	noChanges("after change", changed)

	if err := destroy(lab); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	if got := namespaces(t, lab+"-"); len(got) > 0 {
		t.Errorf("namespaces left after destroy: %v", got)
	}
	if _, err := os.Stat(labDir(lab)); !os.IsNotExist(err) {
		t.Errorf("state dir left after destroy: %v", err)
	}
	if err := destroy(lab); err != nil {
		t.Errorf("second destroy: %v", err)
	}
}

func cut(s string) (string, string, bool) {
	for i := range s {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// checkKernel checks smallLab with iproute2's JSON output, not with the
// code under test.
func checkKernel(t *testing.T, lab string) {
	t.Helper()
	ns := func(node string) string { return compose.NamespaceName(lab, node) }
	if d := cmp.Diff([]string{ns("a"), ns("b"), ns("r")}, namespaces(t, lab+"-")); d != "" {
		t.Errorf("namespaces (-want +got):\n%s", d)
	}

	type link struct {
		Name, Kind, Alias, Master, Peer string
		MTU                             float64
		Up                              bool
	}
	links := func(node string) []link {
		var out []link
		for _, l := range ipJSON(t, ns(node), "link", "show") {
			if l["ifname"] == "lo" {
				continue
			}
			k := link{Name: l["ifname"].(string), MTU: l["mtu"].(float64)}
			k.Alias, _ = l["ifalias"].(string)
			k.Master, _ = l["master"].(string)
			if li, ok := l["linkinfo"].(map[string]any); ok {
				k.Kind, _ = li["info_kind"].(string)
			}
			for _, f := range l["flags"].([]any) {
				k.Up = k.Up || f == "UP"
			}
			out = append(out, k)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		return out
	}
	al := func(kind, name string) string { return "netcompose:" + lab + ":" + kind + ":" + name }
	wantLinks := map[string][]link{
		"a": {{Name: "eth0", Kind: "veth", Alias: al("veth", "a-r"), MTU: 1500, Up: true},
			{Name: "s0", Kind: "veth", Alias: al("veth", "spare"), MTU: 1500, Up: true}},
		"b": {{Name: "eth0", Kind: "veth", Alias: al("veth", "b-r"), MTU: 1500, Up: true},
			{Name: "s0", Kind: "veth", Alias: al("veth", "spare"), MTU: 1500, Up: true}},
		"r": {{Name: "br0", Kind: "bridge", Alias: al("bridge", "br0"), MTU: 1500, Up: true},
			{Name: "ra", Kind: "veth", Alias: al("veth", "a-r"), Master: "br0", MTU: 1500, Up: true},
			{Name: "rb", Kind: "veth", Alias: al("veth", "b-r"), Master: "br0", MTU: 1500, Up: true}},
	}
	for node, want := range wantLinks {
		if d := cmp.Diff(want, links(node)); d != "" {
			t.Errorf("links in %s (-want +got):\n%s", node, d)
		}
	}

	addrs := func(node string) []string {
		var out []string
		for _, l := range ipJSON(t, ns(node), "addr", "show") {
			for _, a := range l["addr_info"].([]any) {
				a := a.(map[string]any)
				if a["scope"] == "host" || a["scope"] == "link" {
					continue
				}
				out = append(out, l["ifname"].(string)+"/"+a["local"].(string)+"/"+ftoa(a["prefixlen"]))
			}
		}
		sort.Strings(out)
		return out
	}
	wantAddrs := map[string][]string{
		"a": {"eth0/10.0.0.1/24", "eth0/2001:db8::1/64"},
		"b": {"eth0/10.0.0.2/24"},
		"r": {"br0/10.0.0.254/24"},
	}
	for node, want := range wantAddrs {
		if d := cmp.Diff(want, addrs(node)); d != "" {
			t.Errorf("addresses in %s (-want +got):\n%s", node, d)
		}
	}

	routes := func(node string) []string {
		var out []string
		for _, r := range ipJSON(t, ns(node), "route", "show") {
			if r["protocol"] == "kernel" {
				continue
			}
			gw, _ := r["gateway"].(string)
			out = append(out, r["dst"].(string)+" via "+gw+" dev "+r["dev"].(string)+" proto "+ftoa(r["protocol"]))
		}
		return out
	}
	wantRoutes := map[string][]string{
		"a": {"default via 10.0.0.254 dev eth0 proto 78"},
		"b": {"198.51.100.0/24 via 10.0.0.254 dev eth0 proto 78"},
		"r": nil,
	}
	for node, want := range wantRoutes {
		if d := cmp.Diff(want, routes(node)); d != "" {
			t.Errorf("routes in %s (-want +got):\n%s", node, d)
		}
	}

	var neighs []string
	for _, n := range ipJSON(t, ns("a"), "neigh", "show", "nud", "permanent") {
		neighs = append(neighs, n["dev"].(string)+"/"+n["dst"].(string)+" "+n["lladdr"].(string))
	}
	if d := cmp.Diff([]string{"eth0/10.0.0.2 02:00:00:00:00:02"}, neighs); d != "" {
		t.Errorf("permanent neighbours in a (-want +got):\n%s", d)
	}

	if v := sysctl(t, ns("r"), "net.ipv4.ip_forward"); v != "1" {
		t.Errorf("r ip_forward = %s, want 1", v)
	}
	if v := sysctl(t, ns("a"), "net.ipv4.conf.eth0.arp_ignore"); v != "1" {
		t.Errorf("a eth0 arp_ignore = %s, want 1", v)
	}
	if stp := ipJSON(t, ns("r"), "link", "show", "dev", "br0")[0]["linkinfo"].(map[string]any)["info_data"].(map[string]any)["stp_state"].(float64); stp != 0 {
		t.Errorf("br0 stp_state = %v, want 0", stp)
	}
}

// ftoa prints a JSON number (or string, for named protocols) as ip does.
func ftoa(v any) string {
	switch v := v.(type) {
	case float64:
		return itoa(int(v))
	case string:
		return v
	}
	return "?"
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestLock(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	ctx := context.Background()
	unlock, err := Lock(ctx, lab, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(ctx, lab, false, nil); !errors.Is(err, ErrLocked) {
		t.Errorf("second Lock without wait: %v, want ErrLocked", err)
	}
	unlock()
	unlock, err = Lock(ctx, lab, false, nil)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	unlock()
	if _, err := os.Stat(labDir(lab)); !os.IsNotExist(err) {
		t.Errorf("lab directory left after unlock of a lab without state: %v", err)
	}
}
