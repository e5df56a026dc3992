package loader

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// loadWithin loads path, failing the test if that takes longer than a few
// seconds (a named pipe opened for reading waits for a writer forever).
func loadWithin(t *testing.T, path string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := Load(path)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatalf("Load(%s) still running after 5s", path)
		return nil
	}
}

// Anything but a regular file is refused, without waiting for it, at the
// top level and as a use = config: target.
func TestNotRegularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.ini")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if err := os.Mkdir(filepath.Join(dir, "dir.ini"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		want       string // the error, $DIR for dir
	}{
		{"a named pipe as the topology file", fifo, "$DIR/fifo.ini: not a regular file (a named pipe)"},
		{"a directory as the topology file", filepath.Join(dir, "dir.ini"), "$DIR/dir.ini: not a regular file (a directory)"},
		{"a named pipe as a config: target",
			write("uses-fifo.ini", "[netns:a]\nuse = config:fifo.ini\n"),
			"$DIR/uses-fifo.ini:2: [netns:a]: use = config:fifo.ini: $DIR/fifo.ini: not a regular file (a named pipe)"},
		{"a device as a config: target",
			write("uses-dev.ini", "[netns:a]\nuse = config:/dev/null\n"),
			"$DIR/uses-dev.ini:2: [netns:a]: use = config:/dev/null: /dev/null: not a regular file (a device)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := loadWithin(t, tt.path)
			if !errors.Is(err, ErrNotRegular) {
				t.Fatalf("err = %v, want ErrNotRegular", err)
			}
			if got := strings.ReplaceAll(err.Error(), dir, "$DIR"); got != tt.want {
				t.Errorf("err = %q, want %q", got, tt.want)
			}
		})
	}
}

// A symbolic link to a regular file is read as the file.
func TestSymlinkToRegularFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "real.ini")
	if err := os.WriteFile(p, []byte("[netns:a]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "lab.ini")
	if err := os.Symlink(p, link); err != nil {
		t.Fatal(err)
	}
	if err := loadWithin(t, link); err != nil {
		t.Fatal(err)
	}
}
