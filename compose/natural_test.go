package compose

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCompareNatural(t *testing.T) {
	sorted := []string{
		"", "a", "a-b", "a/x", "h01", "h1", "h2", "h9", "h10", "h10a", "h10b", "h11", "h100",
		"l2/eth0", "l10/eth0", "x9y2", "x9y10", "x10y1",
	}
	for i := 0; i < 20; i++ {
		got := slices.Clone(sorted)
		rand.Shuffle(len(got), func(i, j int) { got[i], got[j] = got[j], got[i] })
		slices.SortFunc(got, compareNatural)
		if d := cmp.Diff(sorted, got); d != "" {
			t.Fatalf("natural order (-want +got):\n%s", d)
		}
	}
	for _, a := range sorted {
		for _, b := range sorted {
			if (compareNatural(a, b) == 0) != (a == b) {
				t.Errorf("compareNatural(%q, %q) = %d: only equal names compare equal", a, b, compareNatural(a, b))
			}
			if compareNatural(a, b) != -compareNatural(b, a) {
				t.Errorf("compareNatural(%q, %q) is not antisymmetric", a, b)
			}
		}
	}
}

// A plan lists the changes of a kind by name as people count them (h2
// before h10, 10.0.0.9 before 10.0.0.10), whatever order the resources
// come in, and prints them so.
func TestPlanNaturalOrder(t *testing.T) {
	var desired []Resource
	for _, n := range []string{"h10", "h2", "h1", "h100", "h9"} {
		desired = append(desired,
			Resource{Kind: KindNetns, Node: n},
			Resource{Kind: KindAddr, Node: "h1", Name: "eth0/10.0.0." + strings.TrimPrefix(n, "h") + "/24"})
	}
	want := []string{
		"+ netns/h1/", "+ netns/h2/", "+ netns/h9/", "+ netns/h10/", "+ netns/h100/",
		"+ addr/h1/eth0/10.0.0.1/24", "+ addr/h1/eth0/10.0.0.2/24", "+ addr/h1/eth0/10.0.0.9/24",
		"+ addr/h1/eth0/10.0.0.10/24", "+ addr/h1/eth0/10.0.0.100/24",
	}
	for i := 0; i < 10; i++ {
		rand.Shuffle(len(desired), func(i, j int) { desired[i], desired[j] = desired[j], desired[i] })
		if d := cmp.Diff(want, summary(Diff("l", desired, nil))); d != "" {
			t.Fatalf("plan order (-want +got):\n%s", d)
		}
	}
	var b strings.Builder
	if err := WritePlan(&b, Diff("l", desired, nil), false); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(l, "  + netns") {
			lines = append(lines, l)
		}
	}
	if d := cmp.Diff([]string{"  + netns h1", "  + netns h2", "  + netns h9", "  + netns h10", "  + netns h100"}, lines); d != "" {
		t.Errorf("printed plan (-want +got):\n%s", d)
	}
}
