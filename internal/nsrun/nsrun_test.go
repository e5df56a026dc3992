package nsrun

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

func netnsInode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// TestCreateDoDelete: a namespace made by Create is where Do runs its
// function, the caller's own namespace is untouched afterwards, and Delete
// removes the mount point.
func TestCreateDoDelete(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	name := fmt.Sprintf("nsrun%d", os.Getpid())
	if err := Create(name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Delete(name) })
	if err := Create(name); err == nil {
		t.Errorf("Create of an existing namespace succeeded")
	}

	want := netnsInode(t, Path(name))
	home := netnsInode(t, "/proc/thread-self/ns/net")
	var inside uint64
	sentinel := errors.New("from fn")
	err := Do(Path(name), func() error {
		inside = netnsInode(t, "/proc/thread-self/ns/net")
		return sentinel
	})
	if !errors.Is(err, sentinel) {
		t.Errorf("Do returned %v, want fn's error", err)
	}
	if inside != want {
		t.Errorf("fn ran in namespace inode %d, want %d", inside, want)
	}
	if got := netnsInode(t, "/proc/thread-self/ns/net"); got != home {
		t.Errorf("caller's namespace changed: %d, was %d", got, home)
	}

	if err := Delete(name); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(Path(name)); !os.IsNotExist(err) {
		t.Errorf("%s still exists after Delete (%v)", Path(name), err)
	}
	if err := Delete(name); err != nil {
		t.Errorf("second Delete: %v, want nil", err)
	}
	if err := Do(Path(name), func() error { return nil }); err == nil {
		t.Errorf("Do in a deleted namespace succeeded")
	}
}

// TestCreateInRunsInTheNewNamespace: CreateIn's function runs on the
// creator's thread inside the namespace just mounted, its error comes
// back, and the namespace stays for the caller to keep or delete.
func TestCreateInRunsInTheNewNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	name := fmt.Sprintf("nsrunin%d", os.Getpid())
	t.Cleanup(func() { Delete(name) })
	c := NewCreator()
	defer c.Close()
	var inside uint64
	sentinel := errors.New("from in")
	err := c.CreateIn(name, nil, func() error {
		inside = netnsInode(t, "/proc/thread-self/ns/net")
		return sentinel
	})
	if !errors.Is(err, sentinel) {
		t.Errorf("CreateIn returned %v, want in's error", err)
	}
	if want := netnsInode(t, Path(name)); inside != want {
		t.Errorf("in ran in namespace inode %d, want the new one's %d", inside, want)
	}
}
