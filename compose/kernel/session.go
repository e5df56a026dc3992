package kernel

import (
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

	mu    sync.Mutex
	conns map[string]*conn    // node -> namespace connection
	links map[compose.End]int // ifindex learned in this run
}

type conn struct {
	ns  netns.NsHandle
	h   *netlink.Handle
	raw *nl.SocketHandle // for what package netlink cannot say; lazily
}

func (c *conn) close() {
	c.h.Close()
	if c.raw != nil {
		c.raw.Close()
	}
	c.ns.Close()
}

func newSession(lab string, rec *record) *session {
	return &session{lab: lab, rec: rec, conns: map[string]*conn{}, links: map[compose.End]int{}}
}

func (s *session) nsName(node string) string { return namespaceName(s.lab, node) }

// conn opens (once per run) the node's namespace and a netlink handle in it.
func (s *session) conn(node string) (*conn, error) {
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
	c = &conn{ns: ns, h: h}
	s.mu.Lock()
	if old, ok := s.conns[node]; ok { // lost a race: keep the first
		s.mu.Unlock()
		h.Close()
		ns.Close()
		return old, nil
	}
	s.conns[node] = c
	s.mu.Unlock()
	return c, nil
}

func (s *session) handle(node string) (*netlink.Handle, error) {
	c, err := s.conn(node)
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
	if c, ok := s.conns[node]; ok {
		c.close()
		delete(s.conns, node)
	}
	for e := range s.links {
		if e.Node == node {
			delete(s.links, e)
		}
	}
}

func (s *session) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for n, c := range s.conns {
		c.close()
		delete(s.conns, n)
	}
}

func (s *session) learn(node, ifname string, index int) {
	s.mu.Lock()
	s.links[compose.End{Node: node, Ifname: ifname}] = index
	s.mu.Unlock()
}

func (s *session) unlearn(node, ifname string) {
	s.mu.Lock()
	delete(s.links, compose.End{Node: node, Ifname: ifname})
	s.mu.Unlock()
}

// link returns a link to pass to netlink calls that need only its index:
// from what this run created, else looked up by name.
func (s *session) link(node, ifname string) (netlink.Link, error) {
	s.mu.Lock()
	idx, ok := s.links[compose.End{Node: node, Ifname: ifname}]
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
