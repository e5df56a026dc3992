package nsrun

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
}

// openFDs counts the process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// waitFor waits for cond, failing the test after a generous deadline (a
// condition the pool reaches, not a time it must meet).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// threadNetns is the inode of the calling thread's network namespace.
func threadNetns() (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// TestPoolSparesAreNewNamespacesThatMount: the pool's function runs inside
// each spare, every spare is a namespace of its own, a spare mounts under
// its name (announced with its inode before the path exists, and found
// there by `ip -n`), the pool and its taker together make exactly n, and no
// descriptor is left once the taker has closed what it took.
func TestPoolSparesAreNewNamespacesThatMount(t *testing.T) {
	needRoot(t)
	home, _ := threadNetns()
	before := openFDs(t)
	const n = 4
	p := NewPool(n, threadNetns, nil)
	defer p.Close()
	waitFor(t, "a spare", func() bool { return len(p.ready) > 0 })

	var spares []Spare[uint64]
	made := 0
	for {
		s, ok := p.Take()
		if !ok {
			if made+len(spares) == n {
				break
			}
			made++ // the taker's turn: it would make this one itself
			continue
		}
		spares = append(spares, s)
	}
	if len(spares) == 0 || made+len(spares) != n {
		t.Fatalf("pool gave %d spares and its taker made %d, want %d in all with at least one spare", len(spares), made, n)
	}
	if s, ok := p.Take(); ok {
		t.Errorf("Take after %d gave a spare (inode %d)", n, s.Ino)
	}
	seen := map[uint64]bool{}
	for _, s := range spares {
		if s.Value != s.Ino {
			t.Errorf("the pool's function ran in namespace %v, the spare is %d", s.Value, s.Ino)
		}
		if s.Ino == home || seen[s.Ino] {
			t.Errorf("spare %d is not a new namespace of its own", s.Ino)
		}
		seen[s.Ino] = true
	}

	name := fmt.Sprintf("nsrunpool%d", os.Getpid())
	t.Cleanup(func() { Delete(name) })
	var announced uint64
	err := Mount(name, spares[0], func(ino uint64) error {
		if _, err := os.Lstat(Path(name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("announced after %s was made (%v)", Path(name), err)
		}
		announced = ino
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if announced != spares[0].Ino || netnsInode(t, Path(name)) != spares[0].Ino {
		t.Errorf("announced %d, mounted %d, want the spare's %d", announced, netnsInode(t, Path(name)), spares[0].Ino)
	}
	// iproute2 finds it by name.
	if out, err := exec.Command("ip", "-n", name, "-j", "link", "show", "lo").CombinedOutput(); err != nil || !strings.Contains(string(out), `"ifname":"lo"`) {
		t.Errorf("ip -n %s link show lo: %v: %s", name, err, out)
	}
	if err := Mount(name, spares[1%len(spares)], nil); err == nil {
		t.Errorf("a second Mount under %s succeeded", name)
	}
	for _, s := range spares {
		unix.Close(s.Fd)
	}
	p.Close()
	if err := Delete(name); err != nil {
		t.Fatal(err)
	}
	if got := openFDs(t); got != before {
		t.Errorf("%d descriptors open after, %d before", got, before)
	}
}

// TestPoolCloseFreesWhatIsNotTaken: Close frees every spare made and not
// taken, the one in the pool's hands included when it waits for room, and
// undoes what the pool's function made in each.
func TestPoolCloseFreesWhatIsNotTaken(t *testing.T) {
	needRoot(t)
	for _, n := range []int{3, poolAhead + 5} {
		t.Run(fmt.Sprint("n=", n), func(t *testing.T) {
			before := openFDs(t)
			var made, dropped atomic.Int32
			p := NewPool(n, func() (int, error) {
				made.Add(1)
				// A descriptor per spare, as a netlink socket is.
				return unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
			}, func(fd int) {
				dropped.Add(1)
				unix.Close(fd)
			})
			// Full: all made (n = 3), or as many as it keeps ready and one
			// more in its hands, waiting for room.
			full := min(n, poolAhead+1)
			waitFor(t, fmt.Sprintf("%d spares", full), func() bool { return int(made.Load()) == full })
			p.Close()
			p.Close() // twice is harmless
			if made.Load() != dropped.Load() || int(made.Load()) != full {
				t.Errorf("made %d, dropped %d, want %d each", made.Load(), dropped.Load(), full)
			}
			if got := openFDs(t); got != before {
				t.Errorf("%d descriptors open after Close, %d before", got, before)
			}
		})
	}
}

// TestPoolThatFailsLeavesTheRestToItsTaker: a pool that cannot make a
// namespace stops and gives its turn back: its taker makes all n.
func TestPoolThatFailsLeavesTheRestToItsTaker(t *testing.T) {
	needRoot(t)
	before := openFDs(t)
	p := NewPool(5, func() (int, error) { return 0, errors.New("no") }, nil)
	<-p.done
	for i := range 5 {
		if s, ok := p.Take(); ok {
			t.Fatalf("take %d: a spare (inode %d) from a pool that failed", i, s.Ino)
		}
	}
	if left := p.left.Load(); left != 0 {
		t.Errorf("after 5 takes %d are left to make, want 0", left)
	}
	p.Close()
	var nilPool *Pool[int]
	if _, ok := nilPool.Take(); ok {
		t.Errorf("a nil pool gave a spare")
	}
	nilPool.Close()
	if got := openFDs(t); got != before {
		t.Errorf("%d descriptors open after, %d before", got, before)
	}
}
