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
	"errors"
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
// runs in a namespace it did not ask for. Many creates in a row are
// cheaper through a Creator.
func Create(name string) error {
	c := NewCreator()
	defer c.Close()
	return c.Create(name, nil)
}

// A Creator makes namespaces on one OS thread of its own, reused from one
// namespace to the next (unshare moves the thread into each new one), and
// thrown away by Close: starting and discarding a thread per namespace
// costs more than the namespace itself.
type Creator struct {
	reqs chan createReq
}

type createReq struct {
	name     string
	announce func(ino uint64) error
	in       func() error
	mount    bool
	run      func(Here) error // Run's function: no namespace is made
	reply    chan createRes
}

type createRes struct {
	fd  int
	err error
}

// NewCreator starts the creator's thread.
func NewCreator() *Creator {
	c := &Creator{reqs: make(chan createReq)}
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with us
		for r := range c.reqs {
			if r.run != nil {
				r.reply <- createRes{-1, r.run(Here{})}
				continue
			}
			fd, err := create(r)
			r.reply <- createRes{fd, err}
		}
	}()
	return c
}

// Create makes the namespace name and mounts it at Path(name). announce,
// if not nil, is called with the new namespace's inode after it exists and
// before anything is written under Dir, so that the caller can note it (a
// journal) and recognise the namespace, or the empty file it is mounted
// on, whenever the process dies; an error from announce abandons the
// namespace before it is ever visible.
func (c *Creator) Create(name string, announce func(ino uint64) error) error {
	return c.CreateIn(name, announce, nil)
}

// CreateIn is Create that then runs in, if not nil, inside the new
// namespace on the creator's thread: the place to open the sockets that
// work in it (a socket keeps the namespace it was made in), without
// switching a thread into it and back. An error from in is returned; the
// namespace stays.
func (c *Creator) CreateIn(name string, announce func(ino uint64) error, in func() error) error {
	reply := make(chan createRes, 1)
	c.reqs <- createReq{name: name, announce: announce, mount: true, in: in, reply: reply}
	return (<-reply).err
}

// Run runs fn on the creator's thread and returns its error. The
// namespaces fn makes through Here are made right there: a run of
// namespaces costs one trip to the creator's thread and back, where
// Create costs one each (two wake-ups of a sleeping thread, a third of a
// millisecond on a small VM, more than the namespace itself). fn must not
// depend on its thread's network namespace, which is whichever the
// creator made last, nor keep Here beyond its return.
func (c *Creator) Run(fn func(Here) error) error {
	reply := make(chan createRes, 1)
	c.reqs <- createReq{run: fn, reply: reply}
	return (<-reply).err
}

// Here is a Creator's thread, as code that runs on it (Run) sees it.
type Here struct{}

// CreateIn is Creator.CreateIn, on the creator's own thread.
func (Here) CreateIn(name string, announce func(ino uint64) error, in func() error) error {
	_, err := create(createReq{name: name, announce: announce, mount: true, in: in})
	return err
}

// Anonymous makes a namespace that is never mounted and returns an open
// file descriptor of it: it lives as long as a descriptor or a process
// holds it, so nothing is left behind when the process dies.
func (c *Creator) Anonymous() (int, error) {
	reply := make(chan createRes, 1)
	c.reqs <- createReq{reply: reply}
	r := <-reply
	return r.fd, r.err
}

// Close ends the creator's thread; the runtime discards it.
func (c *Creator) Close() { close(c.reqs) }

var (
	dirMu    sync.Mutex
	dirReady bool
)

func create(r createReq) (int, error) {
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return -1, fmt.Errorf("netns %s: unshare: %w", r.name, err)
	}
	src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
	if !r.mount {
		fd, err := unix.Open(src, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, fmt.Errorf("netns: open new namespace: %w", err)
		}
		return fd, nil
	}
	var ino uint64
	if r.announce != nil {
		var st unix.Stat_t
		if err := unix.Stat(src, &st); err != nil {
			return -1, fmt.Errorf("netns %s: stat: %w", r.name, err)
		}
		ino = st.Ino
	}
	if err := mount(r.name, src, ino, r.announce); err != nil {
		return -1, err
	}
	if r.in != nil {
		return -1, r.in()
	}
	return -1, nil
}

// mount bind-mounts the namespace at src (a /proc path of it) at
// Path(name), calling announce with its inode first.
func mount(name, src string, ino uint64, announce func(ino uint64) error) error {
	dirMu.Lock()
	if !dirReady {
		if err := ensureDir(); err != nil {
			dirMu.Unlock()
			return err
		}
		dirReady = true
	}
	dirMu.Unlock()
	if announce != nil {
		if err := announce(ino); err != nil {
			return fmt.Errorf("netns %s: %w", name, err)
		}
	}
	p := Path(name)
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o444)
	if err != nil {
		return fmt.Errorf("netns %s: create mount point: %w", name, err)
	}
	unix.Close(fd)
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
	if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("netns %s: unmount: %w", name, err)
	}
	if err := unix.Unlink(p); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("netns %s: remove: %w", name, err)
	}
	return nil
}

// ensureDir makes /run/netns a shared mount point, as `ip netns add` does,
// so that bind mounts made here propagate to other mount namespaces.
func ensureDir() error {
	if err := unix.Mkdir(Dir, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("netns: mkdir %s: %w", Dir, err)
	}
	err := unix.Mount("", Dir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if errors.Is(err, unix.EINVAL) {
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
