package loader

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var update = flag.Bool("update", false, "rewrite testdata/loader/bad/*.err from the loader's output")

// TestPasteDeploy checks each testdata/loader/pastedeploy/NAME.ini against
// NAME.json: the local_conf PasteDeploy's ConfigLoader.get_context gives
// each section (worked out from paste/deploy/loadwsgi.py), and "DEFAULT"
// with the globals. ${here} stands for the directory of the file.
func TestPasteDeploy(t *testing.T) {
	files, _ := filepath.Glob("../testdata/loader/pastedeploy/*.ini")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := Load(path)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			data, err := os.ReadFile(strings.TrimSuffix(path, ".ini") + ".json")
			if err != nil {
				t.Fatal(err)
			}
			abs, _ := filepath.Abs(filepath.Dir(path))
			data = bytes.ReplaceAll(data, []byte("${here}"), []byte(abs))
			var want view
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, viewOf(f), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("(-pastedeploy +netcompose):\n%s", diff)
			}
		})
	}
}

// TestYAMLTranslation loads every NAME.yaml next to a NAME.ini and wants
// the same resolution, Globals included.
func TestYAMLTranslation(t *testing.T) {
	files, _ := filepath.Glob("../testdata/loader/pastedeploy/*.yaml")
	n := 0
	for _, ypath := range files {
		ipath := strings.TrimSuffix(ypath, ".yaml") + ".ini"
		if _, err := os.Stat(ipath); err != nil {
			continue
		}
		n++
		t.Run(ypath, func(t *testing.T) {
			fi, erri := Load(ipath)
			fy, erry := Load(ypath)
			if erri != nil || erry != nil {
				t.Fatalf("ini: %v\nyaml: %v", erri, erry)
			}
			if diff := cmp.Diff(viewOf(fi), viewOf(fy)); diff != "" {
				t.Errorf("(-ini +yaml):\n%s", diff)
			}
			if diff := cmp.Diff(globalsOf(fi), globalsOf(fy)); diff != "" {
				t.Errorf("globals (-ini +yaml):\n%s", diff)
			}
		})
	}
	if n == 0 {
		t.Fatal("no INI/YAML pairs")
	}
}

// globalsOf is each section's Globals without __file__ (which names the
// file itself).
func globalsOf(f *File) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, s := range f.Sections {
		g := map[string]string{}
		for k, v := range s.Globals {
			if k != "__file__" {
				g[k] = v
			}
		}
		out[s.Type+":"+s.Name] = g
	}
	return out
}

// TestBad loads each testdata/loader/bad file and wants exactly the
// errors in its .err file (go test ./loader -run TestBad -update rewrites
// them).
func TestBad(t *testing.T) {
	dir := "../testdata/loader/bad"
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || (filepath.Ext(name) != ".ini" && filepath.Ext(name) != ".yaml") {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			t.Chdir(dir)
			_, err := Load(name)
			if err == nil {
				t.Fatal("loaded without error")
			}
			got := strings.Join(errLines(t, err), "\n") + "\n"
			golden := strings.TrimSuffix(name, filepath.Ext(name)) + filepath.Ext(name) + ".err"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
	if n == 0 {
		t.Fatal("no bad inputs")
	}
}

// TestWriteRoundTrip writes every good testdata file back as INI and YAML
// and wants the output to resolve to the same values.
func TestWriteRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("../testdata/loader/pastedeploy/*.*")
	more, _ := filepath.Glob("../topologies/*.*")
	files = append(files, more...)
	for _, path := range files {
		if ext := filepath.Ext(path); ext != ".ini" && ext != ".yaml" {
			continue
		}
		f, err := Load(path)
		if err != nil {
			if strings.HasPrefix(path, "../topologies/") {
				continue // not ours to fix; compose reports it
			}
			t.Fatalf("%s: %v", path, err)
		}
		for _, format := range []string{"ini", "yaml"} {
			t.Run(path+"->"+format, func(t *testing.T) {
				var buf bytes.Buffer
				write := WriteINI
				if format == "yaml" {
					write = WriteYAML
				}
				if err := write(&buf, f); err != nil {
					t.Fatal(err)
				}
				// Write next to the original, so that here resolves alike.
				back, err := Parse(filepath.Join(filepath.Dir(path), "roundtrip."+format), buf.Bytes())
				if err != nil {
					t.Fatalf("reload: %v\n%s", err, buf.String())
				}
				if diff := cmp.Diff(lookupsOf(f, back), lookupsOf(back, f)); diff != "" {
					t.Errorf("(-original +reloaded):\n%s\n%s", diff, buf.String())
				}
				var again bytes.Buffer
				if err := write(&again, back); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(buf.String(), again.String()); diff != "" {
					t.Errorf("second write differs (-first +second):\n%s", diff)
				}
			})
		}
	}
}

// lookupsOf is what a reader of the file sees: each section's Use and
// Lookup of every key either f or other has a value for (a value whose key
// is a global is written as set k = v, so it comes back as that
// section's global), its other globals, and the DEFAULT globals.
func lookupsOf(f, other *File) view {
	keys := map[string][]string{}
	for _, g := range []*File{f, other} {
		for _, s := range g.Sections {
			for _, val := range s.Values {
				keys[s.Type+":"+s.Name] = append(keys[s.Type+":"+s.Name], val.Key)
			}
		}
	}
	v := view{"DEFAULT": {}}
	for _, g := range f.Globals {
		v["DEFAULT"][g.Key] = g.Value
	}
	for _, s := range f.Sections {
		m := map[string]string{"(use)": s.Use}
		for _, k := range keys[s.Type+":"+s.Name] {
			l, _ := s.Lookup(k)
			m[k] = l.Value
		}
		for k, g := range s.Globals {
			if _, ok := m[k]; !ok && k != "here" && k != "__file__" {
				m["(global) "+k] = g
			}
		}
		v[s.Type+":"+s.Name] = m
	}
	return v
}
