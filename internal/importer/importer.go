// Package importer reads network namespaces built by hand (ip netns add,
// ip link, ip addr, ip route, ip rule, sysctl, ip neigh, bridge fdb) and
// writes the topology file that rebuilds them: the nodes with their
// addresses, MACs, routes, policy rules and sysctls; the veths between
// them, bridges and VXLAN devices; ARP settings and static neighbours.
// What the file cannot say is written as comments, never left out
// silently.
//
// Reading (Read) touches the kernel: one netlink handle per namespace,
// /proc/sys/net read inside it, and a throwaway namespace to learn what a
// sysctl is in a fresh one. Turning what was read into a file (Build,
// Write) is pure, and tested without root.
package importer

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
)

// Source is one namespace to import and the node it becomes.
type Source struct {
	Node  string // the node's name in the file
	Netns string // the namespace's name under /run/netns
}

// Snapshot is what Read found in the namespaces.
type Snapshot struct {
	Nodes []*NodeState
	// Fresh are the net.* sysctls of a namespace just made, by path
	// under /proc/sys/net: what every sysctl is unless set.
	Fresh map[string]string
}

// NodeState is one namespace as read.
type NodeState struct {
	Source
	Links  []netlink.Link
	Addrs  []netlink.Addr  // both families, every link
	Routes []netlink.Route // both families, every table
	Rules  []Rule
	Neighs []netlink.Neigh // IPv4 and IPv6, every state
	// Proxies are proxy neighbour entries (ip neigh add proxy).
	Proxies  []netlink.Neigh
	FDB      []netlink.Neigh   // AF_BRIDGE: bridges' and vxlan devices' forwarding entries
	STP      map[int]bool      // bridge ifindex -> STP on
	Qdiscs   map[int][]string  // ifindex -> qdiscs other than the default, as tc shows them
	Sysctls  map[string]string // by path under /proc/sys/net
	Peers    map[int]string    // netnsid as this namespace numbers it -> node
	HomeID   int               // the netnsid of the importing process's namespace here, -1 if none
	Firewall []string          // iptables-save / ip6tables-save rules, "-A ..." lines with their table
	Notes    []string          // what could not be read
}

// Rule is a policy-routing rule as the kernel dumps it.
type Rule struct {
	Family   int // unix.AF_INET or AF_INET6
	Priority int
	Action   uint8 // FR_ACT_*
	Table    int
	Src, Dst netip.Prefix // zero when absent
	Iif, Oif string
	IPProto  int
	Sport    [2]uint16 // 0, 0 when absent
	Dport    [2]uint16
	// Others are the rule's selectors and settings a file cannot say
	// ("fwmark 0x1", "tos 0x10", "not"), in ip rule's words.
	Others []string
}

// File is the topology file to write: header comments, [DEFAULT] lab,
// then sections, each with the comments that go before it.
type File struct {
	Lab      string
	Header   []string
	Sections []*Section
}

// Section is one [type:name] section of the file.
type Section struct {
	Type, Name string
	Notes      []string // comment lines written before the section
	Values     []Value
}

// Value is one key of a section; a value with newlines is written with
// continuation lines.
type Value struct {
	Key, Value string
}

func (s *Section) add(key, value string) { s.Values = append(s.Values, Value{key, value}) }

// safe is a node or lab name netcompose accepts (compose's safeName).
var safe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`) })

// Sources names the nodes of namespaces: "NODE=NETNS" names one
// explicitly; otherwise, when every namespace starts with "LAB-" (lab
// given, or else the longest such prefix they share), the node is the
// rest, so that the rebuilt lab's namespaces (<lab>-<node>) have the same
// names; else the namespace's own name, made safe. It returns the lab
// name, "imported" when none is found.
func Sources(lab string, namespaces []string) (string, []Source, error) {
	var out []Source
	var plain []string
	for _, a := range namespaces {
		node, ns, named := strings.Cut(a, "=")
		if !named {
			ns, node = a, ""
			plain = append(plain, ns)
		}
		if ns == "" || strings.ContainsAny(ns, "/") {
			return "", nil, fmt.Errorf("import: %q is not a namespace name", a)
		}
		out = append(out, Source{Node: node, Netns: ns})
	}
	if lab == "" {
		lab = commonLab(plain)
	}
	if lab == "" {
		lab = "imported"
	}
	if !safe().MatchString(lab) {
		return "", nil, fmt.Errorf("import: lab name %q is not a safe name (want [a-z0-9][a-z0-9_.-]*)", lab)
	}
	seen, netns := map[string]string{}, map[string]bool{}
	for i := range out {
		s := &out[i]
		if s.Node == "" {
			s.Node = safeNode(strings.TrimPrefix(s.Netns, lab+"-"))
		}
		if !safe().MatchString(s.Node) {
			return "", nil, fmt.Errorf("import: node name %q is not a safe name (want [a-z0-9][a-z0-9_.-]*)", s.Node)
		}
		if netns[s.Netns] {
			return "", nil, fmt.Errorf("import: namespace %s is named twice", s.Netns)
		}
		netns[s.Netns] = true
		if prev, ok := seen[s.Node]; ok {
			return "", nil, fmt.Errorf("import: namespaces %s and %s both become node %s: name them, NODE=NETNS", prev, s.Netns, s.Node)
		}
		seen[s.Node] = s.Netns
	}
	return lab, out, nil
}

// commonLab is the prefix before the first "-" that every name shares,
// when it is a safe name and each name has something after it.
func commonLab(names []string) string {
	if len(names) == 0 {
		return ""
	}
	lab, _, ok := strings.Cut(names[0], "-")
	if !ok || !safe().MatchString(lab) {
		return ""
	}
	for _, n := range names {
		if !strings.HasPrefix(n, lab+"-") || len(n) == len(lab)+1 {
			return ""
		}
	}
	return lab
}

// safeNode makes a namespace name a node name: lower case, other
// characters than [a-z0-9_.-] as "-".
func safeNode(s string) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '_' || c == '.' || c == '-')) {
			b[i] = '-'
			if i == 0 {
				b[i] = 'n'
			}
		}
	}
	return string(b)
}
