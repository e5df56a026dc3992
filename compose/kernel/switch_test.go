package kernel

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/kmod"
)

// The kinds of a port group — brport, brfdb, mirror, brvlan — and VLAN
// sub-interfaces, against the real kernel, checked with `bridge -j` and
// `tc -j` as an independent eye.

// needFeature skips the test when the kernel lacks a feature, naming it.
func needFeature(t *testing.T, features ...string) {
	t.Helper()
	for _, f := range features {
		need := kmod.Features[f].Needs
		for _, n := range need {
			if n.Probe == "" {
				continue
			}
			if err := kmod.Probe(context.Background(), n.Probe); err != nil {
				t.Skipf("kernel lacks %s (%s): %v", f, kmod.Features[f].Why, err)
			}
		}
	}
}

// toolJSON runs a command of iproute2 (bridge, tc) inside namespace ns
// with -j and decodes the list it prints.
func toolJSON(t *testing.T, ns, tool string, args ...string) []map[string]any {
	t.Helper()
	out, err := exec.Command(tool, append([]string{"-j", "-n", ns}, args...)...).Output()
	if err != nil {
		t.Fatalf("%s -j -n %s %s: %v", tool, ns, strings.Join(args, " "), err)
	}
	var v []map[string]any
	if s := strings.TrimSpace(string(out)); s != "" {
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("%s -j -n %s %s: %v\n%s", tool, ns, strings.Join(args, " "), err, out)
		}
	}
	return v
}

// portFlags is `bridge -j -d link show` of a switch: port -> flag -> on.
func portFlags(t *testing.T, ns string) map[string]map[string]bool {
	t.Helper()
	out := map[string]map[string]bool{}
	for _, p := range toolJSON(t, ns, "bridge", "-d", "link", "show") {
		name, _ := p["ifname"].(string)
		out[name] = map[string]bool{}
		for _, f := range []string{"isolated", "learning", "flood", "locked", "neigh_suppress"} {
			v, _ := p[f].(bool)
			out[name][f] = v
		}
	}
	return out
}

// staticFDB is `bridge -j fdb show` of a switch that does not filter
// VLANs: the static entries, as "PORT MAC". A kernel with VLAN support
// copies an entry added without a VLAN into each VLAN of the port (VLAN
// 1 at least), which such a bridge never looks at: the copies are left
// out.
func staticFDB(t *testing.T, ns string) []string {
	t.Helper()
	var out []string
	for _, e := range toolJSON(t, ns, "bridge", "fdb", "show") {
		flags, _ := e["flags"].([]any)
		if e["state"] != "static" || slices.Contains(flags, any("self")) {
			continue
		}
		if _, copied := e["vlan"]; copied {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s", e["ifname"], e["mac"]))
	}
	slices.Sort(out)
	return out
}

// mirrors is `tc -j filter show` of a port's direction: "pref N -> DEV"
// for each filter with a mirred action.
func mirrors(t *testing.T, ns, dev, dir string) []string {
	t.Helper()
	var out []string
	for _, f := range toolJSON(t, ns, "tc", "filter", "show", "dev", dev, dir) {
		opts, _ := f["options"].(map[string]any)
		acts, _ := opts["actions"].([]any)
		for _, a := range acts {
			a, _ := a.(map[string]any)
			if a["kind"] == "mirred" {
				out = append(out, fmt.Sprintf("pref %v %v %v -> %v", f["pref"], a["mirred_action"], a["direction"], a["to_dev"]))
			}
		}
	}
	return out
}

const switchLab = `
[DEFAULT]
lab = @LAB@

[netns:sw]
[netns:a]
[netns:b]
[netns:c]
[netns:ids]

[veth:a]
endpoints = a:eth0 sw:pa
[veth:b]
endpoints = b:eth0 sw:pb
[veth:c]
endpoints = c:eth0 sw:pc
[veth:ids]
endpoints = ids:eth0 sw:mon
[veth:ids2]
endpoints = ids:eth1 sw:mon2

[bridge:sw]
netns = sw
ifname = br0
`

func TestPortSecurityFlagsAndStaticFDB(t *testing.T) {
	requireRoot(t)
	needFeature(t, "bridge_isolated", "bridge_locked", "bridge_neigh_suppress")
	lab := newLab(t)
	ns := lab + "-sw"
	groups := `
[portgroup:guarded]
bridge = sw
ports = pa pb
locked = on
learning = off
allow.pb = 02:00:00:00:00:bb

[portgroup:private]
bridge = sw
ports = pc
isolated = on
flood = off
neigh_suppress = on
`
	applyFile(t, lab, strings.ReplaceAll(switchLab+groups, "@LAB@", lab))

	got := portFlags(t, ns)
	want := map[string]map[string]bool{
		"pa": {"locked": true, "learning": false, "flood": true},
		"pb": {"locked": true, "learning": false, "flood": true},
		"pc": {"isolated": true, "learning": true, "neigh_suppress": true},
	}
	for port, flags := range want {
		for _, f := range []string{"isolated", "learning", "flood", "locked", "neigh_suppress"} {
			if got[port][f] != flags[f] {
				t.Errorf("bridge link show: %s %s = %v, want %v", port, f, got[port][f], flags[f])
			}
		}
	}
	// the locked ports let through their peers' MACs, pb also the listed one
	macA := compose.DerivedMAC(lab, "a", "eth0")
	macB := compose.DerivedMAC(lab, "b", "eth0")
	wantFDB := []string{"pa " + macA, "pb 02:00:00:00:00:bb", "pb " + macB}
	slices.Sort(wantFDB)
	if d := cmp.Diff(wantFDB, staticFDB(t, ns)); d != "" {
		t.Errorf("bridge fdb show, static entries (-want +got):\n%s", d)
	}

	// drift by hand: a flag off, an entry gone, a stranger's entry
	for _, args := range [][]string{
		{"link", "set", "dev", "pc", "isolated", "off"},
		{"fdb", "del", macA, "dev", "pa", "master", "static"},
		{"fdb", "add", "02:00:00:00:00:ee", "dev", "pc", "master", "static"},
	} {
		if out, err := exec.Command("bridge", append([]string{"-n", ns}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("bridge %v: %v %s", args, err, out)
		}
	}
	desired := lowered(t, strings.ReplaceAll(switchLab+groups, "@LAB@", lab))
	actual, err := Observe(context.Background(), lab, desired)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, c := range compose.Diff(lab, desired, actual).Changes {
		lines = append(lines, c.Line())
	}
	wantLines := []string{
		"~ brport sw pc  isolated: off → on",
		"+ brfdb sw pa " + macA,
		"- brfdb sw pc 02:00:00:00:00:ee",
	}
	if d := cmp.Diff(wantLines, lines); d != "" {
		t.Errorf("plan after drift (-want +got):\n%s", d)
	}
	applyFile(t, lab, strings.ReplaceAll(switchLab+groups, "@LAB@", lab))
	if !portFlags(t, ns)["pc"]["isolated"] {
		t.Error("pc not isolated again after apply")
	}
	if d := cmp.Diff(wantFDB, staticFDB(t, ns)); d != "" {
		t.Errorf("bridge fdb show after repair (-want +got):\n%s", d)
	}

	// the groups leave the file: the ports stay, plain ports again
	plain := strings.Replace(switchLab, "ifname = br0\n", "ifname = br0\nports = pa pb pc\n", 1)
	applyFile(t, lab, strings.ReplaceAll(plain, "@LAB@", lab))
	for port, flags := range portFlags(t, ns) {
		if flags["isolated"] || flags["locked"] || flags["neigh_suppress"] || !flags["learning"] || !flags["flood"] {
			t.Errorf("bridge link show: %s keeps flags %v after its group left the file", port, flags)
		}
	}
	if got := staticFDB(t, ns); len(got) > 0 {
		t.Errorf("bridge fdb show: static entries left: %v", got)
	}
}

func TestMirrorFilters(t *testing.T) {
	requireRoot(t)
	needFeature(t, "tc_mirred")
	lab := newLab(t)
	ns := lab + "-sw"
	group := func(to, dir string) string {
		return strings.ReplaceAll(switchLab, "@LAB@", lab) + fmt.Sprintf(`
[portgroup:watched]
bridge = sw
ports = pa pb
mirror = %s
mirror_direction = %s
`, to, dir)
	}
	applyFile(t, lab, group("mon", "both"))
	for _, port := range []string{"pa", "pb"} {
		if d := cmp.Diff([]string{"pref 78 mirror egress -> mon"}, mirrors(t, ns, port, "ingress")); d != "" {
			t.Errorf("tc filter show dev %s ingress (-want +got):\n%s", port, d)
		}
		if d := cmp.Diff([]string{"pref 79 mirror egress -> mon"}, mirrors(t, ns, port, "egress")); d != "" {
			t.Errorf("tc filter show dev %s egress (-want +got):\n%s", port, d)
		}
	}
	if got := mirrors(t, ns, "pc", "ingress"); len(got) > 0 {
		t.Errorf("pc is in no group, yet mirrored: %v", got)
	}

	// another monitor, ingress only: a change in place, and a delete
	p := applyFile(t, lab, group("mon2", "ingress"))
	wantPlan := []string{"delete mirror/sw/pa/egress", "delete mirror/sw/pb/egress", "update mirror/sw/pa/ingress", "update mirror/sw/pb/ingress"}
	if d := cmp.Diff(wantPlan, planIDs(p)); d != "" {
		t.Errorf("plan (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"pref 78 mirror egress -> mon2"}, mirrors(t, ns, "pa", "ingress")); d != "" {
		t.Errorf("tc filter show dev pa ingress (-want +got):\n%s", d)
	}
	if got := mirrors(t, ns, "pa", "egress"); len(got) > 0 {
		t.Errorf("tc filter show dev pa egress: %v, want none", got)
	}

	// removed by hand: drift, put back
	if out, err := exec.Command("tc", "-n", ns, "filter", "del", "dev", "pb", "ingress", "pref", "78").CombinedOutput(); err != nil {
		t.Fatalf("tc filter del: %v %s", err, out)
	}
	p = applyFile(t, lab, group("mon2", "ingress"))
	if d := cmp.Diff([]string{"create mirror/sw/pb/ingress"}, planIDs(p)); d != "" {
		t.Errorf("plan after a filter was deleted by hand (-want +got):\n%s", d)
	}

	// the group leaves the file: its filters go
	applyFile(t, lab, strings.ReplaceAll(switchLab, "@LAB@", lab))
	for _, port := range []string{"pa", "pb"} {
		if got := mirrors(t, ns, port, "ingress"); len(got) > 0 {
			t.Errorf("tc filter show dev %s ingress after the group left: %v", port, got)
		}
	}
}

const vlanLab = `
[DEFAULT]
lab = @LAB@

[netns:sw]
[netns:a]
address.eth0 = 10.10.0.1/24
[netns:b]
address.eth0 = 10.10.0.2/24
[netns:r]
vlan = eth0.10 eth0.20
address.eth0.10 = 10.10.0.254/24
address.eth0.20 = 10.20.0.254/24

[veth:a]
endpoints = a:eth0 sw:pa
[veth:b]
endpoints = b:eth0 sw:pb
[veth:r]
endpoints = r:eth0 sw:pr

[bridge:sw]
netns = sw
ifname = br0
vlan_filtering = on

[portgroup:ten]
bridge = sw
ports = pa
vlan = 10

[portgroup:other]
bridge = sw
ports = pb
vlan = @VLAN@

[portgroup:trunk]
bridge = sw
ports = pr
trunk = 10 20
`

// vlanView is `bridge -j vlan show` of a switch: port -> "VID[ PVID][ Egress Untagged]"...
func vlanView(t *testing.T, ns string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, p := range toolJSON(t, ns, "bridge", "vlan", "show") {
		name, _ := p["ifname"].(string)
		vlans, _ := p["vlans"].([]any)
		for _, v := range vlans {
			v, _ := v.(map[string]any)
			s := fmt.Sprint(v["vlan"])
			flags, _ := v["flags"].([]any)
			for _, f := range flags {
				s += " " + fmt.Sprint(f)
			}
			out[name] = append(out[name], s)
		}
	}
	return out
}

func TestBridgeVlans(t *testing.T) {
	requireRoot(t)
	needFeature(t, "bridge_vlan", "vlan")
	lab := newLab(t)
	ns := lab + "-sw"
	file := func(vid string) string {
		return strings.NewReplacer("@LAB@", lab, "@VLAN@", vid).Replace(vlanLab)
	}
	applyFile(t, lab, file("10"))
	want := map[string][]string{
		"pa":  {"10 PVID Egress Untagged"},
		"pb":  {"10 PVID Egress Untagged"},
		"pr":  {"10", "20"},
		"br0": {"1 PVID Egress Untagged"},
	}
	if d := cmp.Diff(want, vlanView(t, ns)); d != "" {
		t.Errorf("bridge vlan show (-want +got):\n%s", d)
	}
	for _, l := range ipJSON(t, lab+"-r", "link", "show", "eth0.20") {
		info, _ := l["linkinfo"].(map[string]any)
		data, _ := info["info_data"].(map[string]any)
		if data["protocol"] != "802.1Q" || data["id"] != float64(20) {
			t.Errorf("ip -d link show eth0.20: %v, want an 802.1Q vlan 20", data)
		}
	}

	// moved to VLAN 20 by hand: drift, in plan words, then put back
	for _, args := range [][]string{
		{"vlan", "add", "dev", "pb", "vid", "20", "pvid", "untagged"},
		{"vlan", "del", "dev", "pb", "vid", "10"},
	} {
		if out, err := exec.Command("bridge", append([]string{"-n", ns}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("bridge %v: %v %s", args, err, out)
		}
	}
	desired := lowered(t, file("10"))
	actual, err := Observe(context.Background(), lab, desired)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, c := range compose.Diff(lab, desired, actual).Changes {
		lines = append(lines, c.Line())
	}
	if d := cmp.Diff([]string{"~ brvlan sw pb  pvid: 20 → 10, untagged: 20 → 10"}, lines); d != "" {
		t.Errorf("plan after drift (-want +got):\n%s", d)
	}
	applyFile(t, lab, file("10"))
	if d := cmp.Diff(want, vlanView(t, ns)); d != "" {
		t.Errorf("bridge vlan show after repair (-want +got):\n%s", d)
	}

	// the file moves pb to VLAN 20: a change in place
	p := applyFile(t, lab, file("20"))
	if d := cmp.Diff([]string{"update brvlan/sw/pb"}, planIDs(p)); d != "" {
		t.Errorf("plan (-want +got):\n%s", d)
	}
	want["pb"] = []string{"20 PVID Egress Untagged"}
	if d := cmp.Diff(want, vlanView(t, ns)); d != "" {
		t.Errorf("bridge vlan show (-want +got):\n%s", d)
	}
}

// A run that fails after it changed a port group's flags, entries and
// mirrors puts them all back.
func TestPortGroupChangeRollsBack(t *testing.T) {
	requireRoot(t)
	needFeature(t, "bridge_isolated", "bridge_locked", "tc_mirred")
	lab := newLab(t)
	ns := lab + "-sw"
	file := func(policy string) string {
		return strings.ReplaceAll(switchLab, "@LAB@", lab) + "\n[portgroup:g]\nbridge = sw\nports = pa pb\n" + policy
	}
	applyFile(t, lab, file("locked = on\nmirror = mon\n"))
	flags, fdb := portFlags(t, ns), staticFDB(t, ns)
	mirrored := mirrors(t, ns, "pa", "ingress")

	desired := append(lowered(t, file("isolated = on\nmirror = mon2\n")),
		// a gateway no interface reaches: the route's create fails, and
		// routes come after every kind of a port group
		res(compose.KindRoute, "a", "198.51.100.0/24", "via", "203.0.113.1", "dev", "eth0"))
	compose.Sort(desired)
	p, err := converge(lab, desired, ApplyOptions{})
	if !isApplyError(err) {
		t.Fatalf("apply with an unreachable gateway: %v, want an ApplyError", err)
	}
	if len(planIDs(p)) < 5 {
		t.Fatalf("plan too small to prove anything: %v", planIDs(p))
	}
	if d := cmp.Diff(flags, portFlags(t, ns)); d != "" {
		t.Errorf("port flags after rollback (-before +after):\n%s", d)
	}
	if d := cmp.Diff(fdb, staticFDB(t, ns)); d != "" {
		t.Errorf("static FDB after rollback (-before +after):\n%s", d)
	}
	if d := cmp.Diff(mirrored, mirrors(t, ns, "pa", "ingress")); d != "" {
		t.Errorf("mirror of pa after rollback (-before +after):\n%s", d)
	}
}

// VLAN sub-interfaces, QinQ included: created over their parents, read
// back with `ip -d link`, and recreated when a parent goes by hand.
func TestVlanSubinterfaces(t *testing.T) {
	requireRoot(t)
	needFeature(t, "vlan")
	lab := newLab(t)
	file := strings.ReplaceAll(`
[DEFAULT]
lab = @LAB@
[netns:a]
svlan = eth0.100
vlan = eth0.100.10 eth0.20
address.eth0.100.10 = 10.50.0.1/24
mac.eth0.20 = 02:00:00:00:20:20
[netns:b]
[veth:ab]
endpoints = a:eth0 b:eth0
`, "@LAB@", lab)
	applyFile(t, lab, file)
	want := map[string]string{"eth0.100": "802.1ad 100 eth0", "eth0.100.10": "802.1Q 10 eth0.100", "eth0.20": "802.1Q 20 eth0"}
	view := func() map[string]string {
		out := map[string]string{}
		for _, l := range ipJSON(t, lab+"-a", "link", "show", "type", "vlan") {
			info, _ := l["linkinfo"].(map[string]any)
			data, _ := info["info_data"].(map[string]any)
			out[fmt.Sprint(l["ifname"])] = fmt.Sprintf("%v %v %v", data["protocol"], data["id"], l["link"])
		}
		return out
	}
	if d := cmp.Diff(want, view()); d != "" {
		t.Errorf("ip -d link show type vlan (-want +got):\n%s", d)
	}
	mac20 := ipJSON(t, lab+"-a", "link", "show", "eth0.20")[0]["address"]
	mac0 := ipJSON(t, lab+"-a", "link", "show", "eth0")[0]["address"]
	mac10 := ipJSON(t, lab+"-a", "link", "show", "eth0.100.10")[0]["address"]
	if mac20 != "02:00:00:00:20:20" || mac10 != mac0 {
		t.Errorf("MACs: eth0.20 %v (want its mac.IF), eth0.100.10 %v (want its parent's, %v)", mac20, mac10, mac0)
	}

	// the outer VLAN deleted by hand takes the inner one along: both
	// come back, with the address
	ip(t, "-n", lab+"-a", "link", "del", "eth0.100")
	p := applyFile(t, lab, file)
	if d := cmp.Diff([]string{"create addr/a/eth0.100.10/10.50.0.1/24", "create vlan/a/eth0.100", "create vlan/a/eth0.100.10"}, planIDs(p)); d != "" {
		t.Errorf("plan after eth0.100 was deleted (-want +got):\n%s", d)
	}
	if d := cmp.Diff(want, view()); d != "" {
		t.Errorf("ip -d link show type vlan after repair (-want +got):\n%s", d)
	}
}
