package importer

import (
	"maps"
	"slices"
	"strconv"
	"strings"
)

// arpKeys are the ARP sysctls an [arp:] section sets, by its key.
var arpKeys = []struct{ sysctl, key string }{
	{"proxy_arp", "proxy"}, {"arp_ignore", "ignore"}, {"arp_announce", "announce"},
	{"arp_filter", "filter"}, {"arp_accept", "accept"},
}

// arpRange is the largest value an [arp:] key takes; booleans are 1.
var arpRange = map[string]int{"proxy_arp": 1, "arp_ignore": 8, "arp_announce": 2, "arp_filter": 1, "arp_accept": 1}

// sysctls writes every net.* sysctl of the node that differs from what a
// rebuilt node would have anyway: node-wide ones (and conf.all,
// conf.default) from a fresh namespace's; an interface's from what a new
// link gets, the node's conf.default (lo's from a fresh lo, a neighbour
// table's from a fresh lo's). Forwarding and IPv6 on or off become the
// node's own keys, ARP settings [arp:] sections, the rest sysctl.NAME.
func (b *builder) sysctls(nb *nodeBuild) {
	got := nb.st.Sysctls
	arp := map[string]map[string]string{} // "all" or IF -> sysctl -> value
	for _, k := range slices.Sorted(maps.Keys(got)) {
		v := got[k]
		base, ok := b.baseline(nb, k)
		if !ok || v == base {
			continue
		}
		p := strings.Split(k, "/")
		if len(p) == 4 && (p[1] == "conf" || p[1] == "neigh") && p[2] != "all" && p[2] != "default" && !nb.written[p[2]] {
			continue // the interface is noted as not imported, with what is on it
		}
		switch k {
		case "ipv4/ip_forward", "ipv6/conf/all/forwarding", "ipv6/conf/all/disable_ipv6":
			continue // below
		}
		if len(p) == 4 && p[0] == "ipv4" && p[1] == "conf" && p[2] != "default" {
			if max, isARP := arpRange[p[3]]; isARP {
				if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= max {
					if arp[p[2]] == nil {
						arp[p[2]] = map[string]string{}
					}
					arp[p[2]][p[3]] = v
					continue
				}
			}
		}
		nb.sysctls = append(nb.sysctls, Value{"sysctl." + dotted(k), v})
	}
	b.forwarding(nb)
	b.arpSections(nb, arp)
}

// forwarding writes forwarding = on|off when IPv4 and IPv6 forwarding
// both changed to one value, else each as a sysctl; and ipv6 = on|off.
func (b *builder) forwarding(nb *nodeBuild) {
	got, fresh := nb.st.Sysctls, b.snap.Fresh
	v4, v6 := got["ipv4/ip_forward"], got["ipv6/conf/all/forwarding"]
	v4c, v6c := v4 != fresh["ipv4/ip_forward"], v6 != fresh["ipv6/conf/all/forwarding"]
	var front []Value
	switch {
	case v4c && v6c && v4 == v6 && (v4 == "0" || v4 == "1"):
		front = append(front, Value{"forwarding", onOff(v4)})
	default:
		if v4c {
			front = append(front, Value{"sysctl.net.ipv4.ip_forward", v4})
		}
		if v6c {
			front = append(front, Value{"sysctl.net.ipv6.conf.all.forwarding", v6})
		}
	}
	if d := got["ipv6/conf/all/disable_ipv6"]; d != fresh["ipv6/conf/all/disable_ipv6"] && (d == "0" || d == "1") {
		front = append(front, Value{"ipv6", onOff(map[string]string{"0": "1", "1": "0"}[d])})
	}
	nb.sysctls = append(front, nb.sysctls...)
}

func onOff(v string) string {
	if v == "1" {
		return "on"
	}
	return "off"
}

// baseline is what sysctl k (a path under /proc/sys/net) is in a node
// that netcompose builds from the file before it sets it; false for
// sysctls to leave alone: those that follow a link's MTU, aliases of
// others, and those a fresh namespace lacks.
func (b *builder) baseline(nb *nodeBuild, k string) (string, bool) {
	got, fresh := nb.st.Sysctls, b.snap.Fresh
	p := strings.Split(k, "/")
	if len(p) != 4 || p[1] != "conf" && p[1] != "neigh" {
		v, ok := fresh[k]
		return v, ok
	}
	family, table, dev, key := p[0], p[1], p[2], p[3]
	if table == "neigh" {
		switch key {
		case "base_reachable_time", "retrans_time":
			return "", false // the same as their _ms twins, in other units
		}
		v, ok := fresh[family+"/neigh/lo/"+key]
		return v, ok
	}
	switch {
	case family == "ipv6" && key == "mtu":
		return "", false // follows the link's MTU
	case key == "forwarding" && family == "ipv4":
		// conf.*.forwarding all follow ip_forward when it is written.
		return got["ipv4/ip_forward"], true
	case key == "forwarding" && dev != "all":
		return got["ipv6/conf/all/forwarding"], true
	case key == "disable_ipv6" && dev != "all" && got["ipv6/conf/all/disable_ipv6"] == "1":
		return "1", true
	case k == "ipv4/conf/all/accept_redirects" && got["ipv4/ip_forward"] != fresh["ipv4/ip_forward"]:
		// Writing ip_forward sets all.accept_redirects to its opposite
		// (net/ipv4/devinet.c, inet_forward_change).
		if got["ipv4/ip_forward"] == "1" {
			return "0", true
		}
		return "1", true
	case dev == "all" || dev == "default" || dev == "lo":
		v, ok := fresh[k]
		return v, ok
	}
	v, ok := got[family+"/conf/default/"+key]
	return v, ok
}

// arpSections writes a node's ARP settings and static neighbours:
// [arp:NODE] for interfaces = all and the neighbours, and one section for
// each group of interfaces with the same settings.
func (b *builder) arpSections(nb *nodeBuild, arp map[string]map[string]string) {
	node := nb.st.Node
	if all := arp["all"]; len(all) > 0 || len(nb.neighbours) > 0 {
		sec := &Section{Type: "arp", Name: b.name("arp", node)}
		sec.add("netns", node)
		arpValues(sec, all)
		if len(nb.neighbours) > 0 {
			sec.add("neighbors", strings.Join(nb.neighbours, "\n"))
		}
		b.arps = append(b.arps, sec)
	}
	// Interfaces in link order, grouped by equal settings.
	var groups [][]string
	var settings []map[string]string
	for _, l := range nb.st.Links {
		name := l.Attrs().Name
		s := arp[name]
		if len(s) == 0 {
			continue
		}
		i := slices.IndexFunc(settings, func(o map[string]string) bool { return maps.Equal(o, s) })
		if i < 0 {
			groups, settings = append(groups, nil), append(settings, s)
			i = len(groups) - 1
		}
		groups[i] = append(groups[i], name)
	}
	for i, g := range groups {
		sec := &Section{Type: "arp", Name: b.name("arp", node+"-"+g[0])}
		sec.add("netns", node)
		sec.add("interfaces", strings.Join(g, " "))
		arpValues(sec, settings[i])
		b.arps = append(b.arps, sec)
	}
}

func arpValues(sec *Section, s map[string]string) {
	for _, k := range arpKeys {
		v, ok := s[k.sysctl]
		if !ok {
			continue
		}
		if arpRange[k.sysctl] == 1 {
			v = onOff(v)
		}
		sec.add(k.key, v)
	}
}
