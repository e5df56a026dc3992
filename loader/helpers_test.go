package loader

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// view is what a file resolves to, as comparable maps: "type:name" ->
// key -> value (plus "use" for a builtin), and "DEFAULT" -> globals.
type view map[string]map[string]string

func viewOf(f *File) view {
	v := view{}
	if f == nil {
		return v
	}
	if len(f.Globals) > 0 {
		v["DEFAULT"] = map[string]string{}
	}
	for _, g := range f.Globals {
		v["DEFAULT"][g.Key] = g.Value
	}
	for _, s := range f.Sections {
		m := map[string]string{}
		for _, val := range s.Values {
			m[val.Key] = val.Value
		}
		if s.Use != "" {
			m["use"] = s.Use
		}
		v[s.Type+":"+s.Name] = m
	}
	return v
}

// errLines splits a joined loader error into its messages, checking that
// each one is a *Error.
func errLines(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	var lines []string
	for _, e := range errs {
		var le *Error
		if !errors.As(e, &le) {
			t.Errorf("error %q is not a *loader.Error", e)
		}
		lines = append(lines, e.Error())
	}
	return lines
}

// loadFiles writes files into a fresh directory and loads lab.ini or
// lab.yaml with opts. Error texts have the directory replaced by $DIR.
func loadFiles(t *testing.T, files map[string]string, opts ...Option) (*File, []string) {
	t.Helper()
	dir := t.TempDir()
	top := ""
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if name == "lab.ini" || name == "lab.yaml" {
			top = p
		}
	}
	if top == "" {
		t.Fatal("no lab.ini or lab.yaml")
	}
	f, err := Load(top, opts...)
	lines := errLines(t, err)
	for i := range lines {
		lines[i] = strings.ReplaceAll(lines[i], dir, "$DIR")
	}
	return f, lines
}

// replaceDir writes the directory of the top-level file as $DIR.
func replaceDir(s, topPath string) string {
	return strings.ReplaceAll(s, filepath.Dir(topPath), "$DIR")
}
