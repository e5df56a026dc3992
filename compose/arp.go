package compose

import (
	"net/netip"

	"github.com/netcompose/netcompose/loader"
)

// ARP is an [arp:NAME] section: ARP behaviour of some interfaces of a node
// and its static neighbour entries.
type ARP struct {
	Meta
	Name       string
	Netns      string
	Interfaces []string // interfaces = IF...|all; default all
	Proxy      *bool    // proxy = on|off -> proxy_arp
	Ignore     *int     // ignore = 0-8 -> arp_ignore
	Announce   *int     // announce = 0-2 -> arp_announce
	Filter     *bool    // filter = on|off -> arp_filter
	Accept     *bool    // accept = on|off -> arp_accept
	Neighbors  []Neighbor
}

// Neighbor is a static ARP/NDP entry: neighbors = IP MAC dev IF, where
// MAC may name the interface that has it (NODE:IF).
type Neighbor struct {
	IP     netip.Addr
	MAC    string // lower case; for MACOf, filled in by Build
	MACOf  End    // the interface named in place of the MAC, if any
	Ifname string
	Pos    loader.Pos
}

func readARP(r *reader) *ARP {
	a := &ARP{Name: r.s.Name}
	a.Netns = r.str("netns", "")
	if a.Netns == "" {
		r.errorf("netns", "netns: missing (the node whose ARP settings these are)")
	}
	a.Interfaces = r.list("interfaces")
	if len(a.Interfaces) == 0 {
		a.Interfaces = []string{"all"}
	}
	for _, i := range a.Interfaces {
		if i == "all" && len(a.Interfaces) > 1 {
			r.errorf("interfaces", "interfaces: all excludes naming interfaces")
		}
		if err := ifName(i); err != nil {
			r.errorf("interfaces", "interfaces: %v", err)
		}
	}
	a.Proxy = r.optBool("proxy")
	a.Ignore = r.optInt("ignore", 0, 8)
	a.Announce = r.optInt("announce", 0, 2)
	a.Filter = r.optBool("filter")
	a.Accept = r.optBool("accept")
	for _, e := range r.lines("neighbors") {
		n, err := parseNeighbor(e.words)
		if err != nil {
			r.errorAt(e.pos, "neighbors %q: %v", e.text(), err)
			continue
		}
		n.Pos = e.pos
		a.Neighbors = append(a.Neighbors, n)
	}
	a.Meta = r.meta
	return a
}

// parseNeighbor reads "IP MAC dev IF" (iproute2's "lladdr" may precede
// MAC); MAC may be NODE:IF, the interface whose MAC it is.
func parseNeighbor(w []string) (Neighbor, error) {
	if len(w) == 5 && w[1] == "lladdr" {
		w = append(w[:1:1], w[2:]...)
	}
	if len(w) != 4 || w[2] != "dev" {
		return Neighbor{}, errorString("want IP MAC dev IF")
	}
	ip, err := netip.ParseAddr(w[0])
	if err != nil {
		return Neighbor{}, errorString(quote(w[0]) + " is not an IP address")
	}
	if err := ifName(w[3]); err != nil {
		return Neighbor{}, err
	}
	mac, err := parseMAC(w[1])
	if err != nil {
		node, ifname, eerr := endpoint(w[1])
		if eerr != nil {
			return Neighbor{}, errorString(quote(w[1]) + " is not a MAC address (like 02:00:00:00:00:01) or NODE:IF")
		}
		return Neighbor{IP: ip.Unmap(), MACOf: End{node, ifname}, Ifname: w[3]}, nil
	}
	return Neighbor{IP: ip.Unmap(), MAC: mac, Ifname: w[3]}, nil
}

// optInt is an integer in [lo, hi] that may be left unset.
func (r *reader) optInt(key string, lo, hi int) *int {
	if v, ok := r.lookup(key); !ok || v == "" {
		return nil
	}
	n := r.integer(key, lo, hi, -1)
	if n < 0 {
		return nil
	}
	return &n
}
