package compose

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/netcompose/netcompose/loader"
)

// PortGroup is a [portgroup:NAME] section: ports of one bridge that share
// a VLAN, a security policy and a mirror, as the ports of a vSphere
// standard switch's port group do (docs/vswitch.md).
type PortGroup struct {
	Meta
	Name   string
	Bridge string   // bridge = NAME: the [bridge:NAME] section
	Ports  []string // ports = IF...: interfaces of the bridge's node; the bridge's own for what it carries itself
	VLAN   int      // vlan = VID: the ports' PVID, sent untagged (an access port); 0 for none
	Trunk  []int    // trunk = VID|A-B...: VIDs the ports carry tagged, sorted
	// The security policy: port flags, defaults as the kernel sets them.
	Isolated      bool // isolated = on: talks only to ports that are not isolated
	Learning      bool // learning, default on
	Flood         bool // flood, default on: unknown unicast is flooded to the ports
	Locked        bool // locked = on: only the MACs the lab lists may send
	NeighSuppress bool // neigh_suppress = on: the bridge answers ARP/ND for the ports
	// Allow lists, per port, MACs a locked port lets send beyond the
	// interface at the other end of its veth (allow.IF = MAC|NODE:IF...).
	Allow []AllowEntry
	// Mirror copies the ports' traffic to interface Mirror of the
	// bridge's node (mirror = IF), in MirrorDirection: both, ingress
	// (what the ports' VMs send) or egress (what they receive).
	Mirror          string
	MirrorDirection string
	// Shaping (rate = RATE, burst = BYTES) holds what each port sends to
	// its VM to rate, as a tbf qdisc; nil for none.
	Shaping *Shaping
}

// AllowEntry is one value of an allow.IF key: a MAC, or NODE:IF for the
// MAC of that interface of the lab.
type AllowEntry struct {
	Port string
	MAC  string // filled in by validation for NODE:IF
	Of   End    // NODE:IF, zero for a MAC
	Pos  loader.Pos
}

// Mirror directions.
const (
	MirrorBoth    = "both"
	MirrorIngress = "ingress"
	MirrorEgress  = "egress"
)

func readPortGroup(r *reader) *PortGroup {
	g := &PortGroup{Name: r.s.Name}
	g.Bridge = r.str("bridge", "")
	if g.Bridge == "" {
		r.errorf("bridge", "bridge: missing (the [bridge:NAME] section whose ports these are)")
	}
	for _, p := range r.list("ports") {
		if err := ifName(p); err != nil {
			r.errorf("ports", "ports: %v", err)
			continue
		}
		if slices.Contains(g.Ports, p) {
			r.errorf("ports", "ports: %s listed twice", p)
			continue
		}
		g.Ports = append(g.Ports, p)
	}
	if len(g.Ports) == 0 {
		r.errorf("ports", "ports: missing (the interfaces in this port group)")
	}
	g.VLAN = r.integer("vlan", 1, 4094, 0)
	if v, ok := r.lookup("trunk"); ok {
		ids, err := ParseVIDs(strings.Join(strings.Fields(v), ","))
		if err != nil {
			r.errorf("trunk", "trunk: %v", err)
		}
		g.Trunk = ids
		if g.VLAN != 0 && slices.Contains(g.Trunk, g.VLAN) {
			r.errorf("trunk", "trunk: VID %d is the group's vlan (untagged) too", g.VLAN)
		}
	}
	g.Isolated = r.boolean("isolated", false)
	g.Learning = r.boolean("learning", true)
	g.Flood = r.boolean("flood", true)
	g.Locked = r.boolean("locked", false)
	g.NeighSuppress = r.boolean("neigh_suppress", false)
	for _, v := range r.family("allow.") {
		key := "allow." + v.Key
		for _, w := range strings.Fields(v.Value) {
			e := AllowEntry{Port: v.Key, Pos: v.Pos}
			if node, ifn, ok := strings.Cut(w, ":"); ok && !strings.Contains(ifn, ":") {
				e.Of = End{node, ifn}
			} else if mac, err := unicastMAC(w); err == nil {
				e.MAC = mac
			} else {
				r.errorf(key, "%s: %q is neither a MAC nor NODE:IF (%v)", key, w, err)
				continue
			}
			g.Allow = append(g.Allow, e)
		}
	}
	g.Mirror = r.str("mirror", "")
	g.MirrorDirection = r.oneOf("mirror_direction", MirrorBoth, MirrorBoth, MirrorIngress, MirrorEgress)
	if _, ok := r.meta.Keys["mirror_direction"]; ok && g.Mirror == "" {
		r.errorf("mirror_direction", "mirror_direction: without mirror = IF there is nothing to mirror")
	}
	g.Shaping = readShaping(r)
	g.Meta = r.meta
	return g
}

// readShaping reads a port group's rate and burst: the tbf of its ports.
// The burst defaults to 10 ms at the rate, at least two full frames; the
// queue holds the burst and 50 ms more.
func readShaping(r *reader) *Shaping {
	rateText, _ := r.lookup("rate")
	burstText, _ := r.lookup("burst")
	if rateText == "" {
		if burstText != "" {
			r.errorf("burst", "burst: without rate = RATE there is nothing to shape")
		}
		return nil
	}
	rate, err := ParseRate(rateText)
	if err == nil && rate == 0 {
		err = errorString("a rate of 0 lets nothing through")
	}
	if err != nil {
		r.errorf("rate", "rate: %v", err)
		return nil
	}
	bytesPerSec := int64(rate / 8)
	sh := &Shaping{Rate: int64(rate), Burst: max(bytesPerSec/100, 2*1514)}
	if burstText != "" {
		b, err := parseBytes(burstText)
		if err != nil || b < 1514 {
			r.errorf("burst", "burst: %q is not a size of at least one full frame (1514 bytes; like 32kb)", burstText)
			return nil
		}
		sh.Burst = b
	}
	sh.Limit = sh.Burst + bytesPerSec/20
	return sh
}

// parseBytes reads a size as tc writes one: a number of bytes, or with k,
// kb, m or mb (1024 and 1024*1024 bytes).
func parseBytes(s string) (int64, error) {
	low := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		n      int64
	}{{"kb", 1 << 10}, {"mb", 1 << 20}, {"k", 1 << 10}, {"m", 1 << 20}, {"b", 1}} {
		if num, ok := strings.CutSuffix(low, u.suffix); ok {
			low, mult = num, u.n
			break
		}
	}
	n, err := strconv.ParseInt(low, 10, 64)
	if err != nil || n < 0 || n > 1<<32 {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	return n * mult, nil
}

// ParseVIDs reads a VLAN list as "10,20,100-110" (a plan's and a port
// group's trunk), sorted and without repeats.
func ParseVIDs(s string) ([]int, error) {
	var out []int
	if s == "" {
		return nil, nil
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			hi = lo
		}
		a, aerr := strconv.Atoi(lo)
		b, berr := strconv.Atoi(hi)
		if aerr != nil || berr != nil || a < 1 || b > 4094 || a > b {
			return nil, fmt.Errorf("%q is not a VID in 1..4094 or a range A-B of them", part)
		}
		for id := a; id <= b; id++ {
			out = append(out, id)
		}
	}
	sort.Ints(out)
	return slices.Compact(out), nil
}

// VIDText writes a VLAN list the way ParseVIDs reads it, runs of
// consecutive VIDs as ranges: "10,20,100-110". ids must be sorted.
func VIDText(ids []int) string {
	var parts []string
	for i := 0; i < len(ids); {
		j := i
		for j+1 < len(ids) && ids[j+1] == ids[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, strconv.Itoa(ids[i])+"-"+strconv.Itoa(ids[j]))
		} else {
			parts = append(parts, strconv.Itoa(ids[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}
