package labdir

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestForRefusesWhatIsNotALabName(t *testing.T) {
	for _, key := range []string{"", ".", "..", "./", "x/..", "../x", "../../tmp/x", "/etc", "a/b", "a@../b", "a@", "@b", "A", "-x", "x y"} {
		if _, err := For(key); !errors.Is(err, ErrBadName) {
			t.Errorf("For(%q): %v, want ErrBadName", key, err)
		}
	}
	for _, key := range []string{"lab", "l-1.b_c", "lab@m1"} {
		d, err := For(key)
		if err != nil {
			t.Errorf("For(%q): %v", key, err)
			continue
		}
		if filepath.Dir(d.Path) != Root {
			t.Errorf("For(%q) = %s, not directly under %s", key, d.Path, Root)
		}
	}
}

func TestRemoveDeletesTheLayoutByNameOnly(t *testing.T) {
	old := Root
	Root = t.TempDir()
	t.Cleanup(func() { Root = old })
	d := MustFor("lab")
	if err := os.MkdirAll(d.LogDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	log, err := d.Log("service.web")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{d.State(), d.Lock(), d.Journal(), d.SupervisorLog(), log, log + ".1"} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.Path); !os.IsNotExist(err) {
		t.Errorf("lab directory left: %v", err)
	}

	// Something that is not the layout's stays, and so does the directory.
	if err := os.MkdirAll(d.Path, 0o755); err != nil {
		t.Fatal(err)
	}
	mine := filepath.Join(d.Path, "notes.txt")
	os.WriteFile(mine, []byte("mine"), 0o644)
	os.WriteFile(d.State(), []byte("{}"), 0o644)
	if err := d.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(mine); err != nil {
		t.Errorf("a file not of the layout was removed: %v", err)
	}
	if _, err := os.Stat(d.State()); !os.IsNotExist(err) {
		t.Errorf("state left: %v", err)
	}
}

func TestLogNamesPassTheNameRule(t *testing.T) {
	d := MustFor("lab")
	for _, c := range []string{"../x", "service.../x", "service./", ""} {
		if _, err := d.Log(c); err == nil {
			t.Errorf("Log(%q) accepted", c)
		}
	}
}
