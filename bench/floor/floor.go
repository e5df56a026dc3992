// Package floor builds the benchmark's star lab the cheapest way the
// kernel allows, to say how far netcompose is from it: raw netlink calls,
// one thread that makes every namespace and opens its netlink socket
// while it is inside it, no observe, no plan, no ownership marks, no
// state record, no lock. "Usable" is what `netcompose apply` promises
// before it returns: every veth end operationally up.
//
// The star is a hub namespace joined to N leaves by veth pairs, hub end
// hI with 10.H.L.1/30 and leaf end eth0 with 10.H.L.2/30, as in the
// kernel package's benchmark.
package floor

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Dir is where named namespaces are mounted (iproute2's convention).
const Dir = "/run/netns"

// Link is one spoke of the star.
type Link struct {
	Leaf, HubIf, HubAddr, LeafAddr string
}

// StarLinks lists the spokes of a star of n leaves: leaf lI, hub end hI.
func StarLinks(n int) []Link {
	out := make([]Link, n)
	for i := range out {
		o2, o3 := (i*4)>>8, (i*4)&0xff
		net := fmt.Sprintf("10.%d.%d.", 100+o2/256, o2%256)
		out[i] = Link{
			Leaf:     fmt.Sprintf("l%d", i),
			HubIf:    fmt.Sprintf("h%d", i),
			HubAddr:  fmt.Sprintf("%s%d/30", net, o3+1),
			LeafAddr: fmt.Sprintf("%s%d/30", net, o3+2),
		}
	}
	return out
}

// Name is the namespace of a node, as netcompose names it.
func Name(lab, node string) string { return lab + "-" + node }

// Options tune Star.
type Options struct {
	// Timeout bounds the wait for every veth end to be up.
	Timeout time.Duration
	// IPv6Off turns IPv6 off (net.ipv6.conf.all.disable_ipv6) in the hub,
	// and with IPv6OffLeaves in every leaf too, before any link is made.
	IPv6Off, IPv6OffLeaves bool
}

// Star builds the star and returns once every veth end is operationally
// up (or after the timeout, with an error saying how many are still down).
func Star(lab string, links []Link, opt Options) error {
	if opt.Timeout == 0 {
		opt.Timeout = time.Minute
	}
	names := []string{Name(lab, "hub")}
	for _, l := range links {
		names = append(names, Name(lab, l.Leaf))
	}
	handles, err := create(names, func(i int) bool { return opt.IPv6Off && (i == 0 || opt.IPv6OffLeaves) })
	defer func() {
		for _, h := range handles {
			if h != nil {
				h.Close()
			}
		}
	}()
	if err != nil {
		return err
	}
	hub, leaves := handles[0], handles[1:]
	for _, h := range handles {
		if err := loUp(h); err != nil {
			return err
		}
	}
	type end struct {
		h     *netlink.Handle
		index int
	}
	ends := make([]end, 0, 2*len(links))
	hubLinks := make([]netlink.Link, len(links))
	leafLinks := make([]netlink.Link, len(links))
	for i, l := range links {
		// The peer is created straight in its namespace; the fd is only
		// needed for that, so it is not kept (two fds per namespace would
		// not fit 10,000 leaves in this machine's limit).
		ns, err := netns.GetFromPath(Dir + "/" + names[i+1])
		if err != nil {
			return err
		}
		v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: l.HubIf, Flags: net.FlagUp, TxQLen: -1},
			PeerName: "eth0", PeerNamespace: netlink.NsFd(int(ns)), PeerTxQLen: -1}
		err = hub.LinkAdd(v)
		ns.Close()
		if err != nil {
			return fmt.Errorf("veth %s: %w", l.HubIf, err)
		}
		if hubLinks[i], err = hub.LinkByName(l.HubIf); err != nil {
			return err
		}
		if leafLinks[i], err = leaves[i].LinkByName("eth0"); err != nil {
			return err
		}
		if err := leaves[i].LinkSetUp(leafLinks[i]); err != nil {
			return err
		}
		ends = append(ends, end{hub, hubLinks[i].Attrs().Index}, end{leaves[i], leafLinks[i].Attrs().Index})
	}
	for i, l := range links {
		a, err := netlink.ParseAddr(l.HubAddr)
		if err != nil {
			return err
		}
		if err := hub.AddrAdd(hubLinks[i], a); err != nil {
			return err
		}
		if a, err = netlink.ParseAddr(l.LeafAddr); err != nil {
			return err
		}
		if err := leaves[i].AddrAdd(leafLinks[i], a); err != nil {
			return err
		}
	}
	// Usable: ask for each end still down by index. A single-link
	// RTM_GETLINK makes the kernel run the link's pending linkwatch event
	// (Linux >= 6.8), which a dump does not.
	deadline := time.Now().Add(opt.Timeout)
	for {
		down := ends[:0]
		for _, e := range ends {
			l, err := e.h.LinkByIndex(e.index)
			if err != nil {
				return err
			}
			if l.Attrs().OperState != netlink.OperUp {
				down = append(down, e)
			}
		}
		if len(down) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d veth ends still down after %s", len(down), opt.Timeout)
		}
		ends = down
		time.Sleep(time.Millisecond)
	}
}

func loUp(h *netlink.Handle) error {
	lo, err := h.LinkByName("lo")
	if err != nil {
		return err
	}
	return h.LinkSetUp(lo)
}

// create makes the named namespaces on one locked thread, which unshares
// into each in turn, mounts it and opens its netlink socket from inside
// (no setns per namespace), then goes home. A thread that cannot go home
// stays locked and dies with its goroutine. ipv6Off(i) says whether to
// turn IPv6 off in names[i].
func create(names []string, ipv6Off func(int) bool) ([]*netlink.Handle, error) {
	if err := os.MkdirAll(Dir, 0o755); err != nil {
		return nil, err
	}
	var hs []*netlink.Handle
	err := away(func() error {
		hs = make([]*netlink.Handle, len(names))
		for i, name := range names {
			var err error
			if hs[i], err = createOne(name, ipv6Off(i)); err != nil {
				return err
			}
		}
		return nil
	})
	return hs, err
}

// away runs f on a locked thread that f may move to other namespaces,
// then goes home. A thread that cannot go home stays locked and dies
// with its goroutine.
func away(f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := netns.Get()
		if err != nil {
			done <- err
			return
		}
		defer home.Close()
		ferr := f()
		if err := netns.Set(home); err != nil {
			done <- errors.Join(ferr, err)
			return // stays locked: the runtime discards the thread
		}
		runtime.UnlockOSThread()
		done <- ferr
	}()
	return <-done
}

func createOne(name string, ipv6Off bool) (*netlink.Handle, error) {
	p := Dir + "/" + name
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o444)
	if err != nil {
		return nil, fmt.Errorf("netns %s: %w", name, err)
	}
	unix.Close(fd)
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		unix.Unlink(p)
		return nil, fmt.Errorf("netns %s: unshare: %w", name, err)
	}
	src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
	if err := unix.Mount(src, p, "none", unix.MS_BIND, ""); err != nil {
		unix.Unlink(p)
		return nil, fmt.Errorf("netns %s: mount: %w", name, err)
	}
	if ipv6Off {
		// /proc/sys/net is the opening thread's namespace's.
		if err := os.WriteFile("/proc/sys/net/ipv6/conf/all/disable_ipv6", []byte("1"), 0); err != nil {
			return nil, fmt.Errorf("netns %s: ipv6 off: %w", name, err)
		}
	}
	return netlink.NewHandle(unix.NETLINK_ROUTE)
}

// Destroy unmounts every namespace named <lab>-* and waits until the
// kernel has torn them down, the way netcompose's destroy does.
func Destroy(lab string) error {
	ents, err := os.ReadDir(Dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var errs []error
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), lab+"-") {
			continue
		}
		p := Dir + "/" + e.Name()
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
			errs = append(errs, fmt.Errorf("netns %s: unmount: %w", e.Name(), err))
			continue
		}
		if err := unix.Unlink(p); err != nil && err != unix.ENOENT {
			errs = append(errs, fmt.Errorf("netns %s: remove: %w", e.Name(), err))
		}
	}
	if err := Settle(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Settle waits until the kernel has torn down the namespaces released so
// far, as netcompose's destroy does (compose/kernel/settle.go): a veth
// between a witness and a probe namespace vanishes when the probe, dropped
// last, has been torn down; the kernel's cleanup is ordered, so everything
// released before it is gone too. Two rounds, because a socket's last
// reference to a namespace drops an RCU grace period after its close.
func Settle() error {
	for range 2 {
		if err := probe(); err != nil {
			return err
		}
	}
	return nil
}

func probe() error {
	w, p, err := anonymousPair()
	if err != nil {
		return err
	}
	defer w.Close()
	h, err := netlink.NewHandleAt(w, unix.NETLINK_ROUTE)
	if err != nil {
		p.Close()
		return err
	}
	defer h.Close()
	err = h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "probe", TxQLen: -1},
		PeerName: "probe", PeerNamespace: netlink.NsFd(int(p)), PeerTxQLen: -1})
	p.Close() // the probe's last reference
	if err != nil {
		return err
	}
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); {
		if _, err := h.LinkByName("probe"); err != nil {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return errors.New("settle: probe namespace not torn down after 2 minutes")
}

// anonymousPair makes two namespaces that are never mounted and returns
// their fds; the thread that made them goes home before it is released,
// so nothing but the fds holds them.
func anonymousPair() (w, p netns.NsHandle, err error) {
	fds := [2]netns.NsHandle{-1, -1}
	err = away(func() error {
		for i := range fds {
			var err error
			if err = unix.Unshare(unix.CLONE_NEWNET); err != nil {
				return err
			}
			if fds[i], err = netns.Get(); err != nil {
				return err
			}
		}
		return nil
	})
	return fds[0], fds[1], err
}
