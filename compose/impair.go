package compose

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"
)

// Impairment is what netem does to the packets one interface sends: the
// delay, jitter, loss, duplicate, corrupt, reorder, rate and limit keys
// of a [veth:] (both ends) or [vxlan:] section, or a node's delay.IF,
// loss.IF, ... keys (that interface). Every parameter is in the unit
// its attribute is written in (units.go); zero is unset.
type Impairment struct {
	Delay, Jitter                     int64 // microseconds
	Loss, Duplicate, Corrupt, Reorder int64 // thousandths of a percent
	Rate                              int64 // bits per second; 0: no limit
	Limit                             int64 // packets queued; 0: netem's 1000

	// set is where each parameter the file gives was written, by
	// parameter name: what merging sources and errors point at.
	set map[string]impairKey
}

// impairKey is where one parameter of an impairment was written.
type impairKey struct {
	meta Meta
	key  string // the key as written: "delay" or "delay.eth0"
}

// ImpairParams are the parameters of an impairment, in the order plans
// show them.
var ImpairParams = []string{"delay", "jitter", "loss", "duplicate", "corrupt", "reorder", "rate", "limit"}

// NetemLimit is the queue limit netem has when none is given (packets).
const NetemLimit = 1000

// maxDelay bounds delay and jitter: far beyond any real path, well within
// netem's 32-bit count of 64 ns ticks (274 s).
const maxDelay = 60 * time.Second

// Empty reports whether the impairment sets nothing.
func (im *Impairment) Empty() bool { return im == nil || len(im.set) == 0 }

// field is the parameter of that name.
func (im *Impairment) field(name string) *int64 {
	return map[string]*int64{"delay": &im.Delay, "jitter": &im.Jitter, "loss": &im.Loss,
		"duplicate": &im.Duplicate, "corrupt": &im.Corrupt, "reorder": &im.Reorder,
		"rate": &im.Rate, "limit": &im.Limit}[name]
}

// parseParam reads the text of one parameter.
func parseParam(name, value string) (int64, error) {
	switch name {
	case "delay", "jitter":
		return ParseMicros(value, maxDelay)
	case "rate":
		n, err := ParseRate(value)
		return int64(n), err
	case "limit":
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || n < 1 || n > 1<<32-1 {
			return 0, fmt.Errorf("%q is not a number of packets in 1..4294967295", value)
		}
		return n, nil
	}
	return ParsePercent(value)
}

// param reads one parameter from its text into im, recording where it
// was written; a bad value is an error about that key.
func (im *Impairment) param(name, value string, meta Meta, key string) error {
	n, err := parseParam(name, value)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	*im.field(name) = n
	if im.set == nil {
		im.set = map[string]impairKey{}
	}
	im.set[name] = impairKey{meta, key}
	return nil
}

// readImpairment reads the impairment keys of a link section (veth,
// vxlan); nil when it has none.
func readImpairment(r *reader) *Impairment {
	im := &Impairment{}
	for _, name := range ImpairParams {
		v, ok := r.lookup(name)
		if !ok || v == "" {
			continue
		}
		if err := im.param(name, v, r.meta, name); err != nil {
			r.errorf(name, "%v", err)
		}
	}
	if im.Empty() {
		return nil
	}
	return im
}

// readNodeImpairments reads a node's delay.IF, loss.IF, ... keys, per
// interface.
func readNodeImpairments(r *reader) map[string]*Impairment {
	out := map[string]*Impairment{}
	for _, name := range ImpairParams {
		for _, v := range r.family(name + ".") {
			key := name + "." + v.Key
			if err := ifName(v.Key); err != nil {
				r.errorf(key, "%s: %v", key, err)
				continue
			}
			im := out[v.Key]
			if im == nil {
				im = &Impairment{}
			}
			if err := im.param(name, v.Value, r.meta, key); err != nil {
				r.errorf(key, "%v", err)
				continue
			}
			out[v.Key] = im
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// value is one parameter in its attribute's unit.
func (im *Impairment) value(name string) string {
	n := *im.field(name)
	switch name {
	case "delay", "jitter":
		return MicrosText(n)
	case "rate":
		return RateText(uint64(n))
	case "limit":
		if n == 0 {
			n = NetemLimit
		}
		return strconv.FormatInt(n, 10)
	}
	return PercentText(n)
}

// Attrs is the qdisc resource's attributes for the impairment: kind netem
// and every parameter, "0" when unset (limit: netem's default), so that a
// key removed from the file is a change.
func (im *Impairment) Attrs() map[string]string {
	m := map[string]string{"kind": "netem"}
	for _, p := range ImpairParams {
		m[p] = im.value(p)
	}
	return m
}

// merge adds the parameters of from into im. A parameter both give is an
// error at from's key, naming where im has it.
func (im *Impairment) merge(from *Impairment) []error {
	var errs []error
	for _, p := range ImpairParams {
		src, ok := from.set[p]
		if !ok {
			continue
		}
		if prev, ok := im.set[p]; ok {
			errs = append(errs, src.meta.errorf(src.key, "%s: %s is already %s by [%s] line %d (%s): set it in one place",
				src.key, p, im.value(p), prev.meta.Section, prev.meta.At(prev.key).Line, prev.key))
			continue
		}
		*im.field(p) = *from.field(p)
		if im.set == nil {
			im.set = map[string]impairKey{}
		}
		im.set[p] = src
	}
	return errs
}

// impairments is the impairment of every interface that has one, merged
// from the link sections and the nodes' keys, with every problem: a
// parameter given twice, jitter or reorder without delay.
func (l *Lab) impairments() (map[End]*Impairment, []error) {
	out := map[End]*Impairment{}
	var errs []error
	add := func(e End, im *Impairment) {
		if im.Empty() || e.Node == "" || e.Ifname == "" {
			return
		}
		if out[e] == nil {
			out[e] = &Impairment{}
		}
		errs = append(errs, out[e].merge(im)...)
	}
	for _, v := range l.Veths {
		add(v.A, v.Impair)
		add(v.B, v.Impair)
	}
	for _, x := range l.Vxlans {
		add(End{x.Netns, x.Ifname}, x.Impair)
	}
	for _, n := range l.Nodes {
		for _, ifname := range slices.Sorted(maps.Keys(n.Impairs)) {
			add(End{n.Name, ifname}, n.Impairs[ifname])
		}
	}
	told := map[string]bool{} // a veth's key is on both ends: one error
	for _, e := range slices.SortedFunc(maps.Keys(out), compareEnds) {
		im := out[e]
		// netem varies the delay by jitter, and reorders by sending some
		// packets at once while the others wait: both need a delay.
		for _, p := range []string{"jitter", "reorder"} {
			if src, ok := im.set[p]; ok && im.Delay == 0 && !told[src.meta.Section+" "+src.key] {
				told[src.meta.Section+" "+src.key] = true
				errs = append(errs, src.meta.errorf(src.key, "%s: needs a delay on %s:%s too (netem %s)",
					src.key, e.Node, e.Ifname, map[string]string{
						"jitter":  "varies the delay by the jitter",
						"reorder": "reorders by sending some packets at once while the others wait out the delay",
					}[p]))
			}
		}
	}
	return out, errs
}

// checkImpairments refuses a node's impairment keys on an interface the
// lab does not create in that node, or on lo (not a link of the lab).
func (v *validator) checkImpairments(n *Node) {
	for _, ifname := range slices.Sorted(maps.Keys(n.Impairs)) {
		im := n.Impairs[ifname]
		var keys []string
		for _, k := range im.set {
			keys = append(keys, k.key)
		}
		key := slices.Min(keys)
		if !v.iface(n.Meta, key, n.Name, ifname) {
			continue
		}
		if v.ifaces[End{n.Name, ifname}].kind == "lo" {
			v.errorf(n.Meta, key, "%s: lo is not a link of the lab: impair a veth end, bridge or vxlan device", key)
		}
	}
}

func compareEnds(a, b End) int {
	if a.Node != b.Node {
		return compareNatural(a.Node, b.Node)
	}
	return compareNatural(a.Ifname, b.Ifname)
}
