package kernel

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/netcompose/netcompose/compose"
)

// TestNeighboursAreLookedForWhereTheLabPutsThem: static neighbours are
// dumped only in the nodes where the lab has or wants some (a neighbour
// dump walks the table of every namespace on the machine). There the lab
// owns its links whole: an entry made by hand is planned away, and so is
// the lab's own once the file drops it. Elsewhere an entry made by hand is
// not looked at. A record written before this rule (no format) has every
// node looked at.
func TestNeighboursAreLookedForWhereTheLabPutsThem(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	ns := func(node string) string { return compose.NamespaceName(lab, node) }
	desired := smallLab() // a static neighbour in a, none in b
	if _, err := converge(lab, desired, ApplyOptions{}); err != nil {
		t.Fatalf("apply: %v", err)
	}
	ip(t, "-n", ns("a"), "neigh", "add", "10.0.0.9", "lladdr", "02:00:00:00:00:09", "dev", "eth0", "nud", "permanent")
	ip(t, "-n", ns("b"), "neigh", "add", "10.0.0.9", "lladdr", "02:00:00:00:00:09", "dev", "eth0", "nud", "permanent")
	neighPlan := func(desired []compose.Resource) []string {
		t.Helper()
		actual, err := Observe(context.Background(), lab, desired)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, id := range planIDs(compose.Diff(lab, desired, actual)) {
			if strings.Contains(id, "neigh") {
				out = append(out, id)
			}
		}
		return out
	}
	aByHand := "delete neigh/a/eth0/10.0.0.9"
	if got := neighPlan(desired); !slices.Equal(got, []string{aByHand}) {
		t.Errorf("plan for neighbours = %q, want only %q (b's entry is not looked at)", got, aByHand)
	}

	// Dropped from the file: the lab still looks in a, where it put one.
	noNeigh := slices.DeleteFunc(slices.Clone(desired), func(r compose.Resource) bool { return r.Kind == compose.KindNeigh })
	if got, want := neighPlan(noNeigh), []string{"delete neigh/a/eth0/10.0.0.2", aByHand}; !slices.Equal(got, want) {
		t.Errorf("plan without the file's neighbour = %q, want %q", got, want)
	}

	// A record from before: no format, no neighbour dumps.
	b, err := os.ReadFile(recordPath(lab))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	delete(raw, "format")
	delete(raw, "dumps")
	if b, err = json.Marshal(raw); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(recordPath(lab), b, 0o644); err != nil {
		t.Fatal(err)
	}
	bByHand := "delete neigh/b/eth0/10.0.0.9"
	if got := neighPlan(desired); !slices.Equal(got, []string{aByHand, bByHand}) {
		t.Errorf("plan for neighbours under an old record = %q, want %q", got, []string{aByHand, bByHand})
	}
}

// TestAdoptedNodesAreLookedAtForNeighbours: after a lost record, the
// namespaces taken back have every static neighbour on the lab's links
// looked at, wherever the file puts its own.
func TestAdoptedNodesAreLookedAtForNeighbours(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	desired := smallLab() // a static neighbour in a, none in b
	if _, err := converge(lab, desired, ApplyOptions{}); err != nil {
		t.Fatalf("apply: %v", err)
	}
	ip(t, "-n", compose.NamespaceName(lab, "b"), "neigh", "add", "10.0.0.9", "lladdr", "02:00:00:00:00:09", "dev", "eth0", "nud", "permanent")
	if err := os.Remove(recordPath(lab)); err != nil {
		t.Fatal(err)
	}
	if took, err := Adopt(lab, []string{"a", "b", "r"}); err != nil || len(took) != 3 {
		t.Fatalf("adopt: %v %v", took, err)
	}
	actual, err := Observe(context.Background(), lab, desired)
	if err != nil {
		t.Fatal(err)
	}
	want := "delete neigh/b/eth0/10.0.0.9"
	if got := planIDs(compose.Diff(lab, desired, actual)); !slices.Contains(got, want) {
		t.Errorf("plan after adopting = %q, want it to hold %q", got, want)
	}
}
