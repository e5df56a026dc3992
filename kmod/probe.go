package kmod

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/coreos/go-iptables/iptables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/netcompose/netcompose/internal/nsrun"
)

// ScratchPrefix starts the name of every namespace a probe creates; the
// probe deletes it before it returns.
const ScratchPrefix = "nckmod-"

// ErrUnknownProbe is returned by Probe for a name it has no probe for.
var ErrUnknownProbe = errors.New("unknown probe")

// Probe tries a kernel feature for real and undoes what it did. Link kinds
// are created in a throwaway namespace, which is deleted again; netfilter
// pieces are looked up in the kernel's live tables. Probe needs root.
func Probe(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	switch name {
	case "netns":
		return scratch(func(*netlink.Handle, string) error { return nil })
	case "veth":
		return probeLink(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "probe0"}, PeerName: "probe1"})
	case "bridge":
		return probeLink(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "probe0"}})
	case "vxlan":
		return probeLink(&netlink.Vxlan{LinkAttrs: netlink.LinkAttrs{Name: "probe0"}, VxlanId: 42, Port: 4789})
	case "nfnetlink_queue":
		// nfnetlink_queue creates this file in every namespace it serves.
		return exists("/proc/net/netfilter/nfnetlink_queue")
	case "xt_NFQUEUE":
		return probeNFQUEUE("/proc/net/ip_tables_targets")
	case "iptables":
		return inScratch(func() error {
			ipt, err := iptables.New()
			if err != nil {
				return err
			}
			_, err = ipt.ListChains("filter")
			return err
		})
	case "sysctl":
		return exists("/proc/sys/net/ipv4/ip_forward")
	case "ipv6":
		return exists("/proc/sys/net/ipv6/conf/all/disable_ipv6")
	case "netem":
		return probeQdisc(&netlink.Netem{Limit: 1000})
	case "tbf":
		return probeQdisc(&netlink.Tbf{Rate: 125000, Buffer: 200000, Limit: 10000})
	}
	if probe, ok := switchProbes[name]; ok {
		return probe()
	}
	return fmt.Errorf("%w %q", ErrUnknownProbe, name)
}

// probeNFQUEUE looks for the target in the kernel's list of registered
// xtables targets, and when that list is not there (iptables over
// nf_tables without ip_tables), adds an NFQUEUE rule in a scratch
// namespace.
func probeNFQUEUE(targets string) error {
	found, err := listed(targets, "NFQUEUE")
	if found {
		return nil
	}
	if err == nil {
		return fmt.Errorf("NFQUEUE not in %s", targets)
	}
	return inScratch(func() error {
		ipt, err := iptables.New()
		if err != nil {
			return err
		}
		return ipt.Append("filter", "INPUT", "-j", "NFQUEUE", "--queue-num", "0", "--queue-bypass")
	})
}

func probeLink(l netlink.Link) error {
	return scratch(func(h *netlink.Handle, _ string) error {
		if err := h.LinkAdd(l); err != nil {
			return fmt.Errorf("create %s: %w", l.Type(), err)
		}
		// Read it back: the kernel may accept the request and still not
		// have made that kind of link.
		got, err := h.LinkByName(l.Attrs().Name)
		if err != nil {
			return fmt.Errorf("%s: read back: %w", l.Type(), err)
		}
		if got.Type() != l.Type() {
			return fmt.Errorf("%s: read back: got a %s link", l.Type(), got.Type())
		}
		return h.LinkDel(got)
	})
}

// probeQdisc puts q as the root qdisc of a veth in a scratch namespace
// and reads it back: a kernel without the qdisc refuses its kind
// ("Specified qdisc kind is unknown").
func probeQdisc(q netlink.Qdisc) error {
	return scratch(func(h *netlink.Handle, _ string) error {
		if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "probe0"}, PeerName: "probe1"}); err != nil {
			return fmt.Errorf("%s: create a veth to put it on: %w", q.Type(), err)
		}
		l, err := h.LinkByName("probe0")
		if err != nil {
			return fmt.Errorf("%s: read back the veth: %w", q.Type(), err)
		}
		*q.Attrs() = netlink.QdiscAttrs{LinkIndex: l.Attrs().Index, Parent: netlink.HANDLE_ROOT}
		if err := h.QdiscAdd(q); err != nil {
			return fmt.Errorf("add a %s qdisc: %w", q.Type(), err)
		}
		qs, err := h.QdiscList(l)
		if err != nil {
			return fmt.Errorf("%s: read back: %w", q.Type(), err)
		}
		for _, got := range qs {
			if got.Attrs().Parent == netlink.HANDLE_ROOT && got.Type() == q.Type() {
				return nil
			}
		}
		return fmt.Errorf("%s: read back: no %s qdisc at the root", q.Type(), q.Type())
	})
}

// scratch runs fn with a netlink handle in a new throwaway namespace (and
// the namespace's path) and deletes the namespace (and whatever fn left in it) afterwards.
func scratch(fn func(h *netlink.Handle, path string) error) (err error) {
	name := fmt.Sprintf("%s%d-%08x", ScratchPrefix, os.Getpid(), rand.Uint32())
	if err := nsrun.Create(name); err != nil {
		return err
	}
	defer func() {
		if derr := nsrun.Delete(name); derr != nil && err == nil {
			err = derr
		}
	}()
	ns, err := netns.GetFromPath(nsrun.Path(name))
	if err != nil {
		return fmt.Errorf("netns %s: open: %w", name, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netns %s: netlink: %w", name, err)
	}
	defer h.Close()
	return fn(h, nsrun.Path(name))
}

// inScratch runs fn inside a throwaway namespace (commands it starts run
// there too) and deletes the namespace afterwards.
func inScratch(fn func() error) error {
	return scratch(func(_ *netlink.Handle, path string) error {
		return nsrun.Do(path, fn)
	})
}

func exists(path string) error {
	_, err := os.Stat(path)
	return err
}

// listed says whether a line of the file is exactly word.
func listed(path, word string) (bool, error) {
	fh, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == word {
			return true, nil
		}
	}
	return false, sc.Err()
}
