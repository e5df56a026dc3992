package compose

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netcompose/netcompose/loader"
)

// loadFile loads path with the real loader.
func loadFile(t *testing.T, path string) *loader.File {
	t.Helper()
	f, err := loader.Load(path)
	if err != nil {
		t.Fatalf("load %s:\n%v", path, err)
	}
	return f
}

// Every shipped lab validates, lowers to resources, and each node it
// declares ends up as a namespace resource.
func TestShippedLabs(t *testing.T) {
	paths, err := filepath.Glob("../topologies/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 6 {
		t.Fatalf("want at least 6 shipped labs, found %d", len(paths))
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			lab, err := Build(loadFile(t, p))
			if err != nil {
				t.Fatalf("validate:\n%v", err)
			}
			rs := lab.Resources()
			ns := 0
			for _, r := range rs {
				if r.Kind == KindNetns {
					ns++
				}
			}
			if ns != len(lab.Nodes) || ns == 0 {
				t.Errorf("%d netns resources for %d nodes", ns, len(lab.Nodes))
			}
			if len(lab.Checks) == 0 {
				t.Errorf("no [check:] sections: a shipped lab states what it shows")
			}
			if len(lab.Features()) == 0 {
				t.Errorf("no features")
			}
		})
	}
}

// The YAML translation of the quickstart is the same lab: same resources,
// same resolved configuration.
func TestQuickstartYAMLEqualsINI(t *testing.T) {
	fi := loadFile(t, "../topologies/quickstart.ini")
	fy := loadFile(t, "../topologies/quickstart.yaml")
	li, err := Build(fi)
	if err != nil {
		t.Fatal(err)
	}
	ly, err := Build(fy)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(li.Resources(), ly.Resources()); diff != "" {
		t.Errorf("resources (-ini +yaml):\n%s", diff)
	}
	if diff := cmp.Diff(Config(fi, li), Config(fy, ly)); diff != "" {
		t.Errorf("config (-ini +yaml):\n%s", diff)
	}
}
