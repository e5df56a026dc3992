package compose

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/netcompose/netcompose/loader"
)

// FuzzBuild feeds loadable files to Build and the pure stages after it:
// no input may panic or hang validation, lowering, Diff or the writers.
func FuzzBuild(f *testing.F) {
	for _, glob := range []string{"../topologies/*.ini", "../testdata/compose/bad/*.ini"} {
		paths, _ := filepath.Glob(glob)
		for _, p := range paths {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := loader.Parse("fuzz.ini", data)
		if err != nil {
			return
		}
		lab, err := Build(file)
		Config(file, lab)
		if err != nil {
			return
		}
		rs := lab.Resources()
		p := Diff(lab.Name, rs, nil)
		WritePlan(io.Discard, p, false)
		WritePlan(io.Discard, Diff(lab.Name, nil, rs), true)
		WriteDOT(io.Discard, lab)
		WriteMermaid(io.Discard, lab)
		for _, h := range lab.Hosts {
			if slice, err := lab.ForHost(h.Name); err == nil {
				slice.Resources()
			}
		}
	})
}
