package kernel

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/netcompose/netcompose/compose"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// vethDriver manages veth pairs (attrs a.node a.ifname b.node b.ifname
// mtu, a.up b.up: each end's administrative state, "true" or "false",
// and a.mac b.mac: each end's MAC). Both ends carry the alias
// netcompose:<lab>:veth:<name>, which is how the observer pairs them.
type vethDriver struct{}

func (vethDriver) observe(s *session, snaps []*snapshot, desired []compose.Resource) ([]compose.Resource, error) {
	type end struct {
		node, ifname string
		mtu          int
		up           bool
		mac          string
	}
	ends := map[string][]end{}
	for _, sn := range snaps {
		for idx, m := range sn.owned {
			if m.kind != compose.KindVeth {
				continue
			}
			a := sn.byIndex[idx].Attrs()
			ends[m.name] = append(ends[m.name], end{sn.node, a.Name, a.MTU, isUp(a), a.HardwareAddr.String()})
		}
	}
	want := map[string]compose.Resource{}
	for _, r := range desired {
		if r.Kind == compose.KindVeth {
			want[r.Name] = r
		}
	}
	var out []compose.Resource
	for name, es := range ends {
		sort.Slice(es, func(i, j int) bool {
			if es[i].node != es[j].node {
				return es[i].node < es[j].node
			}
			return es[i].ifname < es[j].ifname
		})
		// Name the ends as the file does when they match it.
		if d, ok := want[name]; ok && len(es) == 2 &&
			es[1].node == d.Attrs["a.node"] && es[1].ifname == d.Attrs["a.ifname"] {
			es[0], es[1] = es[1], es[0]
		}
		r := compose.Resource{Kind: compose.KindVeth, Name: name, Attrs: map[string]string{
			"a.node": es[0].node, "a.ifname": es[0].ifname, "mtu": strconv.Itoa(es[0].mtu),
			"a.up": strconv.FormatBool(es[0].up), "a.mac": es[0].mac,
		}}
		if len(es) > 1 {
			r.Attrs["b.node"], r.Attrs["b.ifname"] = es[1].node, es[1].ifname
			r.Attrs["b.up"] = strconv.FormatBool(es[1].up)
			r.Attrs["b.mac"] = es[1].mac
			if es[1].mtu != es[0].mtu {
				// Never equal to a desired value: an update sets both.
				r.Attrs["mtu"] = fmt.Sprintf("%d,%d", es[0].mtu, es[1].mtu)
			}
		}
		out = append(out, r)
	}
	return out, nil
}

func (vethDriver) create(s *session, r compose.Resource) error {
	an, ai, bn, bi := r.Attrs["a.node"], r.Attrs["a.ifname"], r.Attrs["b.node"], r.Attrs["b.ifname"]
	mtu, err := mtuAttr(r)
	if err != nil {
		return err
	}
	amac, err := macAttr(r, "a.mac")
	if err != nil {
		return err
	}
	bmac, err := macAttr(r, "b.mac")
	if err != nil {
		return err
	}
	ca, err := s.conn(an)
	if err != nil {
		return err
	}
	alias := s.alias(compose.KindVeth, r.Name)
	v := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: ai, MTU: mtu, TxQLen: -1, HardwareAddr: amac},
		PeerName:         bi,
		PeerMTU:          uint32(mtu),
		PeerTxQLen:       -1,
		PeerHardwareAddr: bmac,
	}
	cb := ca
	if bn != an {
		// Create the peer straight in its namespace: moving it there
		// afterwards costs about 25 times more.
		if cb, err = s.conn(bn); err != nil {
			return err
		}
		v.PeerNamespace = netlink.NsFd(int(cb.ns))
	}
	if err := s.announceLink(compose.KindVeth, r.Name, compose.End{Node: an, Ifname: ai}, compose.End{Node: bn, Ifname: bi}); err != nil {
		return err
	}
	if err := ca.h.LinkAdd(v); err != nil {
		return fmt.Errorf("veth %s: create: %w", r.Name, err)
	}
	if err := markEnds(s, r.Name, alias, ca, an, v, cb, bn, bi); err != nil {
		// No undo is recorded for a step that failed: the pair just made
		// (ours, so unmarked or not) goes now, or it would be in the way
		// of every later run.
		dropLink(ca.h, ai)
		return err
	}
	return nil
}

// markEnds learns the index of both ends of a new veth, marks them and
// brings them up: the kernel ignores IFLA_IFALIAS when it creates a link.
// made, the end LinkAdd made down, is marked before it goes up
// (markThenUp); the peer goes up with its mark in one call (markUp).
// LinkAdd has read made's index back already; the peer's is read here.
func markEnds(s *session, name, alias string, ca *conn, an string, made netlink.Link, cb *conn, bn, bi string) error {
	ai, la := made.Attrs().Name, made
	if made.Attrs().Index == 0 {
		var err error
		if la, err = ca.h.LinkByName(ai); err != nil {
			return fmt.Errorf("veth %s: read back %s: %w", name, ai, err)
		}
	}
	s.learn(an, ai, la.Attrs().Index)
	if err := markThenUp(ca.h, la, alias); err != nil {
		return fmt.Errorf("veth %s: mark %s: %w", name, ai, err)
	}
	lb, err := cb.h.LinkByName(bi)
	if err != nil {
		return fmt.Errorf("veth %s: read back %s: %w", name, bi, err)
	}
	s.learn(bn, bi, lb.Attrs().Index)
	if err := markUp(cb.h, lb, alias); err != nil {
		return fmt.Errorf("veth %s: mark %s: %w", name, bi, err)
	}
	return nil
}

// dropLink deletes a link this step has just created, best effort.
func dropLink(h *netlink.Handle, ifname string) {
	if l, err := h.LinkByName(ifname); err == nil {
		_ = h.LinkDel(l)
	}
}

// update sets the MTU of both ends, the MAC of an end whose a.mac or
// b.mac changes (a veth takes a new MAC while up), and brings an end up
// (or, undoing that, down again) when its a.up or b.up changes.
func (vethDriver) update(s *session, before, after compose.Resource) error {
	mtus, err := endMTUs(after)
	if err != nil {
		return err
	}
	for i, e := range after.Ends() {
		if mtus[i] != 0 && after.Attrs["mtu"] != before.Attrs["mtu"] {
			if err := setMTU(s, e, mtus[i]); err != nil {
				return fmt.Errorf("veth %s: %w", after.Name, err)
			}
		}
		if err := updateMAC(s, e, before, after, [...]string{"a.mac", "b.mac"}[i]); err != nil {
			return fmt.Errorf("veth %s: %w", after.Name, err)
		}
		if err := updateUp(s, e, before, after, [...]string{"a.up", "b.up"}[i]); err != nil {
			return fmt.Errorf("veth %s: %w", after.Name, err)
		}
	}
	return nil
}

func (vethDriver) delete(s *session, r compose.Resource) error {
	ends := r.Ends()
	defer func() {
		for _, e := range ends {
			s.unlearn(e.Node, e.Ifname)
		}
	}()
	// Deleting one end deletes the pair; take the first end still there.
	var lastErr error
	for _, e := range ends {
		if e.Node == "" || !namespaceExists(s.lab, e.Node) {
			continue
		}
		err := delLink(s, e)
		if err == nil {
			return nil
		}
		lastErr = err
	}
	if lastErr != nil && !gone(lastErr) {
		return fmt.Errorf("veth %s: delete: %w", r.Name, lastErr)
	}
	return nil
}

// markThenUp sets the alias of a link that is down, then brings it up: two
// calls where markUp makes one, but the kernel tells of a changed link
// (NETDEV_CHANGE) only when it is up, and in a namespace with IPv6 each
// such change walks the namespace's whole IPv6 routing table
// (rt6_sync_down_dev while the link has no carrier, rt6_sync_up after):
// in a hub with thousands of links that walk is most of the cost of a
// link.
func markThenUp(h *netlink.Handle, l netlink.Link, alias string) error {
	if err := h.LinkSetAlias(l, alias); err != nil {
		return err
	}
	return h.LinkSetUp(l)
}

// markUp sets an existing link's alias and brings it up in one
// RTM_NEWLINK: kind without kind data changes nothing else. Kernels
// before 6.2 refuse a name in that message on a link that is up, even
// its own (EBUSY): there it takes two calls that name none.
func markUp(h *netlink.Handle, l netlink.Link, alias string) error {
	a := l.Attrs()
	err := h.LinkModify(&netlink.GenericLink{
		LinkAttrs: netlink.LinkAttrs{Index: a.Index, Name: a.Name, Alias: alias, Flags: net.FlagUp, TxQLen: -1},
		LinkType:  l.Type(),
	})
	if errors.Is(err, unix.EBUSY) {
		if err = h.LinkSetAlias(l, alias); err == nil {
			err = h.LinkSetUp(l)
		}
	}
	return err
}

// isUp reports whether a link is administratively up (IFF_UP), whatever
// its carrier.
func isUp(a *netlink.LinkAttrs) bool { return a.Flags&net.FlagUp != 0 }

// updateUp brings e up or down when attribute key ("up", "a.up", "b.up")
// differs between before and after; "true" is up, "false" down, and an
// absent key is not managed.
func updateUp(s *session, e compose.End, before, after compose.Resource, key string) error {
	v, ok := after.Attrs[key]
	if !ok || v == before.Attrs[key] {
		return nil
	}
	up, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("%s: bad %s %q", e.Ifname, key, v)
	}
	return setUp(s, e, up)
}

// setUp sets the administrative state of e.
func setUp(s *session, e compose.End, up bool) error {
	h, l, err := s.linkAt(e.Node, e.Ifname)
	if err != nil {
		return err
	}
	if up {
		err = h.LinkSetUp(l)
	} else {
		err = h.LinkSetDown(l)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", e.Ifname, upDown(up), err)
	}
	return nil
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

func delLink(s *session, e compose.End) error {
	h, l, err := s.linkAt(e.Node, e.Ifname)
	if err != nil {
		return err
	}
	return h.LinkDel(l)
}

func setMTU(s *session, e compose.End, mtu int) error {
	h, l, err := s.linkAt(e.Node, e.Ifname)
	if err != nil {
		return err
	}
	if err := h.LinkSetMTU(l, mtu); err != nil {
		return fmt.Errorf("%s mtu %d: %w", e.Ifname, mtu, err)
	}
	return nil
}

// macAttr parses the MAC attribute key ("mac", "a.mac", "b.mac"); nil
// when absent, which leaves the kernel to pick a random one.
func macAttr(r compose.Resource, key string) (net.HardwareAddr, error) {
	v := r.Attrs[key]
	if v == "" {
		return nil, nil
	}
	hw, err := net.ParseMAC(v)
	if err != nil {
		return nil, fmt.Errorf("%s: bad %s %q", compose.Label(r), key, v)
	}
	return hw, nil
}

// updateMAC sets the MAC of e when attribute key differs between before
// and after; an absent key is not managed.
func updateMAC(s *session, e compose.End, before, after compose.Resource, key string) error {
	v, ok := after.Attrs[key]
	if !ok || v == "" || v == before.Attrs[key] {
		return nil
	}
	hw, err := macAttr(after, key)
	if err != nil {
		return err
	}
	return setMAC(s, e, hw)
}

// setMAC changes the MAC of e. Veths and bridges take a new MAC while up
// (IFF_LIVE_ADDR_CHANGE); a device that refuses while up (EBUSY) is set
// down for the change and up again.
func setMAC(s *session, e compose.End, hw net.HardwareAddr) error {
	h, l, err := s.linkAt(e.Node, e.Ifname)
	if err != nil {
		return err
	}
	err = h.LinkSetHardwareAddr(l, hw)
	if errors.Is(err, unix.EBUSY) {
		if err = h.LinkSetDown(l); err == nil {
			err = h.LinkSetHardwareAddr(l, hw)
			if uerr := h.LinkSetUp(l); err == nil {
				err = uerr
			}
		}
	}
	if err != nil {
		return fmt.Errorf("%s mac %s: %w", e.Ifname, hw, err)
	}
	return nil
}

// mtuAttr parses the mtu attribute; 0 when absent (kernel default).
// endMTUs reads a veth's mtu attribute per end: one MTU for both, or
// "A,B" as observed when the ends differ (an undo restores exactly that).
func endMTUs(r compose.Resource) ([2]int, error) {
	a, b, split := strings.Cut(r.Attrs["mtu"], ",")
	if !split {
		n, err := mtuAttr(r)
		return [2]int{n, n}, err
	}
	var out [2]int
	for i, v := range []string{a, b} {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return out, fmt.Errorf("%s: bad mtu %q", compose.Label(r), r.Attrs["mtu"])
		}
		out[i] = n
	}
	return out, nil
}

func mtuAttr(r compose.Resource) (int, error) {
	v, ok := r.Attrs["mtu"]
	if !ok || v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s: bad mtu %q", compose.Label(r), v)
	}
	return n, nil
}
