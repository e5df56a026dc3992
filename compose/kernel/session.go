package kernel

import (
	"container/list"
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/nsrun"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// session is one Observe or Apply run: the lab's state record and one
// netlink handle per namespace, opened lazily and closed at the end.
type session struct {
	lab   string // the state key: a lab, or "<lab>@<host>"
	rec   *record
	adopt bool
	// underlayNS is the namespace (a name under /run/netns) where vxlan
	// devices on a host's underlay are created; "" is netcompose's own.
	underlayNS string
	// lookOnly is a session that only observes, once (Observe): each
	// node's connection is closed as soon as the node is dumped.
	lookOnly bool
	// run is what only Apply needs: the journal and the namespace creator
	// (see run.go); nil in Observe.
	inRun *runState

	mu    sync.Mutex
	conns map[string]*conn          // node -> namespace connection
	links map[string]map[string]int // node -> ifname -> ifindex learnt in this run
	nsLRU *list.List                // conns whose ns fd is open, most recently asked for first
}

// conn is a node's netlink handle, and its namespace's fd while that is
// open. A conn costs two file descriptors, and a lab of 10,000 nodes
// would need more than a common limit allows; but the fd is needed only
// to create links straight into the namespace (PeerNamespace), after the
// handle exists. So the session keeps at most nsKeep of them open, the
// ones most recently asked for by s.conn, and reopens the others from
// /run/netns when asked again: one fd per node, plus nsKeep.
type conn struct {
	// ns is open when s.conn returns it, and stays open until nsKeep
	// other conns have been asked for by s.conn: read it right after
	// s.conn (as creating a link does), never keep it.
	ns   netns.NsHandle
	h    *netlink.Handle
	raw  *nl.SocketHandle // for what package netlink cannot say; lazily
	node string
	elem *list.Element // in nsLRU while ns is open; nil for a pinned conn
}

func (c *conn) close() {
	c.h.Close()
	if c.raw != nil {
		c.raw.Close()
	}
	if c.ns.IsOpen() {
		c.ns.Close()
	}
}

// nsKeep is how many namespace fds a session keeps open: an eighth of the
// open-file limit, between 64 and 1024 (no reopening at all for labs of up
// to 1000 nodes on a machine with the usual limits).
var nsKeep = func() int {
	var l unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &l) != nil {
		return 64
	}
	return int(min(max(l.Cur/8, 64), 1024))
}()

func newSession(lab string, rec *record) *session {
	return &session{lab: lab, rec: rec, conns: map[string]*conn{}, links: map[string]map[string]int{}, nsLRU: list.New()}
}

func (s *session) nsName(node string) string { return namespaceName(s.lab, node) }

// conn returns the node's connection (opened once per run) with its
// namespace fd open. Code that needs only the handle uses s.handle.
func (s *session) conn(node string) (*conn, error) {
	c, err := s.open(node)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.elem == nil && c.ns.IsOpen() {
		return c, nil // pinned
	}
	if !c.ns.IsOpen() {
		ns, err := netns.GetFromPath(nsrun.Path(s.nsName(node)))
		if err != nil {
			return nil, fmt.Errorf("netns %s: open: %w", s.nsName(node), err)
		}
		c.ns = ns
		c.elem = s.nsLRU.PushFront(c)
	} else {
		s.nsLRU.MoveToFront(c.elem)
	}
	s.trimLocked()
	return c, nil
}

// trimLocked closes the namespace fds beyond nsKeep, least recently used
// first; the front one, just asked for, stays.
func (s *session) trimLocked() {
	for s.nsLRU.Len() > nsKeep {
		old := s.nsLRU.Remove(s.nsLRU.Back()).(*conn)
		old.ns.Close()
		old.ns, old.elem = netns.None(), nil
	}
}

// open returns the node's connection, opening it on first use.
func (s *session) open(node string) (*conn, error) {
	s.mu.Lock()
	c, ok := s.conns[node]
	s.mu.Unlock()
	if ok {
		return c, nil
	}
	ns, err := netns.GetFromPath(nsrun.Path(s.nsName(node)))
	if err != nil {
		return nil, fmt.Errorf("netns %s: open: %w", s.nsName(node), err)
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("netns %s: netlink: %w", s.nsName(node), err)
	}
	c = &conn{ns: ns, h: h, node: node}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.conns[node]; ok { // lost a race: keep the first
		h.Close()
		ns.Close()
		return old, nil
	}
	s.conns[node] = c
	// Keep the fd while there is room; never close another conn's here:
	// s.open runs in Observe's parallel workers, and only s.conn may
	// take a namespace fd away (see conn.ns).
	if s.nsLRU.Len() < nsKeep {
		c.elem = s.nsLRU.PushFront(c)
	} else {
		c.ns.Close()
	}
	return c, nil
}

// keep makes ns and h, opened elsewhere, the node's connection.
func (s *session) keep(node string, ns netns.NsHandle, h *netlink.Handle) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.conns[node]; ok {
		s.dropLocked(old)
	}
	c := &conn{ns: ns, h: h, node: node}
	s.conns[node] = c
	c.elem = s.nsLRU.PushFront(c)
	s.trimLocked()
}

func (s *session) handle(node string) (*netlink.Handle, error) {
	c, err := s.open(node)
	if err != nil {
		return nil, err
	}
	return c.h, nil
}

// forget closes the node's connection and drops what we learnt about it,
// when its namespace goes away.
func (s *session) forget(node string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releaseLocked(node)
	delete(s.links, node)
}

// release closes the node's connection, keeping what we learnt about its
// links: it is opened again if asked for.
func (s *session) release(node string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releaseLocked(node)
}

func (s *session) releaseLocked(node string) {
	if c, ok := s.conns[node]; ok {
		s.dropLocked(c)
		delete(s.conns, node)
	}
}

func (s *session) dropLocked(c *conn) {
	if c.elem != nil {
		s.nsLRU.Remove(c.elem)
		c.elem = nil
	}
	c.close()
}

func (s *session) close() {
	s.mu.Lock()
	cs := make([]*conn, 0, len(s.conns))
	for n, c := range s.conns {
		if c.elem != nil {
			s.nsLRU.Remove(c.elem)
			c.elem = nil
		}
		cs = append(cs, c)
		delete(s.conns, n)
	}
	s.mu.Unlock()
	// Closing a netlink socket takes about as long as a small dump: a
	// large lab's are closed a few at a time.
	if len(cs) < 2*observeWorkers {
		for _, c := range cs {
			c.close()
		}
		return
	}
	eachNode(context.Background(), len(cs), func(i int) { cs[i].close() })
}

func (s *session) learn(node, ifname string, index int) {
	s.mu.Lock()
	if s.links[node] == nil {
		s.links[node] = map[string]int{}
	}
	s.links[node][ifname] = index
	s.mu.Unlock()
}

func (s *session) unlearn(node, ifname string) {
	s.mu.Lock()
	delete(s.links[node], ifname)
	s.mu.Unlock()
}

// link returns a link to pass to netlink calls that need only its index:
// from what this run created, else looked up by name.
func (s *session) link(node, ifname string) (netlink.Link, error) {
	s.mu.Lock()
	idx, ok := s.links[node][ifname]
	s.mu.Unlock()
	if ok {
		return &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: idx, Name: ifname}}, nil
	}
	h, err := s.handle(node)
	if err != nil {
		return nil, err
	}
	l, err := h.LinkByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("link %s in %s: %w", ifname, node, err)
	}
	s.learn(node, ifname, l.Attrs().Index)
	return l, nil
}

// linkAt is link plus the node's handle, which every change to a link
// needs; the link's error comes first, so a delete can still ask gone(err).
func (s *session) linkAt(node, ifname string) (*netlink.Handle, netlink.Link, error) {
	l, err := s.link(node, ifname)
	if err != nil {
		return nil, nil, err
	}
	h, err := s.handle(node)
	if err != nil {
		return nil, nil, err
	}
	return h, l, nil
}

// alias is the interface alias that marks a link as the lab's.
func (s *session) alias(k compose.Kind, name string) string {
	return "netcompose:" + s.lab + ":" + string(k) + ":" + name
}

// owner parses an alias made by alias; ok is false for a link that is not
// the lab's.
func (s *session) owner(alias string) (k compose.Kind, name string, ok bool) {
	rest, ok := strings.CutPrefix(alias, "netcompose:"+s.lab+":")
	if !ok {
		return "", "", false
	}
	kind, name, ok := strings.Cut(rest, ":")
	return compose.Kind(kind), name, ok
}
