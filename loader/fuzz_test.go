package loader

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// seed adds every testdata file with extension ext to the corpus.
func seed(f *testing.F, ext string) {
	for _, pattern := range []string{"../testdata/loader/*/*" + ext, "../testdata/loader/*/*/*" + ext, "../topologies/*" + ext} {
		files, _ := filepath.Glob(pattern)
		for _, p := range files {
			data, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
}

// fuzzLoad loads data as name without touching the disk: every
// use = config:PATH reads data again, so cross-file uses and cycles are
// exercised too. A file that loads must write and reload to the same
// values.
func fuzzLoad(t *testing.T, name string, data []byte) {
	read := func(string) ([]byte, error) { return data, nil }
	f, err := parse(name, data, read, options{})
	if err != nil {
		errLines(t, err) // every error must be a *Error
		return
	}
	for _, w := range []struct {
		out   string
		write func(io.Writer, *File) error
	}{{"/fuzz/out.ini", WriteINI}, {"/fuzz/out.yaml", WriteYAML}} {
		var buf bytes.Buffer
		if err := w.write(&buf, f); err != nil {
			continue // not every resolved value has a written form
		}
		back, err := parse(w.out, buf.Bytes(), read, options{})
		if err != nil {
			t.Fatalf("reload of written file failed: %v\n%s", err, buf.String())
		}
		if diff := cmp.Diff(lookupsOf(f, back), lookupsOf(back, f)); diff != "" {
			t.Fatalf("reload differs (-loaded +reloaded):\n%s\n%s", diff, buf.String())
		}
	}
}

func FuzzLoadINI(f *testing.F) {
	seed(f, ".ini")
	f.Fuzz(func(t *testing.T, data []byte) { fuzzLoad(t, "/fuzz/lab.ini", data) })
}

func FuzzLoadYAML(f *testing.F) {
	seed(f, ".yaml")
	f.Fuzz(func(t *testing.T, data []byte) { fuzzLoad(t, "/fuzz/lab.yaml", data) })
}
