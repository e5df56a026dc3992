package kernel

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/netlinksafe"
)

// LocalAddressError is a vxlan device whose local address no interface
// holds in the namespace that would create it (this machine's own, or
// ApplyOptions.UnderlayNetns). The kernel takes such a device without a
// word, and the tunnel then sends from an address that is not there: a
// host's slice applied on the wrong machine.
type LocalAddressError struct {
	Lab          string // the state key
	Node, Ifname string // the device
	Local        string
	// Netns is the underlay namespace looked in; "" is this machine's own.
	Netns string
}

func (e *LocalAddressError) Error() string {
	if e.Netns != "" {
		return fmt.Sprintf("lab %s: vxlan %s %s: local address %s is not an address of underlay namespace %s: "+
			"give --underlay-netns the namespace that holds %s", e.Lab, e.Node, e.Ifname, e.Local, e.Netns, e.Local)
	}
	return fmt.Sprintf("lab %s: vxlan %s %s: no such local address here: %s is not an address of this machine, so the tunnel "+
		"would send from an address it does not have; run this on the machine that has %s, "+
		"or simulate that machine with --underlay-netns NS (a namespace whose interface holds %s)",
		e.Lab, e.Node, e.Ifname, e.Local, e.Local, e.Local)
}

// CheckLocal checks, for the lab of state key key, before anything changes, that every vxlan device of
// desired created on the machine's own network (no underlay node) has its
// local address there: in this process's namespace, or in underlayNetns
// when given. Devices over a node's underlay are not checked: that node
// may not exist yet. It returns a *LocalAddressError for each device that
// fails, joined.
func CheckLocal(key string, desired []compose.Resource, underlayNetns string) error {
	var want []compose.Resource
	for _, r := range desired {
		if r.Kind == compose.KindVxlan && r.Attrs["underlay.netns"] == "" && r.Attrs["local"] != "" {
			want = append(want, r)
		}
	}
	if len(want) == 0 {
		return nil
	}
	// The very connection create would use (vxlanDriver.create).
	s := newSession(key, &record{})
	s.underlayNS = underlayNetns
	defer s.close()
	c, err := s.underlayConn(compose.Resource{})
	if err != nil {
		return err
	}
	addrs, err := netlinksafe.Dump(func() ([]netlink.Addr, error) { return c.h.AddrList(nil, netlink.FAMILY_ALL) })
	if err != nil {
		return fmt.Errorf("underlay netns %q: addresses: %w", underlayNetns, err)
	}
	have := map[netip.Addr]bool{}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			have[ip.Unmap()] = true
		}
	}
	var errs []error
	for _, r := range want {
		ip, err := netip.ParseAddr(r.Attrs["local"])
		if err != nil {
			return fmt.Errorf("vxlan %s %s: bad local %q", r.Node, r.Name, r.Attrs["local"])
		}
		if !have[ip.Unmap()] {
			errs = append(errs, &LocalAddressError{Lab: key, Node: r.Node, Ifname: r.Name, Local: ip.String(), Netns: underlayNetns})
		}
	}
	return errors.Join(errs...)
}
