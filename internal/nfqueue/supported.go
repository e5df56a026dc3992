package nfqueue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/coreos/go-iptables/iptables"
	nfq "github.com/florianl/go-nfqueue/v2"
	"golang.org/x/sys/unix"

	"github.com/netcompose/netcompose/internal/nsrun"
)

// ErrUnsupported is wrapped by Supported's error when the kernel or the
// system lacks a piece NFQUEUE needs (as opposed to, say, not being root).
var ErrUnsupported = errors.New("nfqueue is not supported here")

var probeSeq atomic.Uint64

// Supported tries NFQUEUE for real in a throwaway namespace: an iptables
// rule with the NFQUEUE target in each family, and a consumer bound to a
// queue. It names the missing piece, so the caller can report it instead
// of failing half-way through an apply. Module lists are not consulted:
// built-in features are not listed there.
func Supported() error { return DefaultTables.Supported() }

func (t Tables) Supported() error {
	name := fmt.Sprintf("nfqprobe-%d-%d", os.Getpid(), probeSeq.Add(1))
	if err := nsrun.Create(name); err != nil {
		return fmt.Errorf("nfqueue probe: %w", err)
	}
	defer nsrun.Delete(name)
	path := nsrun.Path(name)
	for _, family := range []int{4, 6} {
		err := t.in(path, family, func(h *iptables.IPTables) error {
			return h.Append(table, "INPUT", "-j", "NFQUEUE", "--queue-num", "0")
		})
		if err != nil {
			return fmt.Errorf("%w: ipv%d iptables NFQUEUE target: %w", ErrUnsupported, family, err)
		}
	}
	if err := probeBind(path); err != nil {
		return fmt.Errorf("%w: binding a queue (nfnetlink_queue): %w", ErrUnsupported, err)
	}
	return nil
}

// probeBind binds and unbinds queue 0 in the namespace at path.
func probeBind(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	nf, err := nfq.Open(&nfq.Config{NetNS: fd, NfQueue: 0, MaxPacketLen: 0xffff, Copymode: nfq.NfQnlCopyPacket, AfFamily: unix.AF_INET})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	err = nf.RegisterWithErrorFunc(ctx,
		func(nfq.Attribute) int { return 0 },
		func(error) int { return 1 })
	cancel()
	nf.Close()
	return err
}
