package kmod

import (
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/netcompose/netcompose/internal/bridgeport"
)

// switchProbes try what VLANs and port groups need, each in a throwaway
// namespace: a VLAN sub-interface, a VLAN-aware bridge, the port flags
// newer than the bridge (set on a port and read back: a kernel that
// does not know a flag ignores it), and a mirroring tc filter.
var switchProbes = map[string]func() error{
	"vlan": func() error {
		return withVeth(func(h *netlink.Handle, veth netlink.Link, _ string) error {
			v := &netlink.Vlan{LinkAttrs: netlink.LinkAttrs{Name: "probe0.42", ParentIndex: veth.Attrs().Index}, VlanId: 42}
			if err := h.LinkAdd(v); err != nil {
				return fmt.Errorf("create vlan 42 over a veth: %w", err)
			}
			got, err := h.LinkByName("probe0.42")
			if err != nil {
				return fmt.Errorf("vlan: read back: %w", err)
			}
			if _, ok := got.(*netlink.Vlan); !ok {
				return fmt.Errorf("vlan: read back: got a %s link", got.Type())
			}
			return nil
		})
	},
	"bridge_vlan": func() error {
		return scratch(func(h *netlink.Handle, _ string) error {
			on := true
			if err := h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "probe0"}, VlanFiltering: &on}); err != nil {
				return fmt.Errorf("create a bridge with vlan_filtering 1: %w", err)
			}
			got, err := h.LinkByName("probe0")
			if err != nil {
				return fmt.Errorf("bridge: read back: %w", err)
			}
			if br, ok := got.(*netlink.Bridge); !ok || br.VlanFiltering == nil || !*br.VlanFiltering {
				return fmt.Errorf("bridge: read back: vlan_filtering is not on")
			}
			return nil
		})
	},
	"bridge_isolated":       func() error { return probePortFlag("isolated", nl.IFLA_BRPORT_ISOLATED) },
	"bridge_locked":         func() error { return probePortFlag("locked", nl.IFLA_BRPORT_LOCKED) },
	"bridge_neigh_suppress": func() error { return probePortFlag("neigh_suppress", nl.IFLA_BRPORT_NEIGH_SUPPRESS) },
	"clsact": func() error {
		return withVeth(func(h *netlink.Handle, veth netlink.Link, _ string) error { return addClsact(h, veth) })
	},
	"tc_mirred": func() error {
		return withVeth(func(h *netlink.Handle, veth netlink.Link, _ string) error {
			if err := addClsact(h, veth); err != nil {
				return err
			}
			peer, err := h.LinkByName("probe1")
			if err != nil {
				return fmt.Errorf("read back the veth's peer: %w", err)
			}
			f := &netlink.U32{
				FilterAttrs: netlink.FilterAttrs{LinkIndex: veth.Attrs().Index, Parent: netlink.HANDLE_MIN_INGRESS, Priority: 1, Protocol: unix.ETH_P_ALL},
				Sel:         &netlink.TcU32Sel{Flags: netlink.TC_U32_TERMINAL, Nkeys: 1, Keys: []netlink.TcU32Key{{}}},
				Actions: []netlink.Action{&netlink.MirredAction{ActionAttrs: netlink.ActionAttrs{Action: netlink.TC_ACT_PIPE},
					MirredAction: netlink.TCA_EGRESS_MIRROR, Ifindex: peer.Attrs().Index}},
			}
			if err := h.FilterAdd(f); err != nil {
				return fmt.Errorf("add a u32 filter with a mirred action: %w", err)
			}
			fs, err := h.FilterList(veth, netlink.HANDLE_MIN_INGRESS)
			if err != nil {
				return fmt.Errorf("u32: read back: %w", err)
			}
			for _, got := range fs {
				if u, ok := got.(*netlink.U32); ok && len(u.Actions) > 0 {
					if _, ok := u.Actions[0].(*netlink.MirredAction); ok {
						return nil
					}
				}
			}
			return fmt.Errorf("u32: read back: no filter with a mirred action")
		})
	},
}

// withVeth runs fn in a scratch namespace with a veth pair probe0
// (passed to fn, up) and probe1.
func withVeth(fn func(h *netlink.Handle, veth netlink.Link, path string) error) error {
	return scratch(func(h *netlink.Handle, path string) error {
		if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "probe0"}, PeerName: "probe1"}); err != nil {
			return fmt.Errorf("create a veth: %w", err)
		}
		l, err := h.LinkByName("probe0")
		if err != nil {
			return fmt.Errorf("read back the veth: %w", err)
		}
		return fn(h, l, path)
	})
}

func addClsact(h *netlink.Handle, l netlink.Link) error {
	err := h.QdiscAdd(&netlink.GenericQdisc{
		QdiscAttrs: netlink.QdiscAttrs{LinkIndex: l.Attrs().Index, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT},
		QdiscType:  "clsact",
	})
	if err != nil {
		return fmt.Errorf("add a clsact qdisc: %w", err)
	}
	return nil
}

// probePortFlag sets flag attr on a bridge port and reads the port back.
func probePortFlag(name string, attr int) error {
	return withVeth(func(h *netlink.Handle, veth netlink.Link, path string) error {
		if err := h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "probebr"}}); err != nil {
			return fmt.Errorf("create a bridge: %w", err)
		}
		br, err := h.LinkByName("probebr")
		if err != nil {
			return fmt.Errorf("read back the bridge: %w", err)
		}
		if err := h.LinkSetMaster(veth, br); err != nil {
			return fmt.Errorf("enslave a veth: %w", err)
		}
		ns, err := netns.GetFromPath(path)
		if err != nil {
			return err
		}
		defer ns.Close()
		sock, err := nl.GetNetlinkSocketAt(ns, netns.None(), unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		defer sock.Close()
		sh := &nl.SocketHandle{Socket: sock}
		if err := bridgeport.SetFlags(sh, veth.Attrs().Index, map[int]bool{attr: true}); err != nil {
			return fmt.Errorf("set %s on a bridge port: %w", name, err)
		}
		ports, err := bridgeport.Dump(sh)
		if err != nil {
			return fmt.Errorf("%s: read back: %w", name, err)
		}
		for _, p := range ports {
			if p.Index == veth.Attrs().Index && p.Flags[attr] {
				return nil
			}
		}
		return fmt.Errorf("the kernel does not keep %s on a bridge port (IFLA_BRPORT attribute %d ignored)", name, attr)
	})
}
