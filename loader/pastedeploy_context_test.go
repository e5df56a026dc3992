package loader

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// sectionContext is one section as PasteDeploy hands it to a factory:
// local_conf and global_conf ("DEFAULT" has only the globals).
type sectionContext struct {
	Local  map[string]string `json:"local,omitempty"`
	Global map[string]string `json:"global,omitempty"`
}

// contextOf is f in the shape testdata/loader/pastedeploy-context prints.
func contextOf(f *File) map[string]sectionContext {
	out := map[string]sectionContext{}
	if len(f.Globals) > 0 {
		g := map[string]string{}
		for _, v := range f.Globals {
			g[v.Key] = v.Value
		}
		out["DEFAULT"] = sectionContext{Global: g}
	}
	for id, local := range viewOf(f) {
		if id == "DEFAULT" {
			continue
		}
		out[id] = sectionContext{Local: local}
	}
	for _, s := range f.Sections {
		c := out[s.Type+":"+s.Name]
		c.Global = s.Globals
		out[s.Type+":"+s.Name] = c
	}
	return out
}

// contextFixtures are the files the context tests resolve: every
// PasteDeploy fixture, without globals from outside, and those of
// global_conf/, each with the KEY=VALUE lines of its NAME.globals.
func contextFixtures(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	plain, _ := filepath.Glob("../testdata/loader/pastedeploy/*.ini")
	for _, p := range plain {
		out[p] = nil
	}
	withGlobals, _ := filepath.Glob("../testdata/loader/pastedeploy/global_conf/*.ini")
	for _, p := range withGlobals {
		data, err := os.ReadFile(strings.TrimSuffix(p, ".ini") + ".globals")
		if err != nil {
			t.Fatal(err)
		}
		var kv []string
		for sc := bufio.NewScanner(bytes.NewReader(data)); sc.Scan(); {
			if line := strings.TrimSpace(sc.Text()); line != "" {
				kv = append(kv, line)
			}
		}
		out[p] = kv
	}
	if len(plain) == 0 || len(withGlobals) == 0 {
		t.Fatal("no testdata")
	}
	return out
}

func loadWithGlobals(t *testing.T, path string, kv []string) *File {
	t.Helper()
	var globals []Value
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		globals = append(globals, Value{Key: k, Value: v, Pos: Pos{File: "--set " + s}})
	}
	f, err := Load(path, WithGlobals(globals...))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return f
}

// TestPasteDeployGlobalConf checks each global_conf/NAME.ini, loaded with
// the globals of NAME.globals, against NAME.json: every section's
// local_conf and global_conf as PasteDeploy gives them
// (testdata/loader/pastedeploy-context prints them; ${here} stands for
// the directory of the file).
func TestPasteDeployGlobalConf(t *testing.T) {
	for path, kv := range contextFixtures(t) {
		if kv == nil {
			continue
		}
		t.Run(filepath.Base(path), func(t *testing.T) {
			f := loadWithGlobals(t, path, kv)
			data, err := os.ReadFile(strings.TrimSuffix(path, ".ini") + ".json")
			if err != nil {
				t.Fatal(err)
			}
			abs, _ := filepath.Abs(filepath.Dir(path))
			data = bytes.ReplaceAll(data, []byte("${here}"), []byte(abs))
			var want map[string]sectionContext
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, contextOf(f), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("(-pastedeploy +netcompose):\n%s", diff)
			}
		})
	}
}

// TestPasteDeployContextLive resolves every fixture with PasteDeploy
// itself, globals from outside included, and wants netcompose's loader to
// agree on the whole context of every section: its values and the
// globals it sees (those of templates it reaches, too).
func TestPasteDeployContextLive(t *testing.T) {
	if err := exec.Command(pastedeployPython, "-c", "import paste.deploy.loadwsgi").Run(); err != nil {
		t.Skipf("PasteDeploy is not installed for %s (scripts/setup installs python3-pastedeploy): %v", pastedeployPython, err)
	}
	for path, kv := range contextFixtures(t) {
		t.Run(strings.TrimPrefix(path, "../testdata/loader/pastedeploy/"), func(t *testing.T) {
			args := append([]string{"../testdata/loader/pastedeploy-context", path}, kv...)
			out, err := exec.Command(pastedeployPython, args...).Output()
			if err != nil {
				t.Fatalf("pastedeploy-context: %v", err)
			}
			var want map[string]sectionContext
			if err := json.Unmarshal(out, &want); err != nil {
				t.Fatal(err)
			}
			f := loadWithGlobals(t, path, kv)
			if diff := cmp.Diff(want, contextOf(f), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("(-pastedeploy +netcompose):\n%s", diff)
			}
		})
	}
}
