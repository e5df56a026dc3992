package loader

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// pastedeployPython is Debian's interpreter, which python3-pastedeploy
// (installed by scripts/setup) extends.
const pastedeployPython = "/usr/bin/python3"

// TestPasteDeployLive resolves every PasteDeploy fixture with PasteDeploy
// itself (scripts/pastedeploy-resolve) and wants netcompose's loader to
// agree on every value: the hand-written .json files of TestPasteDeploy
// are checked against the real thing wherever it is installed.
func TestPasteDeployLive(t *testing.T) {
	if err := exec.Command(pastedeployPython, "-c", "import paste.deploy.loadwsgi").Run(); err != nil {
		t.Skipf("PasteDeploy is not installed for %s (scripts/setup installs python3-pastedeploy): %v", pastedeployPython, err)
	}
	files, _ := filepath.Glob("../testdata/loader/pastedeploy/*.ini")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			out, err := exec.Command(pastedeployPython, "../scripts/pastedeploy-resolve", path).Output()
			if err != nil {
				t.Fatalf("pastedeploy-resolve: %v", err)
			}
			var want view
			if err := json.Unmarshal(out, &want); err != nil {
				t.Fatal(err)
			}
			f, err := Load(path)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if diff := cmp.Diff(want, viewOf(f), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("(-pastedeploy +netcompose):\n%s", diff)
			}
		})
	}
}
