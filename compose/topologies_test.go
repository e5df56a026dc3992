package compose

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netcompose/netcompose/loader"
)

// loadFile loads path with the real loader; while the loader is not
// implemented yet, INI files fall back to the test reader.
func loadFile(t *testing.T, path string) *loader.File {
	t.Helper()
	f, err := loader.Load(path)
	if err == nil {
		return f
	}
	if strings.Contains(err.Error(), "not implemented") {
		if filepath.Ext(path) != ".ini" {
			t.Skipf("loader not implemented yet: cannot read %s", path)
		}
		data, rerr := os.ReadFile(path)
		if rerr != nil {
			t.Fatal(rerr)
		}
		return parseINI(t, path, string(data))
	}
	t.Fatalf("load %s: %v", path, err)
	return nil
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
