package kernel

import (
	"context"
	"time"

	"github.com/netcompose/netcompose/internal/nsrun"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The kernel frees a deleted namespace asynchronously: one ordered
// workqueue ("netns") unregisters the interfaces of every namespace whose
// last reference went, batch after batch. Right after many namespaces are
// deleted that work competes with whatever runs next (a following apply
// builds several times slower), and a vxlan's UDP socket in its underlay
// lingers until its device is gone; so destroy waits for it.
//
// Nothing reports when a namespace is gone, but a veth does: it vanishes
// when the namespace of its other end has been torn down. settle makes a
// witness namespace W and a probe namespace P joined by a veth, drops P,
// and waits until W's end of the veth is gone. The workqueue is ordered,
// so by then every namespace released before P has been torn down too.
// Neither is ever mounted (only our file descriptors keep them), so
// nothing is left behind even if the process dies.

// A namespace's last reference can drop after we let go of it: a netlink
// socket's close frees it after an RCU grace period. So settle probes
// twice: the first round takes at least a grace period (the teardown
// waits for several), and references released during it are queued
// before the second probe.
const settleRounds = 2

// settleTimeout bounds the wait: the kernel may be slow, never stuck.
const settleTimeout = 2 * time.Minute

// settle waits until the kernel has torn down the namespaces released so
// far. Errors only end the wait early: nothing depends on it but timing.
func settle(ctx context.Context) error {
	for range settleRounds {
		if err := probe(ctx); err != nil {
			return err
		}
	}
	return nil
}

// probe is one round of settle. Its two namespaces are never mounted:
// they live only as our file descriptors, so a process killed mid-probe
// leaves nothing behind.
func probe(ctx context.Context) error {
	c := nsrun.NewCreator()
	defer c.Close()
	// P first: the creator's thread stays in the last namespace it made,
	// and must not keep P alive.
	pfd, err := c.Anonymous()
	if err != nil {
		return err
	}
	p := netns.NsHandle(pfd)
	wfd, err := c.Anonymous()
	if err != nil {
		p.Close()
		return err
	}
	w := netns.NsHandle(wfd)
	defer w.Close()
	h, err := netlink.NewHandleAt(w, unix.NETLINK_ROUTE)
	if err != nil {
		p.Close()
		return err
	}
	defer h.Close()
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "probe", TxQLen: -1},
		PeerName: "probe", PeerNamespace: netlink.NsFd(int(p)), PeerTxQLen: -1}
	err = h.LinkAdd(v)
	p.Close() // P's last reference: the kernel queues its teardown
	if err != nil {
		return err
	}
	deadline := time.Now().Add(settleTimeout)
	for time.Now().Before(deadline) {
		if _, err := h.LinkByName("probe"); err != nil {
			return nil // gone (or W unusable: stop waiting either way)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}
