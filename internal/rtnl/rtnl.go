// Package rtnl asks rtnetlink what vishvananda/netlink does not say, on
// a socket the caller opened in the namespace it means.
package rtnl

import (
	"encoding/binary"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// BridgeSTP reads a bridge's IFLA_BR_STP_STATE, which package netlink
// does not: one RTM_GETLINK for the link with that index.
func BridgeSTP(sh *nl.SocketHandle, index int) (bool, error) {
	req := nl.NewNetlinkRequest(unix.RTM_GETLINK, unix.NLM_F_ACK)
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = int32(index)
	req.AddData(msg)
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: sh}
	msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWLINK)
	if err != nil {
		return false, err
	}
	for _, m := range msgs {
		attrs, err := nl.ParseRouteAttr(m[unix.SizeofIfInfomsg:])
		if err != nil {
			return false, err
		}
		for _, a := range attrs {
			if a.Attr.Type != unix.IFLA_LINKINFO {
				continue
			}
			infos, err := nl.ParseRouteAttr(a.Value)
			if err != nil {
				return false, err
			}
			for _, info := range infos {
				if info.Attr.Type != nl.IFLA_INFO_DATA {
					continue
				}
				data, err := nl.ParseRouteAttr(info.Value)
				if err != nil {
					return false, err
				}
				for _, d := range data {
					if d.Attr.Type == nl.IFLA_BR_STP_STATE && len(d.Value) >= 4 {
						return binary.NativeEndian.Uint32(d.Value) != 0, nil
					}
				}
			}
		}
	}
	return false, nil
}
