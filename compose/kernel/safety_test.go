package kernel

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/netcompose/netcompose/compose"
)

// kernelDump is what iproute2 says about the lab's namespaces, in a form
// that compares equal when nothing changed.
func kernelDump(t *testing.T, lab string) []string {
	t.Helper()
	out := namespaces(t, lab+"-")
	for _, ns := range out {
		for _, l := range ipJSON(t, ns, "link", "show") {
			alias, _ := l["ifalias"].(string)
			master, _ := l["master"].(string)
			// Only the admin state: carrier and operstate follow on
			// their own, after the kernel's link watch runs.
			up := slices.Contains(l["flags"].([]any), any("UP"))
			out = append(out, ns+" link "+l["ifname"].(string)+" idx "+ftoa(l["ifindex"])+" mtu "+ftoa(l["mtu"])+
				" alias "+alias+" master "+master+" up "+fmt.Sprint(up))
		}
		for _, l := range ipJSON(t, ns, "addr", "show") {
			for _, a := range l["addr_info"].([]any) {
				a := a.(map[string]any)
				if a["scope"] == "link" {
					continue // IPv6 link-local: the kernel's, once carrier is up
				}
				out = append(out, ns+" addr "+l["ifname"].(string)+" "+a["local"].(string)+"/"+ftoa(a["prefixlen"]))
			}
		}
		for _, fam := range []string{"-4", "-6"} {
			for _, r := range ipJSON(t, ns, fam, "route", "show", "table", "all") {
				gw, _ := r["gateway"].(string)
				dev, _ := r["dev"].(string)
				if dst := r["dst"].(string); strings.HasPrefix(dst, "fe80") || strings.HasPrefix(dst, "ff00") {
					continue // follow the link-local addresses
				}
				out = append(out, ns+" route "+r["dst"].(string)+" via "+gw+" dev "+dev+" proto "+ftoa(r["protocol"]))
			}
		}
		for _, n := range ipJSON(t, ns, "neigh", "show", "nud", "permanent") {
			mac, _ := n["lladdr"].(string)
			out = append(out, ns+" neigh "+n["dev"].(string)+" "+n["dst"].(string)+" "+mac)
		}
		out = append(out, ns+" ip_forward "+sysctl(t, ns, "net.ipv4.ip_forward"))
	}
	sort.Strings(out)
	return out
}

func TestRollback(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name   string
		change func([]compose.Resource) []compose.Resource
	}{
		{"route through a gateway on no interface", func(rs []compose.Resource) []compose.Resource {
			return append(rs, res(compose.KindRoute, "b", "203.0.113.0/24", "via", "192.0.2.1"))
		}},
		{"sysctl key that does not exist", func(rs []compose.Resource) []compose.Resource {
			return append(rs, res(compose.KindSysctl, "r", "net.ipv4.no_such_key", "value", "1"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lab := newLab(t)
			base := smallLab()
			if _, err := converge(lab, base, ApplyOptions{}); err != nil {
				t.Fatalf("apply: %v", err)
			}
			recBefore, err := os.ReadFile(recordPath(lab))
			if err != nil {
				t.Fatal(err)
			}
			before := kernelDump(t, lab)

			// Everything else changes too: a new node and link, an mtu,
			// a sysctl, a removed address, a removed neighbour.
			changed := replaced(base, veth("b-r", "b", "eth0", "r", "rb", "1400"))
			changed = replaced(changed, res(compose.KindSysctl, "r", "net.ipv4.ip_forward", "value", "0"))
			changed = without(changed, "addr/a/eth0/2001:db8::1/64")
			changed = without(changed, "neigh/a/eth0/10.0.0.2")
			changed = append(changed,
				res(compose.KindNetns, "c", ""),
				veth("c-r", "c", "eth0", "r", "rc", "1500"),
				res(compose.KindMaster, "r", "rc", "bridge", "br0"),
				res(compose.KindAddr, "c", "eth0/10.0.0.3/24"),
				res(compose.KindSysctl, "c", "net.ipv4.ip_forward", "value", "1"))
			changed = tt.change(changed)
			compose.Sort(changed)

			_, err = converge(lab, changed, ApplyOptions{})
			if !isApplyError(err) {
				t.Fatalf("apply: %v, want an *ApplyError", err)
			}
			t.Logf("apply failed as it should: %v", err)
			if d := cmp.Diff(before, kernelDump(t, lab)); d != "" {
				t.Errorf("kernel after rollback (-before +after):\n%s", d)
			}
			recAfter, err := os.ReadFile(recordPath(lab))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(string(recBefore), string(recAfter)); d != "" {
				t.Errorf("state record after rollback (-before +after):\n%s", d)
			}
		})
	}
}

func TestRollbackOfANewLabLeavesNothing(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	desired := append(smallLab(), res(compose.KindSysctl, "b", "net.ipv4.no_such_key", "value", "1"))
	compose.Sort(desired)
	if _, err := converge(lab, desired, ApplyOptions{}); !isApplyError(err) {
		t.Fatalf("apply: %v, want an *ApplyError", err)
	}
	if got := namespaces(t, lab+"-"); len(got) > 0 {
		t.Errorf("namespaces left: %v", got)
	}
	if _, err := os.Stat(labDir(lab)); !os.IsNotExist(err) {
		t.Errorf("state dir left: %v", err)
	}
}

// TestRollbackInARunOfNewNamespaces: a fresh lab's namespaces are made in
// one run on the creator's thread; a run stopped half way (here the
// context, cancelled from Progress after the second namespace) is rolled
// back like any other: the namespaces made go, and nothing of the lab is
// left.
func TestRollbackInARunOfNewNamespaces(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	p := planOf(t, lab, star(4))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var made []string
	_, err := Apply(ctx, p, ApplyOptions{Progress: func(done, total int, st compose.Step) {
		made = append(made, st.After.Node)
		if done == 2 {
			if got := namespaces(t, lab+"-"); len(got) != 2 {
				t.Errorf("namespaces after two steps: %v", got)
			}
			cancel()
		}
	}})
	var ae *ApplyError
	if !errors.As(err, &ae) || !errors.Is(err, context.Canceled) {
		t.Fatalf("apply: %v, want an *ApplyError of the cancelled context", err)
	}
	if ae.Undone != 2 || ae.Step.After.Kind != compose.KindNetns || len(made) != 2 {
		t.Errorf("stopped at %s after %v, undid %d; want the third namespace, after two, both undone", compose.Label(*ae.Step.After), made, ae.Undone)
	}
	if got := namespaces(t, lab+"-"); len(got) > 0 {
		t.Errorf("namespaces left: %v", got)
	}
	if _, err := os.Stat(labDir(lab)); !os.IsNotExist(err) {
		t.Errorf("state dir left: %v", err)
	}
}

func TestForeignNamespace(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	foreign := compose.NamespaceName(lab, "x")
	ip(t, "netns", "add", foreign)
	t.Cleanup(func() { ip(t, "netns", "del", foreign) })
	ip(t, "-n", foreign, "link", "add", "mine", "type", "veth", "peer", "name", "mine2")
	dump := func() string { return ip(t, "-n", foreign, "-o", "link", "show") }
	before := dump()

	desired := append(smallLab(), res(compose.KindNetns, "x", ""), res(compose.KindAddr, "x", "mine/192.0.2.1/24"))
	compose.Sort(desired)
	_, err := converge(lab, desired, ApplyOptions{})
	var fe *ForeignError
	if !errors.As(err, &fe) || fe.Namespace != foreign {
		t.Fatalf("apply with a foreign namespace: %v, want a *ForeignError naming %s", err, foreign)
	}
	if !strings.Contains(err.Error(), foreign) {
		t.Errorf("error %q does not name %s", err, foreign)
	}
	if got := namespaces(t, lab+"-"); !cmp.Equal(got, []string{foreign}) {
		t.Errorf("namespaces after refused apply: %v, want only the foreign one", got)
	}

	// The lab without x applies, and destroy leaves x alone.
	if _, err := converge(lab, smallLab(), ApplyOptions{}); err != nil {
		t.Fatalf("apply without x: %v", err)
	}
	if err := destroy(lab); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	if got := namespaces(t, lab+"-"); !cmp.Equal(got, []string{foreign}) {
		t.Errorf("namespaces after destroy: %v, want only the foreign one", got)
	}
	if d := cmp.Diff(before, dump()); d != "" {
		t.Errorf("foreign namespace changed (-before +after):\n%s", d)
	}
}

func TestAdopt(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	ns := compose.NamespaceName(lab, "x")
	ip(t, "netns", "add", ns)
	t.Cleanup(func() {
		if len(namespaces(t, ns)) > 0 {
			ip(t, "netns", "del", ns)
		}
	})
	desired := []compose.Resource{res(compose.KindNetns, "x", ""), res(compose.KindNetns, "y", ""),
		veth("x-y", "x", "e0", "y", "e0", "1500")}
	if _, err := converge(lab, desired, ApplyOptions{Adopt: true}); err != nil {
		t.Fatalf("apply with adopt: %v", err)
	}
	if l := ipJSON(t, ns, "link", "show", "dev", "e0"); len(l) != 1 {
		t.Errorf("e0 in the adopted namespace: %v", l)
	}
	if err := destroy(lab); err != nil {
		t.Fatal(err)
	}
	if got := namespaces(t, lab+"-"); len(got) > 0 {
		t.Errorf("adopted namespaces left after destroy: %v", got)
	}
}

func TestInspectAndExec(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	if _, err := converge(lab, smallLab(), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := Inspect(context.Background(), lab)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range st {
		for _, i := range n.Interfaces {
			got = append(got, n.Node+"/"+i.Name+" "+i.Kind+" "+strings.Join(i.Addresses, ","))
		}
	}
	want := []string{
		"a/lo device 127.0.0.1/8,::1/128", "a/eth0 veth", "a/s0 veth",
		"b/lo device 127.0.0.1/8,::1/128", "b/eth0 veth 10.0.0.2/24", "b/s0 veth",
		"r/lo device 127.0.0.1/8,::1/128", "r/ra veth", "r/rb veth", "r/br0 bridge 10.0.0.254/24",
	}
	// Link-local IPv6 addresses and the order of addresses are the
	// kernel's business: compare only the start of each line.
	for i := range got {
		if i < len(want) && strings.HasPrefix(got[i], want[i]) {
			got[i] = want[i]
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Inspect interfaces (-want +got):\n%s", d)
	}

	var out strings.Builder
	code, err := Exec(context.Background(), lab, "r", []string{"ip", "-o", "addr", "show", "dev", "br0"}, Stdio{Out: &out, Err: &out})
	if err != nil || code != 0 || !strings.Contains(out.String(), "10.0.0.254/24") {
		t.Errorf("ip addr in r: code %d, err %v, output:\n%s", code, err, out.String())
	}
	code, err = Exec(context.Background(), lab, "a", []string{"sh", "-c", "exit 3"}, Stdio{})
	if err != nil || code != 3 {
		t.Errorf("exit code: %d, %v; want 3", code, err)
	}
}
