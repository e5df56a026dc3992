package kernel

import (
	"slices"
	"strconv"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/nsrun"
)

// runState is what an Apply run holds beyond a session's handles: the
// journal that announces what it creates, and one thread that makes its
// namespaces.
type runState struct {
	journal journal
	creator *nsrun.Creator
}

func (s *session) startRun() {
	s.inRun = &runState{journal: journal{dir: s.rec.dir}}
}

func (s *session) endRun() {
	if s.inRun == nil {
		return
	}
	s.inRun.journal.close()
	if s.inRun.creator != nil {
		s.inRun.creator.Close()
	}
	s.inRun = nil
}

// createNamespace makes the node's namespace, announcing its inode in the
// journal before it becomes visible under /run/netns.
func (s *session) createNamespace(node string) error {
	if s.inRun == nil {
		s.startRun()
	}
	if s.inRun.creator == nil {
		s.inRun.creator = nsrun.NewCreator()
	}
	return s.inRun.creator.Create(s.nsName(node), func(ino uint64) error {
		return s.inRun.journal.write("ns", node, strconv.FormatUint(ino, 10))
	})
}

// announceLink notes in the journal that a link is about to be created,
// so that a run killed before it is marked still knows it as the lab's.
func (s *session) announceLink(node, ifname string, k compose.Kind, name string) error {
	if s.inRun == nil {
		return nil
	}
	return s.inRun.journal.write("link", node, ifname, string(k), name)
}

// announceDump notes that kind is about to put objects in node that only
// its own dump sees.
func (s *session) announceDump(k compose.Kind, node string) error {
	if s.inRun == nil || slices.Contains(s.rec.Dumps[k], node) {
		return nil
	}
	return s.inRun.journal.write("dump", string(k), node)
}
