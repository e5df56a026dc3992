package kernel

import (
	"context"
	"os"
	"slices"
	"testing"

	"github.com/netcompose/netcompose/compose"
)

// TestNewNamespacesBesideTheSteps: a fresh lab's namespaces, made partly by
// the run's pool (nsrun.Pool) beside the steps, are each a namespace of
// their own, mounted under the node's name with lo up, as `ip` sees them;
// the namespaces are the record's, and the run leaves no descriptor open.
func TestNewNamespacesBesideTheSteps(t *testing.T) {
	requireRoot(t)
	openFDs := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	const leaves = 6
	// Two threads make the namespaces side by side, and which makes
	// which is the scheduler's business: give the pool three labs to be
	// seen making one.
	for try := 1; ; try++ {
		lab := newLab(t)
		before := openFDs()
		res, err := Apply(context.Background(), planOf(t, lab, star(leaves)), ApplyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := openFDs(); got != before {
			t.Errorf("%d descriptors open after apply, %d before", got, before)
		}
		rec, err := loadRecord(lab)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[uint64]string{}
		for _, node := range append([]string{"hub"}, "l0", "l1", "l2", "l3", "l4", "l5") {
			ns := compose.NamespaceName(lab, node)
			ino, ok := namespaceInode(lab, node)
			if !ok || seen[ino] != "" || rec.Inodes[node] != ino {
				t.Errorf("%s: inode %d (mounted %v, recorded %d, also %q's)", ns, ino, ok, rec.Inodes[node], seen[ino])
			}
			seen[ino] = node
			lo := ipJSON(t, ns, "link", "show", "lo")
			var flags []any
			if len(lo) == 1 {
				flags, _ = lo[0]["flags"].([]any)
			}
			if !slices.Contains(flags, any("UP")) {
				t.Errorf("%s: lo is %v, want UP", ns, lo)
			}
		}
		if err := destroy(lab); err != nil {
			t.Fatal(err)
		}
		if res.spared > 0 {
			t.Logf("try %d: the pool made %d of %d namespaces", try, res.spared, leaves+1)
			return
		}
		if try == 3 {
			t.Fatalf("the pool made none of %d namespaces in %d labs", leaves+1, try)
		}
	}
}
