package kernel

import (
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/nsrun"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// runState is what an Apply run holds beyond a session's handles: the
// journal that announces what it creates, and one thread that makes its
// namespaces.
type runState struct {
	journal journal
	creator *nsrun.Creator
	// here is set while code runs on the creator's thread (onCreator):
	// namespaces are then made right there.
	here *nsrun.Here
	// spares makes namespaces beside the creator for a run of new ones
	// (startSpares); nil outside such a run.
	spares *nsrun.Pool[*netlink.Handle]
	spared int // namespaces taken from spares
}

func (s *session) startRun() {
	s.inRun = &runState{journal: journal{dir: s.rec.dir}}
}

func (s *session) endRun() {
	if s.inRun == nil {
		return
	}
	s.inRun.journal.close()
	s.stopSpares()
	if s.inRun.creator != nil {
		s.inRun.creator.Close()
	}
	s.inRun = nil
}

// creator returns the run's namespace creator, started on first use.
func (s *session) creator() *nsrun.Creator {
	if s.inRun == nil {
		s.startRun()
	}
	if s.inRun.creator == nil {
		s.inRun.creator = nsrun.NewCreator()
	}
	return s.inRun.creator
}

// onCreator runs fn on the creator's thread (nsrun.Creator.Run); the
// namespaces fn makes through createNamespace are made there, with no
// trip between threads each. fn must not depend on its thread's network
// namespace: the session's work goes through netlink handles.
func (s *session) onCreator(fn func() error) error {
	return s.creator().Run(func(h nsrun.Here) error {
		s.inRun.here = &h
		defer func() { s.inRun.here = nil }()
		return fn()
	})
}

// startSpares starts a pool that makes up to n namespaces beside the
// creator's thread (nsrun.Pool), each with the node's netlink handle
// opened and lo up: createNamespace takes them, or makes one itself when
// none is ready.
func (s *session) startSpares(n int) {
	s.stopSpares()
	s.inRun.spares = nsrun.NewPool(n, func() (*netlink.Handle, error) {
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return nil, err
		}
		if err := loUpByIndex(h); err != nil {
			h.Close()
			return nil, err
		}
		return h, nil
	}, (*netlink.Handle).Close)
}

// stopSpares frees the namespaces the pool made and no step took.
func (s *session) stopSpares() {
	if s.inRun != nil && s.inRun.spares != nil {
		s.inRun.spares.Close()
		s.inRun.spares = nil
	}
}

// createNamespace makes the node's namespace, or takes one the run's
// pool made, announcing its inode in the journal before it becomes
// visible under /run/netns, and returns the inode and whether lo is up
// already (the pool's are).
func (s *session) createNamespace(node string) (ino uint64, loUp bool, err error) {
	c := s.creator() // first: it starts the run's state, should there be none
	var made uint64
	announce := func(ino uint64) error {
		made = ino
		return s.inRun.journal.write([]string{"ns", node, strconv.FormatUint(ino, 10)})
	}
	if sp, ok := s.inRun.spares.Take(); ok {
		h := sp.Value
		if err := nsrun.Mount(s.nsName(node), sp, announce); err != nil {
			h.Close()
			unix.Close(sp.Fd)
			return made, false, err
		}
		s.keep(node, netns.NsHandle(sp.Fd), h)
		s.inRun.spared++
		return made, true, nil
	}
	// The node's connection is made on the creator's thread, which is in
	// the new namespace already: no thread goes in and out for it.
	connect := func() error {
		ns, err := netns.Get()
		if err != nil {
			return &connectError{fmt.Errorf("netns %s: open: %w", s.nsName(node), err)}
		}
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			ns.Close()
			return &connectError{fmt.Errorf("netns %s: netlink: %w", s.nsName(node), err)}
		}
		s.keep(node, ns, h)
		return nil
	}
	if s.inRun.here != nil {
		err = s.inRun.here.CreateIn(s.nsName(node), announce, connect)
	} else {
		err = c.CreateIn(s.nsName(node), announce, connect)
	}
	var ce *connectError
	if errors.As(err, &ce) {
		// Made and mounted, and ours, but of no use: take it away.
		_ = nsrun.Delete(s.nsName(node))
	}
	return made, false, err
}

// connectError is a failure to open a new namespace's connection.
type connectError struct{ err error }

func (e *connectError) Error() string { return e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

// announceLink notes in the journal that the link of kind k and name is
// about to be created with these ends (a pair has two), so that a run
// killed before they are marked still knows them as the lab's.
func (s *session) announceLink(k compose.Kind, name string, ends ...compose.End) error {
	if s.inRun == nil {
		return nil
	}
	lines := make([][]string, len(ends))
	for i, e := range ends {
		lines[i] = []string{"link", e.Node, e.Ifname, string(k), name}
	}
	return s.inRun.journal.write(lines...)
}

// announceDump notes that kind is about to put objects in node that only
// its own dump sees.
func (s *session) announceDump(k compose.Kind, node string) error {
	if s.inRun == nil || slices.Contains(s.rec.Dumps[k], node) {
		return nil
	}
	return s.inRun.journal.write([]string{"dump", string(k), node})
}
