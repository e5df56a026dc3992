package main

import (
	"fmt"

	"github.com/netcompose/netcompose/bench/floor"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// usable checks, right after apply returned, that every veth end of the
// hub and of the first and last leaves is operationally up. It reads them
// with link dumps, which (unlike single-link requests) do not make the
// kernel run pending link events: it sees what apply left, not what the
// check itself caused. l0's eth0 and the hub's h0 have equal ifindexes,
// so their events are the ones the kernel delays.
func usable(lab string, n int) error {
	nodes := []string{"hub", "l0", fmt.Sprintf("l%d", n-1)}
	for _, node := range nodes {
		ns, err := netns.GetFromPath(floor.Dir + "/" + floor.Name(lab, node))
		if err != nil {
			return err
		}
		h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
		ns.Close()
		if err != nil {
			return err
		}
		links, err := h.LinkList()
		h.Close()
		if err != nil {
			return err
		}
		veths := 0
		for _, l := range links {
			if l.Type() != "veth" {
				continue
			}
			veths++
			if l.Attrs().OperState != netlink.OperUp {
				return fmt.Errorf("%s:%s is %s", node, l.Attrs().Name, l.Attrs().OperState)
			}
		}
		if veths == 0 {
			return fmt.Errorf("%s has no veth", node)
		}
	}
	return nil
}
