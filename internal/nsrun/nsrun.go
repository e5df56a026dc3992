// Package nsrun runs a function inside a network namespace. It is the only
// code in netcompose that switches a thread's namespace: everything else
// uses netlink handles or sockets opened through it (a socket keeps the
// namespace it was created in).
//
// The function runs on a fresh goroutine locked to its OS thread. If the
// thread cannot be switched back to the original namespace, the goroutine
// exits still locked, and the Go runtime throws the thread away rather than
// reuse a thread in the wrong namespace (see containernetworking/plugins
// pkg/ns and its README for the whole story).
package nsrun

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Dir is where named network namespaces are bind-mounted (iproute2's
// convention, so `ip netns` sees them).
const Dir = "/run/netns"

// Path returns the bind-mount path of the named namespace.
func Path(name string) string { return Dir + "/" + name }

// Do runs fn inside the namespace mounted at path and returns its error.
func Do(path string, fn func() error) error {
	target, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("netns %s: open: %w", path, err)
	}
	defer target.Close()
	return DoHandle(target, fn)
}

// DoHandle is Do with an already open namespace handle.
func DoHandle(target netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("netns: current: %w", err)
			return // thread stays locked and dies with the goroutine
		}
		defer orig.Close()
		if err := netns.Set(target); err != nil {
			errc <- fmt.Errorf("netns: enter: %w", err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			// Leave the thread locked: the runtime discards it on exit.
			errc <- fmt.Errorf("netns: switch back: %w (after fn: %v)", err, ferr)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Create makes a new network namespace and bind-mounts it at Path(name).
// The creating thread is never returned to the runtime: it unshares into
// the new namespace and exits with its goroutine, so no other code ever
// runs in a namespace it did not ask for.
func Create(name string) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with us
		errc <- create(name)
	}()
	return <-errc
}

var (
	dirMu    sync.Mutex
	dirReady bool
)

func create(name string) error {
	dirMu.Lock()
	if !dirReady {
		if err := ensureDir(); err != nil {
			dirMu.Unlock()
			return err
		}
		dirReady = true
	}
	dirMu.Unlock()
	p := Path(name)
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CREAT|unix.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("netns %s: create mount point: %w", name, err)
	}
	unix.Close(fd)
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		unix.Unlink(p)
		return fmt.Errorf("netns %s: unshare: %w", name, err)
	}
	src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
	if err := unix.Mount(src, p, "none", unix.MS_BIND, ""); err != nil {
		unix.Unlink(p)
		return fmt.Errorf("netns %s: bind mount: %w", name, err)
	}
	return nil
}

// Delete unmounts and removes the named namespace. The kernel frees the
// namespace (and every interface in it) once nothing else holds it.
func Delete(name string) error {
	p := Path(name)
	if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
		return fmt.Errorf("netns %s: unmount: %w", name, err)
	}
	if err := unix.Unlink(p); err != nil && err != unix.ENOENT {
		return fmt.Errorf("netns %s: remove: %w", name, err)
	}
	return nil
}

// ensureDir makes /run/netns a shared mount point, as `ip netns add` does,
// so that bind mounts made here propagate to other mount namespaces.
func ensureDir() error {
	if err := unix.Mkdir(Dir, 0o755); err != nil && err != unix.EEXIST {
		return fmt.Errorf("netns: mkdir %s: %w", Dir, err)
	}
	err := unix.Mount("", Dir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if err == unix.EINVAL {
		// Not a mount point yet: bind it onto itself, then share it.
		if err := unix.Mount(Dir, Dir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("netns: bind %s: %w", Dir, err)
		}
		err = unix.Mount("", Dir, "none", unix.MS_SHARED|unix.MS_REC, "")
	}
	if err != nil {
		return fmt.Errorf("netns: share %s: %w", Dir, err)
	}
	return nil
}
