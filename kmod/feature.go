// Package kmod is netcompose's kernel preflight: before a lab touches the
// kernel, it checks that the kernel has every feature the lab's kinds need
// (veth, bridge, vxlan, netfilter queue, ...) and loads the modules that
// are loadable. `netcompose doctor` prints the whole report.
//
// A piece of the kernel counts as present when it is built in
// (modules.builtin or =y in the kernel config), loaded (/sys/module/NAME),
// or loadable (then it is loaded, with the parameters of its [kmod:NAME]
// section). Built-in code does not always show up in any file (a kernel
// without modules.builtin or config.gz), so the last resort is a real probe:
// create the thing in a throwaway namespace and delete it again.
package kmod

import "sort"

// Need is one piece of the kernel a feature needs.
type Need struct {
	Config string // the Kconfig option, "CONFIG_VETH"
	Module string // the module it builds, "veth"; "" when it cannot be a module
	Probe  string // the probe that shows it works (a key of the prober), "" for none
	// What names a piece that is neither an option nor a module (a
	// kernel version's feature), for messages.
	What string
}

// Feature is something netcompose needs from the kernel, by name.
type Feature struct {
	Name string
	Why  string // what netcompose uses it for, for the doctor report
	// Needs must all be present. When they are not, Else (if any) is a
	// second set that satisfies the feature on its own (iptables through
	// nf_tables' compat layer instead of the legacy ip_tables).
	Needs []Need
	Else  []Need
}

// Features are the kernel features netcompose knows, by name. The names of
// the lab kinds that need a kernel feature (netns, veth, bridge, vxlan,
// sysctl) are feature names too.
var Features = map[string]Feature{
	"netns": {Name: "netns", Why: "network namespaces as lab nodes",
		Needs: []Need{{Config: "CONFIG_NET_NS", Probe: "netns"}}},
	"veth": {Name: "veth", Why: "virtual ethernet pairs between nodes",
		Needs: []Need{{Config: "CONFIG_VETH", Module: "veth", Probe: "veth"}}},
	"bridge": {Name: "bridge", Why: "linux bridges inside nodes",
		Needs: []Need{{Config: "CONFIG_BRIDGE", Module: "bridge", Probe: "bridge"}}},
	"vxlan": {Name: "vxlan", Why: "vxlan tunnels between nodes",
		Needs: []Need{{Config: "CONFIG_VXLAN", Module: "vxlan", Probe: "vxlan"}}},
	"nfqueue": {Name: "nfqueue", Why: "NFQUEUE packet pipelines",
		Needs: []Need{
			{Config: "CONFIG_NETFILTER_NETLINK_QUEUE", Module: "nfnetlink_queue", Probe: "nfnetlink_queue"},
			{Config: "CONFIG_NETFILTER_XT_TARGET_NFQUEUE", Module: "xt_NFQUEUE", Probe: "xt_NFQUEUE"},
		}},
	"iptables": {Name: "iptables", Why: "iptables rules inside nodes",
		Needs: []Need{{Config: "CONFIG_IP_NF_IPTABLES", Module: "ip_tables", Probe: "iptables"}},
		Else:  []Need{{Config: "CONFIG_NFT_COMPAT", Module: "nft_compat", Probe: "iptables"}}},
	"sysctl": {Name: "sysctl", Why: "net.* sysctls (ARP settings, forwarding)",
		Needs: []Need{{Config: "CONFIG_SYSCTL", Probe: "sysctl"}}},
	"ipv6": {Name: "ipv6", Why: "IPv6 addresses and routes",
		Needs: []Need{{Config: "CONFIG_IPV6", Module: "ipv6", Probe: "ipv6"}}},
	"netem": {Name: "netem", Why: "link impairments (delay, loss, rate, ...) as tc netem qdiscs",
		Needs: []Need{{Config: "CONFIG_NET_SCH_NETEM", Module: "sch_netem", Probe: "netem"}}},
	"tbf": {Name: "tbf", Why: "traffic shaping as tc tbf qdiscs",
		Needs: []Need{{Config: "CONFIG_NET_SCH_TBF", Module: "sch_tbf", Probe: "tbf"}}},
	// A VLAN-aware bridge and VLAN sub-interfaces need the 802.1Q code;
	// port flags newer than the bridge are known by a probe alone (no
	// option or module of their own): set on a port and read back.
	"vlan": {Name: "vlan", Why: "802.1Q/802.1ad VLAN sub-interfaces (eth0.10) in nodes",
		Needs: []Need{{Config: "CONFIG_VLAN_8021Q", Module: "8021q", Probe: "vlan"}}},
	"bridge_vlan": {Name: "bridge_vlan", Why: "VLAN-aware bridges: port groups' VLANs (bridge vlan)",
		Needs: []Need{{Config: "CONFIG_BRIDGE_VLAN_FILTERING", Probe: "bridge_vlan"}}},
	"bridge_isolated": {Name: "bridge_isolated", Why: "isolated bridge ports (port group isolated = on)",
		Needs: []Need{{What: "bridge port isolation (Linux 4.18)", Probe: "bridge_isolated"}}},
	"bridge_locked": {Name: "bridge_locked", Why: "locked bridge ports: only the MACs the lab lists send (port group locked = on)",
		Needs: []Need{{What: "bridge port locking (Linux 5.18)", Probe: "bridge_locked"}}},
	"bridge_neigh_suppress": {Name: "bridge_neigh_suppress", Why: "ARP/ND suppression on bridge ports (port group neigh_suppress = on)",
		Needs: []Need{{What: "bridge neighbour suppression (Linux 4.15)", Probe: "bridge_neigh_suppress"}}},
	"tc_mirred": {Name: "tc_mirred", Why: "port mirroring: tc clsact, a u32 filter and the mirred action (port group mirror)",
		Needs: []Need{
			{Config: "CONFIG_NET_SCH_INGRESS", Module: "sch_ingress", Probe: "clsact"},
			{Config: "CONFIG_NET_CLS_U32", Module: "cls_u32", Probe: "tc_mirred"},
			{Config: "CONFIG_NET_ACT_MIRRED", Module: "act_mirred", Probe: "tc_mirred"},
		}},
}

// Known returns the known feature names, sorted.
func Known() []string {
	names := make([]string, 0, len(Features))
	for n := range Features {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Module is an extra module a topology asks for in a [kmod:NAME] section.
type Module struct {
	Name     string
	Params   string // module parameters, "a=1 b=2", used when netcompose loads it
	Optional bool   // a missing optional module is a warning, not an error
}
