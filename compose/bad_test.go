package compose

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netcompose/netcompose/loader"
)

// Every bad lab under testdata/compose/bad fails with exactly the errors
// in its .err file (go test -update rewrites them), each a *loader.Error:
// the loader's and the lab's, all in one run.
func TestBadLabs(t *testing.T) {
	paths, err := filepath.Glob("../testdata/compose/bad/*.ini")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no bad labs: %v", err)
	}
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".ini")
		t.Run(name, func(t *testing.T) {
			rel := filepath.Join("testdata", "compose", "bad", name+".ini")
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			f, err := loader.Parse(rel, data)
			if f == nil {
				t.Fatalf("load: %v", err)
			}
			_, err = buildLoaded(f, err)
			if err == nil {
				t.Fatal("no error")
			}
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var le *loader.Error
				if !errors.As(e, &le) || le.Pos.Line == 0 {
					t.Errorf("not a *loader.Error with a line: %v", e)
				}
			}
			golden(t, filepath.Join("bad", name+".err"), []byte(err.Error()+"\n"))
		})
	}
}
