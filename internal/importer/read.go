package importer

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/netcompose/netcompose/internal/netlinksafe"
	"github.com/netcompose/netcompose/internal/nsrun"
	"github.com/netcompose/netcompose/internal/rtnl"
)

// Read reads the namespaces of sources and, for comparison, the sysctls
// of a fresh namespace that is made and thrown away.
func Read(sources []Source) (*Snapshot, error) {
	snap := &Snapshot{}
	handles := make([]netns.NsHandle, len(sources))
	defer func() {
		for _, h := range handles {
			if h.IsOpen() {
				h.Close()
			}
		}
	}()
	for i, s := range sources {
		h, err := netns.GetFromPath(nsrun.Path(s.Netns))
		if err != nil {
			return nil, fmt.Errorf("import: netns %s: %w", s.Netns, err)
		}
		handles[i] = h
	}
	home, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("import: own netns: %w", err)
	}
	defer home.Close()
	for i, s := range sources {
		st, err := readNode(s, handles[i], home, sources, handles)
		if err != nil {
			return nil, err
		}
		snap.Nodes = append(snap.Nodes, st)
	}
	c := nsrun.NewCreator()
	defer c.Close()
	fd, err := c.Anonymous()
	if err != nil {
		return nil, fmt.Errorf("import: a fresh namespace to compare sysctls with: %w", err)
	}
	fresh := netns.NsHandle(fd)
	defer fresh.Close()
	if snap.Fresh, err = readSysctls(fresh); err != nil {
		return nil, fmt.Errorf("import: sysctls of a fresh namespace: %w", err)
	}
	return snap, nil
}

// readNode reads one namespace; all are the namespaces imported, so that
// the numbers this one gives the others (netnsids) name their nodes.
func readNode(s Source, ns, home netns.NsHandle, all []Source, handles []netns.NsHandle) (*NodeState, error) {
	fail := func(what string, err error) error { return fmt.Errorf("import: netns %s: %s: %w", s.Netns, what, err) }
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fail("netlink", err)
	}
	defer h.Close()
	st := &NodeState{Source: s, STP: map[int]bool{}, Qdiscs: map[int][]string{}, Peers: map[int]string{}, HomeID: -1}
	if st.Links, err = netlinksafe.Dump(h.LinkList); err != nil {
		return nil, fail("links", err)
	}
	if st.Addrs, err = netlinksafe.Dump(func() ([]netlink.Addr, error) { return h.AddrList(nil, netlink.FAMILY_ALL) }); err != nil {
		return nil, fail("addresses", err)
	}
	if st.Routes, err = netlinksafe.Dump(func() ([]netlink.Route, error) {
		return h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	}); err != nil {
		return nil, fail("routes", err)
	}
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		n, err := netlinksafe.Dump(func() ([]netlink.Neigh, error) { return h.NeighList(0, fam) })
		if err != nil {
			return nil, fail("neighbours", err)
		}
		st.Neighs = append(st.Neighs, n...)
		p, err := netlinksafe.Dump(func() ([]netlink.Neigh, error) { return h.NeighProxyList(0, fam) })
		if err != nil {
			return nil, fail("proxy neighbours", err)
		}
		st.Proxies = append(st.Proxies, p...)
	}
	if st.FDB, err = netlinksafe.Dump(func() ([]netlink.Neigh, error) { return h.NeighList(0, unix.AF_BRIDGE) }); err != nil {
		return nil, fail("forwarding database", err)
	}
	for _, l := range st.Links {
		if q, err := netlinksafe.Dump(func() ([]netlink.Qdisc, error) { return h.QdiscList(l) }); err == nil {
			st.Qdiscs[l.Attrs().Index] = extraQdiscs(q)
		}
	}
	for i, o := range all {
		if o.Netns == s.Netns {
			continue
		}
		if id, err := h.GetNetNsIdByFd(int(handles[i])); err == nil && id >= 0 {
			st.Peers[id] = o.Node
		}
	}
	if id, err := h.GetNetNsIdByFd(int(home)); err == nil && id >= 0 {
		st.HomeID = id
	}
	if err := readRaw(st, ns); err != nil {
		return nil, fail("rules", err)
	}
	if st.Sysctls, err = readSysctls(ns); err != nil {
		return nil, fail("sysctls", err)
	}
	st.Firewall, st.Notes = readFirewall(s.Netns)
	return st, nil
}

// extraQdiscs are the qdiscs someone added: not the one a link gets by
// itself (handle 0:, or noqueue), as "tc qdisc" names them.
func extraQdiscs(qs []netlink.Qdisc) []string {
	var out []string
	for _, q := range qs {
		a := q.Attrs()
		if q.Type() == "noqueue" || a.Handle>>16 == 0 && a.Parent == netlink.HANDLE_ROOT {
			continue
		}
		where := "root"
		if a.Parent != netlink.HANDLE_ROOT {
			where = "parent " + netlink.HandleStr(a.Parent)
		}
		out = append(out, fmt.Sprintf("%s %s %s", q.Type(), netlink.HandleStr(a.Handle), where))
	}
	return out
}

// readRaw reads what the netlink package leaves out: the rules with their
// action, and each bridge's STP state. One socket in the namespace.
func readRaw(st *NodeState, ns netns.NsHandle) error {
	sock, err := nl.GetNetlinkSocketAt(ns, netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer sock.Close()
	sh := &nl.SocketHandle{Socket: sock}
	req := nl.NewNetlinkRequest(unix.RTM_GETRULE, unix.NLM_F_DUMP)
	req.AddData(nl.NewRtMsg())
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: sh}
	msgs, err := netlinksafe.Dump(func() ([][]byte, error) { return req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWRULE) })
	if err != nil {
		return err
	}
	for _, m := range msgs {
		r, err := parseRule(m)
		if err != nil {
			return err
		}
		st.Rules = append(st.Rules, r)
	}
	for _, l := range st.Links {
		if _, ok := l.(*netlink.Bridge); !ok {
			continue
		}
		on, err := rtnl.BridgeSTP(sh, l.Attrs().Index)
		if err != nil {
			return fmt.Errorf("bridge %s: stp: %w", l.Attrs().Name, err)
		}
		st.STP[l.Attrs().Index] = on
	}
	return nil
}

// Rule attributes newer than the netlink package (linux/fib_rules.h).
const (
	fraDSCP          = 25
	fraFlowlabel     = 26
	fraFlowlabelMask = 27
	fraSportMask     = 28
	fraDportMask     = 29
)

// parseRule reads one rule message: a fib_rule_hdr (laid out as an
// rtmsg, its type the action) and its attributes.
func parseRule(m []byte) (Rule, error) {
	if len(m) < unix.SizeofRtMsg {
		return Rule{}, fmt.Errorf("short rule message (%d bytes)", len(m))
	}
	hdr := nl.DeserializeRtMsg(m)
	attrs, err := nl.ParseRouteAttr(m[unix.SizeofRtMsg:])
	if err != nil {
		return Rule{}, err
	}
	r := Rule{Family: int(hdr.Family), Action: hdr.Type, Table: int(hdr.Table)}
	if hdr.Tos != 0 {
		r.Others = append(r.Others, fmt.Sprintf("tos %#x", hdr.Tos))
	}
	if hdr.Flags&netlink.FibRuleInvert != 0 {
		r.Others = append(r.Others, "not")
	}
	u32 := func(v []byte) uint32 { return binary.NativeEndian.Uint32(v) }
	var mark, mask uint32
	hasMask := false
	for _, a := range attrs {
		v := a.Value
		switch a.Attr.Type {
		case nl.FRA_PRIORITY:
			r.Priority = int(u32(v))
		case nl.FRA_TABLE:
			r.Table = int(u32(v))
		case nl.FRA_SRC:
			r.Src = prefix(v, hdr.Src_len)
		case nl.FRA_DST:
			r.Dst = prefix(v, hdr.Dst_len)
		case nl.FRA_IIFNAME:
			r.Iif = strings.TrimRight(string(v), "\x00")
		case nl.FRA_OIFNAME:
			r.Oif = strings.TrimRight(string(v), "\x00")
		case nl.FRA_IP_PROTO:
			r.IPProto = int(v[0])
		case nl.FRA_SPORT_RANGE:
			r.Sport = [2]uint16{binary.NativeEndian.Uint16(v), binary.NativeEndian.Uint16(v[2:])}
		case nl.FRA_DPORT_RANGE:
			r.Dport = [2]uint16{binary.NativeEndian.Uint16(v), binary.NativeEndian.Uint16(v[2:])}
		case nl.FRA_FWMARK:
			mark = u32(v)
		case nl.FRA_FWMASK:
			mask, hasMask = u32(v), true
		case nl.FRA_GOTO:
			r.Others = append(r.Others, fmt.Sprintf("goto %d", u32(v)))
		case nl.FRA_FLOW:
			if u32(v) != 0 {
				r.Others = append(r.Others, fmt.Sprintf("realms %#x", u32(v)))
			}
		case nl.FRA_TUN_ID:
			r.Others = append(r.Others, fmt.Sprintf("tun_id %d", binary.BigEndian.Uint64(v)))
		case nl.FRA_SUPPRESS_IFGROUP:
			if u32(v) != 0xffffffff {
				r.Others = append(r.Others, fmt.Sprintf("suppress_ifgroup %d", u32(v)))
			}
		case nl.FRA_SUPPRESS_PREFIXLEN:
			if u32(v) != 0xffffffff {
				r.Others = append(r.Others, fmt.Sprintf("suppress_prefixlength %d", u32(v)))
			}
		case nl.FRA_L3MDEV:
			if v[0] != 0 {
				r.Others = append(r.Others, "l3mdev")
			}
		case nl.FRA_UID_RANGE:
			r.Others = append(r.Others, fmt.Sprintf("uidrange %d-%d", u32(v), u32(v[4:])))
		case fraDSCP:
			r.Others = append(r.Others, fmt.Sprintf("dscp %d", v[0]))
		case fraFlowlabel, fraFlowlabelMask:
			r.Others = append(r.Others, fmt.Sprintf("flowlabel %#x", binary.BigEndian.Uint32(v)))
		case fraSportMask, fraDportMask:
			// The kernel dumps the mask of a port range; all ones is
			// the range itself.
			if m := binary.NativeEndian.Uint16(v); m != 0xffff {
				r.Others = append(r.Others, fmt.Sprintf("port mask %#x", m))
			}
		case nl.FRA_PROTOCOL, nl.FRA_PAD:
		default:
			r.Others = append(r.Others, fmt.Sprintf("attribute %d", a.Attr.Type))
		}
	}
	if mark != 0 || hasMask && mask != 0xffffffff {
		s := fmt.Sprintf("fwmark %#x", mark)
		if hasMask && mask != 0xffffffff {
			s += fmt.Sprintf("/%#x", mask)
		}
		r.Others = append(r.Others, s)
	}
	return r, nil
}

func prefix(v []byte, bits uint8) netip.Prefix {
	a, ok := netip.AddrFromSlice(v)
	if !ok {
		return netip.Prefix{}
	}
	return netip.PrefixFrom(a.Unmap(), int(bits))
}

// readFirewall lists the iptables and ip6tables rules of the namespace
// ("-t filter -A FORWARD ..."), with iptables-save run inside it; notes
// say what could not be looked at.
func readFirewall(name string) (rules, notes []string) {
	for _, tool := range []string{"iptables-save", "ip6tables-save"} {
		path, err := exec.LookPath(tool)
		if err != nil {
			notes = append(notes, fmt.Sprintf("%s rules not looked at: %s is not installed", strings.TrimSuffix(tool, "-save"), tool))
			continue
		}
		var out bytes.Buffer
		cmd := exec.Command(path)
		cmd.Stdout = &out
		err = nsrun.Do(nsrun.Path(name), cmd.Start)
		if err == nil {
			err = cmd.Wait()
		}
		if err != nil {
			notes = append(notes, fmt.Sprintf("%s rules not looked at: %s: %v", strings.TrimSuffix(tool, "-save"), tool, err))
			continue
		}
		table := ""
		sc := bufio.NewScanner(&out)
		for sc.Scan() {
			l := sc.Text()
			switch {
			case strings.HasPrefix(l, "*"):
				table = l[1:]
			case strings.HasPrefix(l, "-A "):
				rules = append(rules, fmt.Sprintf("%s -t %s %s", strings.TrimSuffix(tool, "-save"), table, l))
			}
		}
	}
	return rules, notes
}

func isZeroMAC(hw net.HardwareAddr) bool {
	for _, b := range hw {
		if b != 0 {
			return false
		}
	}
	return true
}
