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
