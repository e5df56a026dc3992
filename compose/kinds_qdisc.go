package compose

import (
	"maps"
	"slices"
	"strconv"
	"strings"
)

// KindQdisc is the root queueing discipline (tc qdisc) of an interface
// of a node: netem for a link's impairments, tbf for shaping. Node is the
// node, Name the interface; attrs kind and the kind's parameters:
//
//	netem: delay jitter loss duplicate corrupt reorder rate limit
//	tbf:   rate burst limit
//
// in the units of units.go (delay "40ms", loss "1%", rate "10mbit",
// burst and tbf's limit in bytes, netem's limit in packets). The qdisc
// lives on a link the lab owns, whole: any other root qdisc found there
// is drift, replaced or removed. It goes with its interface.
const KindQdisc Kind = "qdisc"

var qdiscKind = &KindInfo{
	Kind:         KindQdisc,
	Ifname:       nameIsIfname,
	Text:         qdiscText,
	DeleteReason: "not in the file; the lab owns its links",
}

// qdiscText shows a created qdisc as "  netem delay=40ms loss=1%": its
// kind, then the parameters it sets, netem's in the order of
// ImpairParams; zeros and netem's default limit say nothing.
func qdiscText(r *Resource) string {
	s := []string{r.Attrs["kind"]}
	keys := slices.Sorted(maps.Keys(r.Attrs))
	slices.SortStableFunc(keys, func(a, b string) int {
		return paramRank(a) - paramRank(b)
	})
	for _, k := range keys {
		v := r.Attrs[k]
		if k == "kind" || v == "" || v == "0" || r.Attrs["kind"] == "netem" && k == "limit" && v == strconv.Itoa(NetemLimit) {
			continue
		}
		s = append(s, k+"="+v)
	}
	return "  " + strings.Join(s, " ")
}

// paramRank orders netem's parameters as ImpairParams does, others after.
func paramRank(k string) int {
	if i := slices.Index(ImpairParams, k); i >= 0 {
		return i
	}
	return len(ImpairParams)
}

// Shaping is a tbf qdisc: a token bucket that holds an interface's
// sending to Rate, letting Burst bytes through at once and queueing at
// most Limit bytes. For kinds that shape rather than impair (a bridge
// port's rate limit).
type Shaping struct {
	Rate  int64 // bits per second, a multiple of 8
	Burst int64 // bytes
	Limit int64 // bytes
}

// Attrs is the qdisc resource's attributes for the shaping (kind tbf).
// The burst is written as the kernel gives it back: tbf keeps the time
// the burst takes at the rate, which the driver sends in whole
// microseconds (TbfBurst).
func (sh Shaping) Attrs() map[string]string {
	return map[string]string{
		"kind":  "tbf",
		"rate":  RateText(uint64(sh.Rate)),
		"burst": strconv.FormatInt(TbfBurst(sh.Rate/8, sh.Burst), 10),
		"limit": strconv.FormatInt(sh.Limit, 10),
	}
}

// TbfMicros is the time a burst of bytes takes at rate bytes per second,
// in whole microseconds: what the kernel keeps of a tbf's burst.
func TbfMicros(rate, burst int64) int64 {
	if rate <= 0 {
		return 0
	}
	return (burst*1_000_000 + rate/2) / rate
}

// TbfBurst is the burst the kernel reports for one of burst bytes at rate
// bytes per second: the bytes that fit in its whole microseconds.
func TbfBurst(rate, burst int64) int64 {
	return (TbfMicros(rate, burst)*rate + 500_000) / 1_000_000
}
