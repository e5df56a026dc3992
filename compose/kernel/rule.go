package kernel

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/netcompose/netcompose/internal/netlinksafe"

	"github.com/netcompose/netcompose/compose"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// ruleDriver manages policy-routing rules marked with RouteProtocol; Name
// is the priority, attrs family from to iif oif ipproto sport dport action
// (see compose.Rule). Rules anyone else made, the kernel's own included,
// are never seen, so never touched.
type ruleDriver struct{}

// ruleActionTypes maps an action to the fib rule action (the rtmsg type
// field of a rule message).
var ruleActionTypes = map[string]uint8{
	"blackhole":   nl.FR_ACT_BLACKHOLE,
	"unreachable": nl.FR_ACT_UNREACHABLE,
	"prohibit":    nl.FR_ACT_PROHIBIT,
}

// dump reads the node's rules: a rule dump needs a socket of its own per
// namespace (see ourRules), too dear for every node of a large lab that
// has none, so Observe asks only where rules are or are wanted (dumper).
func (ruleDriver) dump(s *session, sn *snapshot) (any, error) {
	return netlinksafe.Dump(func() ([]compose.Resource, error) { return ourRules(s, sn.node) })
}

func (ruleDriver) observe(s *session, snaps []*snapshot, desired []compose.Resource) ([]compose.Resource, error) {
	var out []compose.Resource
	for _, sn := range snaps {
		rs, _ := sn.dumps[compose.KindRule].([]compose.Resource)
		// Two of ours at one priority (one made by hand): the extra ones get
		// names no file asks for, so the plan deletes them.
		seen := map[string]int{}
		for _, r := range rs {
			if n := seen[r.Name]; n > 0 {
				seen[r.Name]++
				r.Name += "#" + strconv.Itoa(n+1)
			} else {
				seen[r.Name] = 1
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// ourRules dumps the node's rules of both families and returns those
// marked with RouteProtocol. The netlink package's rule dump drops the
// action, so this one reads the messages itself.
func ourRules(s *session, node string) ([]compose.Resource, error) {
	sock, err := s.rawSocket(node)
	if err != nil {
		return nil, err
	}
	req := nl.NewNetlinkRequest(unix.RTM_GETRULE, unix.NLM_F_DUMP)
	req.AddData(nl.NewRtMsg()) // family AF_UNSPEC: every family
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: sock}
	msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWRULE)
	if err != nil {
		return nil, err
	}
	var out []compose.Resource
	for _, m := range msgs {
		r, ok, err := ruleResource(node, m)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// ruleResource reads one rule message (a fib_rule_hdr, laid out as an
// rtmsg, and its attributes); ok is false when the rule is not ours.
func ruleResource(node string, m []byte) (r compose.Resource, ok bool, err error) {
	if len(m) < unix.SizeofRtMsg {
		return r, false, fmt.Errorf("short rule message (%d bytes)", len(m))
	}
	hdr := nl.DeserializeRtMsg(m)
	attrs, err := nl.ParseRouteAttr(m[unix.SizeofRtMsg:])
	if err != nil {
		return r, false, err
	}
	family := "inet"
	if hdr.Family == unix.AF_INET6 {
		family = "inet6"
	}
	a := map[string]string{"family": family, "from": "", "to": "", "iif": "", "oif": "",
		"ipproto": "", "sport": "", "dport": "", "action": ruleActionName(hdr.Type)}
	prio := 0
	for _, at := range attrs {
		v := at.Value
		switch at.Attr.Type {
		case nl.FRA_PROTOCOL:
			ok = len(v) >= 1 && v[0] == RouteProtocol
		case nl.FRA_PRIORITY:
			prio = int(binary.NativeEndian.Uint32(v))
		case nl.FRA_SRC:
			a["from"] = rulePrefix(v, hdr.Src_len)
		case nl.FRA_DST:
			a["to"] = rulePrefix(v, hdr.Dst_len)
		case nl.FRA_IIFNAME:
			a["iif"] = strings.TrimRight(string(v), "\x00")
		case nl.FRA_OIFNAME:
			a["oif"] = strings.TrimRight(string(v), "\x00")
		case nl.FRA_IP_PROTO:
			a["ipproto"] = ipprotoName(v[0])
		case nl.FRA_SPORT_RANGE:
			a["sport"] = portText(v)
		case nl.FRA_DPORT_RANGE:
			a["dport"] = portText(v)
		}
	}
	r = compose.Resource{Kind: compose.KindRule, Node: node, Name: strconv.Itoa(prio), Attrs: a}
	return r, ok, nil
}

func ruleActionName(t uint8) string {
	for name, v := range ruleActionTypes {
		if v == t {
			return name
		}
	}
	return "action" + strconv.Itoa(int(t))
}

func rulePrefix(ip []byte, bits uint8) string {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return fmt.Sprintf("%x/%d", ip, bits)
	}
	return netip.PrefixFrom(a.Unmap(), int(bits)).String()
}

func ipprotoName(p byte) string {
	switch p {
	case unix.IPPROTO_TCP:
		return "tcp"
	case unix.IPPROTO_UDP:
		return "udp"
	case unix.IPPROTO_ICMP, unix.IPPROTO_ICMPV6:
		return "icmp"
	}
	return strconv.Itoa(int(p))
}

func portText(v []byte) string {
	if len(v) < 4 {
		return ""
	}
	lo, hi := binary.NativeEndian.Uint16(v[0:2]), binary.NativeEndian.Uint16(v[2:4])
	if lo == hi {
		return strconv.Itoa(int(lo))
	}
	return strconv.Itoa(int(lo)) + "-" + strconv.Itoa(int(hi))
}

// rule builds the netlink rule for r, marked with RouteProtocol.
func (ruleDriver) rule(r compose.Resource) (*netlink.Rule, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("rule %s in %s: %s", r.Name, r.Node, fmt.Sprintf(format, args...))
	}
	ru := netlink.NewRule()
	prio, err := strconv.Atoi(strings.SplitN(r.Name, "#", 2)[0])
	if err != nil {
		return nil, bad("bad priority")
	}
	ru.Priority = prio
	ru.Protocol = RouteProtocol
	ru.Family = netlink.FAMILY_V4
	if r.Attrs["family"] == "inet6" {
		ru.Family = netlink.FAMILY_V6
	}
	t, ok := ruleActionTypes[r.Attrs["action"]]
	if !ok {
		// An observed rule of ours with another action ("action1", made by
		// hand) is deleted by its number.
		n, err := strconv.ParseUint(strings.TrimPrefix(r.Attrs["action"], "action"), 10, 8)
		if err != nil {
			return nil, bad("unknown action %q", r.Attrs["action"])
		}
		t = uint8(n)
	}
	ru.Type = t
	for k, dst := range map[string]**net.IPNet{"from": &ru.Src, "to": &ru.Dst} {
		if v := r.Attrs[k]; v != "" {
			_, n, err := net.ParseCIDR(v)
			if err != nil {
				return nil, bad("bad %s %q", k, v)
			}
			*dst = n
		}
	}
	ru.IifName, ru.OifName = r.Attrs["iif"], r.Attrs["oif"]
	switch p := r.Attrs["ipproto"]; p {
	case "":
	case "tcp":
		ru.IPProto = unix.IPPROTO_TCP
	case "udp":
		ru.IPProto = unix.IPPROTO_UDP
	case "icmp":
		ru.IPProto = unix.IPPROTO_ICMP
		if ru.Family == netlink.FAMILY_V6 {
			ru.IPProto = unix.IPPROTO_ICMPV6
		}
	default:
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 255 {
			return nil, bad("bad ipproto %q", p)
		}
		ru.IPProto = n
	}
	for k, dst := range map[string]**netlink.RulePortRange{"sport": &ru.Sport, "dport": &ru.Dport} {
		if v := r.Attrs[k]; v != "" {
			lo, hi, isRange := strings.Cut(v, "-")
			if !isRange {
				hi = lo
			}
			a, aerr := strconv.ParseUint(lo, 10, 16)
			b, berr := strconv.ParseUint(hi, 10, 16)
			if aerr != nil || berr != nil {
				return nil, bad("bad %s %q", k, v)
			}
			*dst = netlink.NewRulePortRange(uint16(a), uint16(b))
		}
	}
	return ru, nil
}

func (d ruleDriver) create(s *session, r compose.Resource) error {
	ru, err := d.rule(r)
	if err != nil {
		return err
	}
	h, err := s.handle(r.Node)
	if err != nil {
		return err
	}
	if err := s.announceDump(compose.KindRule, r.Node); err != nil {
		return err
	}
	if err := h.RuleAdd(ru); err != nil {
		return fmt.Errorf("rule %s in %s: add: %w", r.Name, r.Node, err)
	}
	s.rec.addDump(compose.KindRule, r.Node)
	return nil
}

// update replaces the rule: the kernel has no in-place change for rules
// (every attribute forces a replace, so plans never ask for this).
func (d ruleDriver) update(s *session, before, after compose.Resource) error {
	if err := d.delete(s, before); err != nil {
		return err
	}
	return d.create(s, after)
}

// delete removes the rule matching every attribute of r: the kernel takes
// the attributes a delete leaves out as wildcards, so a full match never
// removes a different rule at the same priority.
func (d ruleDriver) delete(s *session, r compose.Resource) error {
	ru, err := d.rule(r)
	if err != nil {
		return err
	}
	h, err := s.handle(r.Node)
	if err != nil {
		return err
	}
	if err := h.RuleDel(ru); err != nil && !gone(err) {
		return fmt.Errorf("rule %s in %s: delete: %w", r.Name, r.Node, err)
	}
	return nil
}
