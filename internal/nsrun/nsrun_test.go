package nsrun

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
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

// TestRunMakesNamespacesOnTheCreatorsThread: Run's function runs on the
// creator's thread, namespaces made through Here are made and mounted
// there (the thread is inside each as it is made), Run returns the
// function's error, and the creator goes on making namespaces afterwards.
func TestRunMakesNamespacesOnTheCreatorsThread(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	names := []string{fmt.Sprintf("nsrunr%d-a", os.Getpid()), fmt.Sprintf("nsrunr%d-b", os.Getpid()), fmt.Sprintf("nsrunr%d-c", os.Getpid())}
	for _, n := range names {
		t.Cleanup(func() { Delete(n) })
	}
	c := NewCreator()
	defer c.Close()
	var creator int
	if err := c.CreateIn(names[0], nil, func() error { creator = unix.Gettid(); return nil }); err != nil {
		t.Fatal(err)
	}
	inside := map[string]uint64{}
	var tids []int
	sentinel := errors.New("from fn")
	err := c.Run(func(h Here) error {
		tids = append(tids, unix.Gettid())
		for _, n := range names[1:] {
			if err := h.CreateIn(n, nil, func() error {
				inside[n] = netnsInode(t, "/proc/thread-self/ns/net")
				tids = append(tids, unix.Gettid())
				return nil
			}); err != nil {
				return err
			}
		}
		return sentinel
	})
	if !errors.Is(err, sentinel) {
		t.Errorf("Run returned %v, want fn's error", err)
	}
	for _, tid := range tids {
		if tid != creator {
			t.Errorf("Run's function ran on thread %d, the creator's is %d", tid, creator)
		}
	}
	for _, n := range names[1:] {
		if want := netnsInode(t, Path(n)); inside[n] != want {
			t.Errorf("%s: the thread was in namespace %d while making it, want %d", n, inside[n], want)
		}
	}
	var after int
	if err := c.CreateIn(names[0]+"x", nil, func() error { after = unix.Gettid(); return nil }); err != nil {
		t.Fatal(err)
	}
	Delete(names[0] + "x")
	if after != creator {
		t.Errorf("after Run the creator makes namespaces on thread %d, want %d", after, creator)
	}
}

// TestMain is the tests' main, or with NSRUN_TEST_MAIN set a command's:
// it calls Main from the main goroutine, as a command does.
func TestMain(m *testing.M) {
	if os.Getenv("NSRUN_TEST_MAIN") != "" {
		Main(func() int {
			if unix.Gettid() == unix.Getpid() {
				return 3 // on the main thread
			}
			return 7
		})
	}
	os.Exit(m.Run())
}

// TestMainRunsOffTheMainThread: Main runs its function on a thread other
// than the main one (which init keeps locked to the main goroutine) and
// exits with its code. The test binary runs itself as the command.
func TestMainRunsOffTheMainThread(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "NSRUN_TEST_MAIN=1")
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Fatalf("command: %v, want exit status 7 (3: its function ran on the main thread)", err)
	}
}
