package kernel

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/labdir"
	"github.com/netcompose/netcompose/internal/nsrun"
	"golang.org/x/sys/unix"
)

// The tests here prove the promises of the safety issue one by one: what
// a killed run leaves is recognised by the next one, a record proves
// ownership or authorises nothing, and rollback tells the truth.

// editRecord rewrites the lab's state record through f.
func editRecord(t *testing.T, lab string, f func(m map[string]any)) {
	t.Helper()
	b, err := os.ReadFile(recordPath(lab))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(recordPath(lab), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeJournal(t *testing.T, lab string, lines ...string) {
	t.Helper()
	d := labdir.MustFor(lab)
	if err := d.Make(); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(d.Journal(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		fmt.Fprintln(f, l)
	}
}

// userNamespace makes a namespace by hand, as a user would, removed at
// the end of the test if still there.
func userNamespace(t *testing.T, name string) {
	t.Helper()
	ip(t, "netns", "add", name)
	t.Cleanup(func() {
		if len(namespaces(t, name)) > 0 {
			exec0("ip", "netns", "del", name)
		}
	})
}

func exec0(name string, args ...string) { _ = exec.Command(name, args...).Run() }

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestRecordWithoutInodeAuthorisesNothing(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	if _, err := converge(lab, smallLab(), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	// A hand edit (or an older record) names b without its inode, and
	// names a node x the user then makes a namespace for.
	editRecord(t, lab, func(m map[string]any) {
		delete(m["inodes"].(map[string]any), "b")
		m["nodes"] = append(m["nodes"].([]any), "x")
	})
	userNamespace(t, compose.NamespaceName(lab, "x"))

	actual, err := Observe(t.Context(), lab, smallLab())
	if err != nil {
		t.Fatal(err)
	}
	p := compose.Diff(lab, smallLab(), actual)
	obs, err := Obstacles(p, false)
	if err != nil {
		t.Fatal(err)
	}
	var fe *ForeignError
	if len(obs) != 1 || !errors.As(obs[0], &fe) || !fe.Unproven || fe.Node != "b" {
		t.Fatalf("obstacles: %v, want b unproven", obs)
	}
	if _, err := Apply(t.Context(), p, ApplyOptions{}); !errors.As(err, &fe) {
		t.Fatalf("apply: %v, want a *ForeignError", err)
	}
	// Destroy deletes what the record proves, and neither b nor x.
	if err := destroy(lab); err != nil {
		t.Fatal(err)
	}
	want := []string{compose.NamespaceName(lab, "b"), compose.NamespaceName(lab, "x")}
	if got := namespaces(t, lab+"-"); !cmp.Equal(got, want) {
		t.Errorf("namespaces after destroy: %v, want %v", got, want)
	}
	// The way back for b is adopting it.
	if took, err := Adopt(lab, []string{"b"}); err != nil || !cmp.Equal(took, []string{"b"}) {
		t.Fatalf("adopt: %v %v", took, err)
	}
	if err := destroy(lab); err != nil {
		t.Fatal(err)
	}
	if got := namespaces(t, lab+"-"); !cmp.Equal(got, want[1:]) {
		t.Errorf("namespaces after adopt and destroy: %v, want %v", got, want[1:])
	}
}

func TestJournalOfAKilledCreate(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	two := []compose.Resource{res(compose.KindNetns, "a", ""), res(compose.KindNetns, "b", ""),
		veth("a-b", "a", "e0", "b", "e0", "1500")}
	compose.Sort(two)

	t.Run("placeholder of an announced namespace is ours", func(t *testing.T) {
		// A run killed between announcing a and mounting it: the journal
		// has the inode it would have had, /run/netns an empty file.
		writeJournal(t, lab, "ns a 4026531999")
		p := nsrun.Path(compose.NamespaceName(lab, "a"))
		if err := os.WriteFile(p, nil, 0o444); err != nil {
			t.Fatal(err)
		}
		if _, err := converge(lab, two, ApplyOptions{}); err != nil {
			t.Fatalf("apply after the killed run: %v", err)
		}
		if l := ipJSON(t, compose.NamespaceName(lab, "a"), "link", "show", "dev", "e0"); len(l) != 1 {
			t.Errorf("e0 in a: %v", l)
		}
	})

	t.Run("namespace mounted but not recorded is claimed by its inode", func(t *testing.T) {
		ns := compose.NamespaceName(lab, "c")
		if err := nsrun.Create(ns); err != nil {
			t.Fatal(err)
		}
		writeJournal(t, lab, fmt.Sprintf("ns c %d", inode(t, nsrun.Path(ns))))
		three := append([]compose.Resource{res(compose.KindNetns, "c", "")}, two...)
		compose.Sort(three)
		p, err := converge(lab, three, ApplyOptions{})
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
		if !p.Empty() {
			t.Errorf("plan: %v, want nothing: c is the lab's", planIDs(p))
		}
	})

	t.Run("unmarked link the journal announced is marked, not recreated", func(t *testing.T) {
		na, nb := compose.NamespaceName(lab, "a"), compose.NamespaceName(lab, "b")
		idx := ipJSON(t, na, "link", "show", "dev", "e0")[0]["ifindex"]
		ip(t, "-n", na, "link", "set", "dev", "e0", "alias", "")
		ip(t, "-n", nb, "link", "set", "dev", "e0", "alias", "")
		writeJournal(t, lab, "link a e0 veth a-b", "link b e0 veth a-b")
		if _, err := converge(lab, two, ApplyOptions{}); err != nil {
			t.Fatalf("apply: %v", err)
		}
		l := ipJSON(t, na, "link", "show", "dev", "e0")[0]
		if l["ifindex"] != idx || l["ifalias"] != "netcompose:"+lab+":veth:a-b" {
			t.Errorf("e0 after apply: index %v alias %v, want index %v and the lab's mark", l["ifindex"], l["ifalias"], idx)
		}
	})

	t.Run("a user's namespace with an announced name but another inode is left alone", func(t *testing.T) {
		writeJournal(t, lab, "ns u 1")
		userNamespace(t, compose.NamespaceName(lab, "u"))
		withU := append([]compose.Resource{res(compose.KindNetns, "u", "")}, two...)
		compose.Sort(withU)
		var fe *ForeignError
		if _, err := converge(lab, withU, ApplyOptions{}); !errors.As(err, &fe) {
			t.Fatalf("apply: %v, want a *ForeignError", err)
		}
		if err := destroy(lab); err != nil {
			t.Fatal(err)
		}
		if got, want := namespaces(t, lab+"-"), []string{compose.NamespaceName(lab, "u")}; !cmp.Equal(got, want) {
			t.Errorf("after destroy: %v, want %v", got, want)
		}
	})
}

func TestPlaceholderLeftByAKilledDestroy(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	if _, err := converge(lab, smallLab(), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	// Killed between unmount and unlink: an empty file where b was.
	p := nsrun.Path(compose.NamespaceName(lab, "b"))
	if err := unix.Unmount(p, unix.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	if err := destroy(lab); err != nil {
		t.Fatal(err)
	}
	if got := namespaces(t, lab+"-"); len(got) > 0 {
		t.Errorf("left after destroy: %v", got)
	}
	if _, err := os.Stat(labDir(lab)); !os.IsNotExist(err) {
		t.Errorf("lab directory left: %v", err)
	}
	// And a placeholder that is not the lab's is never removed.
	other := nsrun.Path(compose.NamespaceName(lab, "z"))
	if err := os.WriteFile(other, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(other) })
	withZ := append(smallLab(), res(compose.KindNetns, "z", ""))
	compose.Sort(withZ)
	if _, err := converge(lab, withZ, ApplyOptions{}); err == nil || !strings.Contains(err.Error(), other) {
		t.Errorf("apply over a foreign placeholder: %v, want an error naming %s", err, other)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("foreign placeholder removed: %v", err)
	}
}

func TestBadRecord(t *testing.T) {
	requireRoot(t)
	for _, body := range []string{"{", "null", "{}"} {
		t.Run(body, func(t *testing.T) {
			lab := newLab(t)
			if _, err := converge(lab, smallLab(), ApplyOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(recordPath(lab), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			labs, err := Labs()
			if err != nil {
				t.Fatalf("Labs with a bad record: %v", err)
			}
			found := false
			for _, l := range labs {
				found = found || l.Name == lab
			}
			if !found {
				t.Errorf("Labs leaves out %s", lab)
			}
			// Apply refuses the namespaces it cannot prove; adopting
			// takes them back, after which destroy removes them.
			if _, err := converge(lab, smallLab(), ApplyOptions{}); err == nil {
				t.Fatal("apply over a bad record succeeded")
			}
			if _, err := Adopt(lab, []string{"a", "b", "r"}); err != nil {
				t.Fatalf("adopt: %v", err)
			}
			if p, err := converge(lab, smallLab(), ApplyOptions{}); err != nil || !p.Empty() {
				t.Fatalf("apply after adopt: %v %v, want no changes", planIDs(p), err)
			}
			if err := destroy(lab); err != nil {
				t.Fatal(err)
			}
			if got := namespaces(t, lab+"-"); len(got) > 0 {
				t.Errorf("left after destroy: %v", got)
			}
		})
	}
}

func TestRollbackRestoresWhatTheKernelTookAlong(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	base := smallLab()
	if _, err := converge(lab, base, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	before := kernelDump(t, lab)
	// Moving b's address to another subnet flushes b's route via
	// 10.0.0.254; then a step fails.
	changed := without(base, "addr/b/eth0/10.0.0.2/24")
	changed = append(changed, res(compose.KindAddr, "b", "eth0/10.9.0.2/24"),
		res(compose.KindSysctl, "b", "net.ipv4.no_such_key", "value", "1"))
	compose.Sort(changed)
	_, err := converge(lab, changed, ApplyOptions{})
	var ae *ApplyError
	if !errors.As(err, &ae) {
		t.Fatalf("apply: %v, want an *ApplyError", err)
	}
	if ae.Rollback != nil || ae.Restored == 0 {
		t.Errorf("rollback: restored %d, error %v; want the flushed route restored", ae.Restored, ae.Rollback)
	}
	t.Logf("apply failed as it should: %v", err)
	if d := cmp.Diff(before, kernelDump(t, lab)); d != "" {
		t.Errorf("kernel after rollback (-before +after):\n%s", d)
	}
}

func TestUndoOfAnMTUChangeWhenTheEndsDiffered(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	base := smallLab()
	if _, err := converge(lab, base, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	ip(t, "-n", compose.NamespaceName(lab, "r"), "link", "set", "dev", "ra", "mtu", "1400")
	before := kernelDump(t, lab)
	changed := replaced(base, veth("a-r", "a", "eth0", "r", "ra", "1450"))
	changed = append(changed, res(compose.KindSysctl, "b", "net.ipv4.no_such_key", "value", "1"))
	compose.Sort(changed)
	_, err := converge(lab, changed, ApplyOptions{})
	var ae *ApplyError
	if !errors.As(err, &ae) || ae.Rollback != nil {
		t.Fatalf("apply: %v, want an *ApplyError with a clean rollback", err)
	}
	if d := cmp.Diff(before, kernelDump(t, lab)); d != "" {
		t.Errorf("kernel after rollback (-before +after):\n%s", d)
	}
}

func TestRollbackThatRecreatesANamespaceSaysSo(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	withC := append(smallLab(), res(compose.KindNetns, "c", ""))
	compose.Sort(withC)
	if _, err := converge(lab, withC, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	// The user keeps something of theirs in c; the next run deletes c and
	// then fails.
	ip(t, "-n", compose.NamespaceName(lab, "c"), "link", "add", "mine", "type", "veth", "peer", "name", "mine2")
	changed := append(smallLab(), res(compose.KindSysctl, "b", "net.ipv4.no_such_key", "value", "1"))
	compose.Sort(changed)
	_, err := converge(lab, changed, ApplyOptions{})
	var ae *ApplyError
	if !errors.As(err, &ae) {
		t.Fatalf("apply: %v, want an *ApplyError", err)
	}
	if len(ae.Recreated) != 1 || strings.Contains(err.Error(), "as it was before") {
		t.Errorf("error %q (recreated %v): must say that c was made anew, never that the lab is as it was", err, ae.Recreated)
	}
}

func TestRouteInTheWayIsRefusedBeforeAnyChange(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	base := smallLab()
	if _, err := converge(lab, base, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	na := compose.NamespaceName(lab, "a")
	ip(t, "-n", na, "route", "add", "203.0.113.0/24", "dev", "eth0")
	before := kernelDump(t, lab)
	changed := append(replaced(base, res(compose.KindSysctl, "r", "net.ipv4.ip_forward", "value", "0")),
		res(compose.KindRoute, "a", "203.0.113.0/24", "via", "10.0.0.254"))
	compose.Sort(changed)
	_, err := converge(lab, changed, ApplyOptions{})
	var rc *RouteConflictError
	if !errors.As(err, &rc) || rc.Node != "a" || !strings.Contains(err.Error(), "route del 203.0.113.0/24") {
		t.Fatalf("apply: %v, want a *RouteConflictError that says how to fix it", err)
	}
	if d := cmp.Diff(before, kernelDump(t, lab)); d != "" {
		t.Errorf("kernel changed by a refused apply (-before +after):\n%s", d)
	}
}

func TestLoSetDownIsDriftAndRepaired(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	desired := lowered(t, "[DEFAULT]\nlab = x\n[netns:a]\n")
	if _, err := converge(lab, desired, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	ns := compose.NamespaceName(lab, "a")
	ip(t, "-n", ns, "link", "set", "lo", "down")
	p, err := converge(lab, desired, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := planIDs(p); !cmp.Equal(got, []string{"update netns/a/"}) {
		t.Errorf("plan: %v, want lo's update", got)
	}
	if flags := ipJSON(t, ns, "link", "show", "lo")[0]["flags"]; !strings.Contains(fmt.Sprint(flags), "UP") {
		t.Errorf("lo after apply: %v, want UP", flags)
	}
}

func TestNamesThatAreNotLabNames(t *testing.T) {
	for _, key := range []string{"../x", "../../tmp/x", ".", "./", "x/..", "", "a@../b", "a@", "/etc"} {
		if _, err := loadRecord(key); !errors.Is(err, labdir.ErrBadName) {
			t.Errorf("loadRecord(%q): %v, want labdir.ErrBadName", key, err)
		}
		if _, err := Lock(t.Context(), key, false, nil); !errors.Is(err, labdir.ErrBadName) {
			t.Errorf("Lock(%q): %v, want labdir.ErrBadName", key, err)
		}
	}
	_ = filepath.Join
}

func TestAFailedCreateLeavesNoLink(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	nodes := []compose.Resource{res(compose.KindNetns, "a", ""), res(compose.KindNetns, "b", "")}
	if _, err := converge(lab, nodes, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	// The alias of a 300-byte veth name is over the kernel's limit: the
	// pair is made, then marking it fails. The step must take the pair
	// away (the namespaces stay: they were there before this run), or an
	// unmarked link would be in the way of every later run.
	long := strings.Repeat("x", 300)
	desired := append(slices.Clone(nodes), veth(long, "a", "e0", "b", "e0", "1500"))
	compose.Sort(desired)
	if _, err := converge(lab, desired, ApplyOptions{}); !isApplyError(err) {
		t.Fatalf("apply: %v, want an *ApplyError (alias too long)", err)
	}
	for _, n := range []string{"a", "b"} {
		if l := ipJSON(t, compose.NamespaceName(lab, n), "link", "show"); len(l) != 1 {
			t.Errorf("links in %s after the failed apply: %d, want only lo", n, len(l))
		}
	}
	ok := append(slices.Clone(nodes), veth("a-b", "a", "e0", "b", "e0", "1500"))
	compose.Sort(ok)
	if _, err := converge(lab, ok, ApplyOptions{}); err != nil {
		t.Fatalf("apply after: %v", err)
	}
}
