package kernel

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/netlinksafe"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// mirrorDriver manages the tc filters that copy a bridge port's traffic
// to a monitor interface (Name "PORT/ingress" or "PORT/egress", attr to):
// on the port's clsact qdisc, a u32 filter matching every frame whose
// action is "mirred egress mirror dev TO". The lab's filters are known by
// their preference, as its routes and rules are by protocol 78: pref 78
// on ingress, 79 on egress (u32 shares its hash tables between the two
// directions of one qdisc by preference, so they must differ); only those
// on the lab's links are seen. The clsact qdisc is added when missing and
// left in place: other tc users may have filters there.
type mirrorDriver struct{}

// mirrorDirs maps a direction to its clsact parent and the lab's
// preference there.
var mirrorDirs = map[string]struct {
	parent uint32
	pref   uint16
}{
	compose.MirrorIngress: {netlink.HANDLE_MIN_INGRESS, RouteProtocol},
	compose.MirrorEgress:  {netlink.HANDLE_MIN_EGRESS, RouteProtocol + 1},
}

// mirrorFilter is one of the lab's mirror filters as a dump found it.
type mirrorFilter struct {
	link   int
	dir    string
	target int // ifindex of the monitor; 0 when the action has none
}

// dump reads the node's mirror filters: on every link with a clsact
// qdisc, the filters of both directions that carry the lab's marks.
// Observe asks only where the lab has or wants mirrors (dumper).
func (mirrorDriver) dump(s *session, sn *snapshot) (any, error) {
	h, err := s.handle(sn.node)
	if err != nil {
		return nil, err
	}
	qs, err := sn.qdiscList(s)
	if err != nil {
		return nil, err
	}
	var out []mirrorFilter
	for _, q := range qs {
		if q.Type() != "clsact" {
			continue
		}
		link := &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: q.Attrs().LinkIndex}}
		for dir, d := range mirrorDirs {
			fs, err := netlinksafe.Dump(func() ([]netlink.Filter, error) { return h.FilterList(link, d.parent) })
			if gone(err) {
				continue // the link went meanwhile
			}
			if err != nil {
				return nil, fmt.Errorf("tc filters of ifindex %d %s: %w", link.Index, dir, err)
			}
			for _, f := range fs {
				// The dump lists the preference's hash table as a filter
				// too: only a node with actions is one.
				u, ok := f.(*netlink.U32)
				if !ok || u.Priority != d.pref || len(u.Actions) == 0 {
					continue
				}
				mf := mirrorFilter{link: link.Index, dir: dir}
				for _, a := range u.Actions {
					if m, ok := a.(*netlink.MirredAction); ok && m.MirredAction == netlink.TCA_EGRESS_MIRROR {
						mf.target = m.Ifindex
					}
				}
				out = append(out, mf)
			}
		}
	}
	return out, nil
}

func (mirrorDriver) observe(s *session, snaps []*snapshot, _ []compose.Resource) ([]compose.Resource, error) {
	var out []compose.Resource
	for _, sn := range snaps {
		fs, _ := sn.dumps[compose.KindMirror].([]mirrorFilter)
		for _, f := range fs {
			if _, ours := sn.owned[f.link]; !ours {
				continue
			}
			to := sn.ifname(f.target)
			if to == "" {
				// The monitor went (the kernel keeps the filter, mirroring
				// nowhere): never the file's, so an update fixes it.
				to = "#" + strconv.Itoa(f.target)
			}
			out = append(out, compose.Resource{Kind: compose.KindMirror, Node: sn.node,
				Name: sn.ifname(f.link) + "/" + f.dir, Attrs: map[string]string{"to": to}})
		}
	}
	return out, nil
}

// filter is the u32 filter r describes, and the port's handle.
func (mirrorDriver) filter(s *session, r compose.Resource, withTarget bool) (*netlink.U32, *netlink.Handle, error) {
	port, dir, _ := strings.Cut(r.Name, "/")
	d, ok := mirrorDirs[dir]
	if !ok {
		return nil, nil, fmt.Errorf("mirror %s: want PORT/ingress or PORT/egress", r.Name)
	}
	h, l, err := s.linkAt(r.Node, port)
	if err != nil {
		return nil, nil, err
	}
	f := &netlink.U32{
		FilterAttrs: netlink.FilterAttrs{LinkIndex: l.Attrs().Index, Parent: d.parent, Priority: d.pref,
			Protocol: unix.ETH_P_ALL},
	}
	if withTarget {
		to, err := s.link(r.Node, r.Attrs["to"])
		if err != nil {
			return nil, nil, fmt.Errorf("mirror %s: monitor: %w", r.Name, err)
		}
		// Every frame (one key matching anything), copied to the monitor;
		// the frame itself goes on (the action pipes).
		f.Sel = &netlink.TcU32Sel{Flags: netlink.TC_U32_TERMINAL, Nkeys: 1, Keys: []netlink.TcU32Key{{}}}
		f.Actions = []netlink.Action{&netlink.MirredAction{
			ActionAttrs:  netlink.ActionAttrs{Action: netlink.TC_ACT_PIPE},
			MirredAction: netlink.TCA_EGRESS_MIRROR,
			Ifindex:      to.Attrs().Index,
		}}
	}
	return f, h, nil
}

func (d mirrorDriver) create(s *session, r compose.Resource) error {
	f, h, err := d.filter(s, r, true)
	if err != nil {
		return err
	}
	if err := s.announceDump(compose.KindMirror, r.Node); err != nil {
		return err
	}
	if err := ensureClsact(h, f.LinkIndex); err != nil {
		return fmt.Errorf("mirror %s in %s: clsact: %w", r.Name, r.Node, err)
	}
	if err := h.FilterAdd(f); err != nil {
		return fmt.Errorf("mirror %s in %s: add filter: %w", r.Name, r.Node, err)
	}
	s.rec.addDump(compose.KindMirror, r.Node)
	return nil
}

// update points the port at another monitor: the filter is replaced
// (u32 gave it its handle; the preference is the lab's whole).
func (d mirrorDriver) update(s *session, before, after compose.Resource) error {
	if err := d.delete(s, before); err != nil {
		return err
	}
	return d.create(s, after)
}

// delete removes the lab's preference in the port's direction, and with
// it the filter there: a delete without a handle takes the preference.
func (d mirrorDriver) delete(s *session, r compose.Resource) error {
	f, h, err := d.filter(s, r, false)
	if gone(err) {
		return nil
	}
	if err != nil {
		return err
	}
	// ENOENT: no such preference; EINVAL: no clsact qdisc to hold one.
	if err := h.FilterDel(f); err != nil && !gone(err) && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("mirror %s in %s: delete filter: %w", r.Name, r.Node, err)
	}
	return nil
}

// ensureClsact adds a clsact qdisc to the link unless it has one.
func ensureClsact(h *netlink.Handle, index int) error {
	link := &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: index}}
	qs, err := netlinksafe.Dump(func() ([]netlink.Qdisc, error) { return h.QdiscList(link) })
	if err != nil {
		return err
	}
	for _, q := range qs {
		if q.Type() == "clsact" {
			return nil
		}
	}
	return h.QdiscAdd(&netlink.GenericQdisc{
		QdiscAttrs: netlink.QdiscAttrs{LinkIndex: index, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT},
		QdiscType:  "clsact",
	})
}
