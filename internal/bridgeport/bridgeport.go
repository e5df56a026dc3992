// Package bridgeport reads and sets what rtnetlink says of bridge ports
// that package netlink does not give whole: every port's flags
// (IFLA_PROTINFO, locked included) and VLANs (IFLA_AF_SPEC) in one
// AF_BRIDGE link dump per namespace, and flags set by attribute number.
package bridgeport

import (
	"encoding/binary"
	"fmt"
	"slices"
	"syscall"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Port is one bridge port, or a bridge itself (Index == Master), as an
// AF_BRIDGE dump reports it.
type Port struct {
	Index  int
	Master int // the bridge's ifindex; a bridge's own entry has its own
	// Flags are the port's one-byte IFLA_BRPORT_* attributes (learning,
	// flood, isolated, locked, ...) by attribute number; a bridge's own
	// entry has none, and a kernel too old for an attribute omits it.
	Flags map[int]bool
	VLANs []VLAN // sorted by VID; empty when VLAN filtering is compiled out
}

// VLAN is one VLAN a port carries.
type VLAN struct {
	VID      uint16
	PVID     bool // untagged frames that come in are put in this VLAN
	Untagged bool // frames of this VLAN go out untagged
}

// Bridge VLAN flags (struct bridge_vlan_info, linux/if_bridge.h).
const (
	vlanInfoPVID       = 1 << 1
	vlanInfoUntagged   = 1 << 2
	vlanInfoRangeBegin = 1 << 3
	vlanInfoRangeEnd   = 1 << 4
	rtextFilterVLAN    = 1 << 1 // RTEXT_FILTER_BRVLAN: one entry per VID
	iflaBridgeVLAN     = 2      // IFLA_BRIDGE_VLAN_INFO
)

// Dump lists the bridges and bridge ports of the namespace sock is in.
func Dump(sock *nl.SocketHandle) ([]Port, error) {
	req := nl.NewNetlinkRequest(unix.RTM_GETLINK, unix.NLM_F_DUMP)
	req.AddData(nl.NewIfInfomsg(unix.AF_BRIDGE))
	req.AddData(nl.NewRtAttr(unix.IFLA_EXT_MASK, nl.Uint32Attr(rtextFilterVLAN)))
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: sock}
	msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWLINK)
	if err != nil {
		return nil, err
	}
	var out []Port
	for _, m := range msgs {
		p, err := parse(m)
		if err != nil {
			return nil, err
		}
		if p.Master != 0 {
			out = append(out, p)
		}
	}
	return out, nil
}

func parse(m []byte) (Port, error) {
	if len(m) < unix.SizeofIfInfomsg {
		return Port{}, fmt.Errorf("short link message (%d bytes)", len(m))
	}
	info := nl.DeserializeIfInfomsg(m)
	p := Port{Index: int(info.Index), Flags: map[int]bool{}}
	attrs, err := nl.ParseRouteAttr(m[unix.SizeofIfInfomsg:])
	if err != nil {
		return p, err
	}
	for _, a := range attrs {
		switch a.Attr.Type &^ unix.NLA_F_NESTED {
		case unix.IFLA_MASTER:
			if len(a.Value) >= 4 {
				p.Master = int(binary.NativeEndian.Uint32(a.Value))
			}
		case unix.IFLA_PROTINFO:
			flags, err := nl.ParseRouteAttr(a.Value)
			if err != nil {
				return p, err
			}
			for _, f := range flags {
				if len(f.Value) == 1 {
					p.Flags[int(f.Attr.Type&^unix.NLA_F_NESTED)] = f.Value[0] != 0
				}
			}
		case unix.IFLA_AF_SPEC:
			spec, err := nl.ParseRouteAttr(a.Value)
			if err != nil {
				return p, err
			}
			p.VLANs = vlans(spec)
		}
	}
	return p, nil
}

// vlans reads IFLA_BRIDGE_VLAN_INFO entries; a range (which an
// uncompressed dump does not send, but costs nothing to read) is spread.
func vlans(spec []syscall.NetlinkRouteAttr) []VLAN {
	var out []VLAN
	begin := -1
	for _, a := range spec {
		if a.Attr.Type != iflaBridgeVLAN || len(a.Value) < 4 {
			continue
		}
		flags := binary.NativeEndian.Uint16(a.Value[0:2])
		vid := binary.NativeEndian.Uint16(a.Value[2:4])
		v := VLAN{VID: vid, PVID: flags&vlanInfoPVID != 0, Untagged: flags&vlanInfoUntagged != 0}
		switch {
		case flags&vlanInfoRangeBegin != 0:
			begin = int(vid)
		case flags&vlanInfoRangeEnd != 0 && begin >= 0:
			for id := begin; id <= int(vid); id++ {
				out = append(out, VLAN{VID: uint16(id), Untagged: v.Untagged})
			}
			begin = -1
		default:
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b VLAN) int { return int(a.VID) - int(b.VID) })
	return out
}

// SetFlags sets one-byte IFLA_BRPORT_* flags of the port with ifindex
// index in one RTM_SETLINK. A kernel that does not know an attribute
// ignores it: read the port back to know.
func SetFlags(sock *nl.SocketHandle, index int, flags map[int]bool) error {
	req := nl.NewNetlinkRequest(unix.RTM_SETLINK, unix.NLM_F_ACK)
	msg := nl.NewIfInfomsg(unix.AF_BRIDGE)
	msg.Index = int32(index)
	req.AddData(msg)
	prot := nl.NewRtAttr(unix.IFLA_PROTINFO|unix.NLA_F_NESTED, nil)
	keys := make([]int, 0, len(flags))
	for k := range flags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := byte(0)
		if flags[k] {
			v = 1
		}
		prot.AddRtAttr(k, []byte{v})
	}
	req.AddData(prot)
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: sock}
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}
