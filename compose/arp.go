package compose

import (
	"net/netip"
	"strings"

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

// Neighbor is a static ARP/NDP entry: neighbors = IP MAC dev IF.
type Neighbor struct {
	IP     netip.Addr
	MAC    string // lower case
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
	for _, l := range r.lines("neighbors") {
		n, err := parseNeighbor(l)
		if err != nil {
			r.errorf("neighbors", "neighbors %q: %v", strings.Join(l, " "), err)
			continue
		}
		n.Pos = r.meta.At("neighbors")
		a.Neighbors = append(a.Neighbors, n)
	}
	a.Meta = r.meta
	return a
}

// parseNeighbor reads "IP MAC dev IF" (iproute2's "lladdr" may precede MAC).
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
	mac, err := parseMAC(w[1])
	if err != nil {
		return Neighbor{}, err
	}
	if err := ifName(w[3]); err != nil {
		return Neighbor{}, err
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
