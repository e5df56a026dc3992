package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/kmod"
)

// The vSphere standard switch lab, and a locked port against a VM that
// changes its MAC by hand. Checked with bridge(8) and tc(8) as the
// independent eye.

var vswitchCase = labCase{
	inspect: func(t *testing.T, lab string) {
		ns := lab + "-esx"
		vlans := map[string][]string{}
		for _, p := range toolJSON(t, "bridge", ns, "vlan", "show") {
			name, _ := p["ifname"].(string)
			list, _ := p["vlans"].([]any)
			for _, v := range list {
				v, _ := v.(map[string]any)
				s := fmt.Sprint(v["vlan"])
				flags, _ := v["flags"].([]any)
				for _, f := range flags {
					s += " " + fmt.Sprint(f)
				}
				vlans[name] = append(vlans[name], s)
			}
		}
		for port, want := range map[string][]string{
			"web1": {"10 PVID Egress Untagged"}, "web2": {"10 PVID Egress Untagged"},
			"db1": {"20 PVID Egress Untagged"}, "db2": {"20 PVID Egress Untagged"},
			"router": {"10", "20"},
		} {
			if !slices.Equal(vlans[port], want) {
				t.Errorf("bridge -n %s vlan show: %s carries %v, want %v", ns, port, vlans[port], want)
			}
		}
		for _, p := range toolJSON(t, "bridge", ns, "-d", "link", "show") {
			name, _ := p["ifname"].(string)
			isolated, _ := p["isolated"].(bool)
			locked, _ := p["locked"].(bool)
			if isolated != strings.HasPrefix(name, "db") || locked != strings.HasPrefix(name, "web") {
				t.Errorf("bridge -n %s link show: %s isolated %v locked %v", ns, name, isolated, locked)
			}
		}
		if got := mirredTo(t, ns, "web1", "ingress"); !slices.Equal(got, []string{"ids"}) {
			t.Errorf("tc -n %s filter show dev web1 ingress: mirrors to %v, want ids", ns, got)
		}
		if got := mirredTo(t, ns, "db1", "ingress"); len(got) > 0 {
			t.Errorf("tc -n %s filter show dev db1 ingress: mirrors to %v, want nothing", ns, got)
		}
		tbf := false
		for _, q := range toolJSON(t, "tc", ns, "qdisc", "show", "dev", "web2") {
			tbf = tbf || q["kind"] == "tbf" && q["root"] == true
		}
		if !tbf {
			t.Errorf("tc -n %s qdisc show dev web2: no root tbf (the web group's shaping)", ns)
		}
	},
	ttl: map[string]int{"web1-to-web2": 64, "web1-to-db1": 63},
	// db1's port moved into VLAN 10 by hand: web1's ARP request reaches it
	breakIt: func(t *testing.T, lab string) {
		bridge(t, "-n", lab+"-esx", "vlan", "add", "dev", "db1", "vid", "10", "pvid", "untagged")
	},
	broken: "vlan10-cannot-see-vlan20",
	reason: []string{"(db1:eth0)", "want no answer"},
}

// missingFeatures is what the lab at path needs and the kernel lacks, ""
// when nothing.
func missingFeatures(t *testing.T, path string) string {
	t.Helper()
	l, err := compose.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := kmod.Check(context.Background(), l.Features(), nil).Err(); err != nil {
		return strings.ReplaceAll(err.Error(), "\n", "; ")
	}
	return ""
}

func bridge(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("bridge", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("bridge %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// toolJSON runs `TOOL -j -n NS ARGS...` (bridge, tc) and decodes its list.
func toolJSON(t *testing.T, tool, ns string, args ...string) []map[string]any {
	t.Helper()
	out, err := exec.Command(tool, append([]string{"-j", "-n", ns}, args...)...).Output()
	if err != nil {
		t.Fatalf("%s -j -n %s %s: %v", tool, ns, strings.Join(args, " "), err)
	}
	var v []map[string]any
	if len(bytes.TrimSpace(out)) > 0 {
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("%s -j -n %s %s: %v: %s", tool, ns, strings.Join(args, " "), err, out)
		}
	}
	return v
}

// mirredTo lists the devices the mirred actions of a port's filters in
// one direction copy to.
func mirredTo(t *testing.T, ns, dev, dir string) []string {
	t.Helper()
	var out []string
	for _, f := range toolJSON(t, "tc", ns, "filter", "show", "dev", dev, dir) {
		opts, _ := f["options"].(map[string]any)
		acts, _ := opts["actions"].([]any)
		for _, a := range acts {
			if a, _ := a.(map[string]any); a["kind"] == "mirred" {
				out = append(out, fmt.Sprint(a["to_dev"]))
			}
		}
	}
	return out
}

// staticMACs lists the MACs of the static FDB entries on a bridge port.
func staticMACs(t *testing.T, ns, port string) []string {
	t.Helper()
	var out []string
	for _, e := range toolJSON(t, "bridge", ns, "fdb", "show", "dev", port) {
		if _, copied := e["vlan"]; e["state"] == "static" && !copied {
			out = append(out, fmt.Sprint(e["mac"]))
		}
	}
	return out
}

const lockedLab = `[DEFAULT]
lab = @LAB@

[netns:sw]

[netns:a]
address.eth0 = 10.30.0.1/24
@MAC@

[netns:b]
address.eth0 = 10.30.0.2/24

[veth:a]
endpoints = a:eth0 sw:pa

[veth:b]
endpoints = b:eth0 sw:pb

[bridge:sw]
netns = sw
ifname = br0

[portgroup:vms]
bridge = sw
ports = pa pb
locked = on

[check:a-arp-b]
from = a
to = 10.30.0.2
protocol = arp

[check:a-to-b]
from = a
to = 10.30.0.2
`

// A VM that changes its MAC by hand is cut off by its locked port (vSS:
// forged transmits rejected), and gets its traffic back once the lab
// lists the new MAC: the port's static FDB entry follows the file.
func TestLockedPortCutsOffAChangedMAC(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	if _, err := exec.LookPath("bridge"); err != nil {
		t.Skip("needs iproute2's bridge for the independent checks")
	}
	t.Setenv("NO_COLOR", "1") // plans are read as text, on a terminal too
	b := make([]byte, 3)
	rand.Read(b)
	lab := "lk" + hex.EncodeToString(b)
	path := filepath.Join(t.TempDir(), "locked.ini")
	write := func(mac string) {
		text := strings.NewReplacer("@LAB@", lab, "@MAC@", mac).Replace(lockedLab)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("")
	if missing := missingFeatures(t, path); missing != "" {
		t.Skipf("kernel lacks what the lab needs: %s", missing)
	}
	t.Cleanup(func() { run([]string{"destroy", "--lab", lab}) })
	if code := run([]string{"apply", path}); code != 0 {
		t.Fatalf("apply: exit %d", code)
	}
	ns := lab + "-sw"
	derived := compose.DerivedMAC(lab, "a", "eth0")
	if got := staticMACs(t, ns, "pa"); !slices.Equal(got, []string{derived}) {
		t.Fatalf("bridge fdb show dev pa: static %v, want a's MAC %s", got, derived)
	}
	if results, code := testResults(t, path); code != 0 {
		t.Fatalf("test before the change: exit %d: %+v", code, results)
	}

	// a takes another MAC by hand: its frames no longer pass its port
	const forged = "02:00:00:00:ee:01"
	ip(t, "-n", lab+"-a", "link", "set", "dev", "eth0", "address", forged)
	results, code := testResults(t, path, "a-to-b")
	if code != 1 || len(results) != 1 || results[0].Pass {
		t.Fatalf("a-to-b with a forged MAC: exit %d, %+v; want it cut off", code, results)
	}
	if r := results[0].Reason; !strings.Contains(r, "no reply from 10.30.0.2") {
		t.Errorf("a-to-b with a forged MAC: reason %q", r)
	}

	// the lab lists the new MAC: the entry follows, the link is left be
	write("mac.eth0 = " + forged)
	var out, errOut bytes.Buffer
	if code := runTo(&out, &errOut, []string{"diff", path}); code != 0 {
		t.Fatalf("diff: exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"- brfdb sw pa " + derived, "+ brfdb sw pa " + forged, "Plan: 1 to add, 0 to change, 1 to destroy."} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("diff: no %q in\n%s", want, out.String())
		}
	}
	if code := run([]string{"apply", path}); code != 0 {
		t.Fatalf("apply with the new MAC: exit %d", code)
	}
	if got := staticMACs(t, ns, "pa"); !slices.Equal(got, []string{forged}) {
		t.Errorf("bridge fdb show dev pa: static %v, want %s", got, forged)
	}
	// a's ARP request, from its new MAC, passes the port and tells b
	for _, c := range []string{"a-arp-b", "a-to-b"} {
		if results, code := testResults(t, path, c); code != 0 {
			t.Errorf("%s once the lab lists the MAC: exit %d: %+v", c, code, results)
		}
	}
}
