package kernel

import (
	"fmt"
	"math"
	"strconv"

	"github.com/netcompose/netcompose/compose"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// qdiscDriver manages the root qdisc of the lab's links
// (compose.KindQdisc): netem, tbf, and whatever kind is found there by
// hand, which is drift (replaced or deleted). The lab owns its links
// whole, so any root qdisc on one is the lab's business; a root qdisc
// with handle 0 is the kernel's default (noqueue on a veth) and means
// none. Attributes are read back into the units the lowering writes
// (compose.MicrosText, PercentText, RateText), so a re-apply plans
// nothing.
type qdiscDriver struct{}

// qdiscHandle is the handle netcompose gives the qdiscs it adds: 1:, as
// tc users expect. Observe does not depend on it (one root per link).
var qdiscHandle = netlink.MakeHandle(1, 0)

// dump reads the node's qdiscs. Observe asks only in nodes where the lab
// has or wants qdiscs (dumper): a qdisc put by hand on a link of a node
// where the lab has none is not seen, which keeps a no-op apply of a
// large lab as cheap as it was.
func (qdiscDriver) dump(s *session, sn *snapshot) (any, error) {
	return sn.qdiscList(s)
}

func (qdiscDriver) observe(s *session, snaps []*snapshot, _ []compose.Resource) ([]compose.Resource, error) {
	var out []compose.Resource
	for _, sn := range snaps {
		qs, _ := sn.dumps[compose.KindQdisc].([]netlink.Qdisc)
		for _, q := range qs {
			a := q.Attrs()
			if a.Parent != netlink.HANDLE_ROOT || a.Handle == 0 {
				continue // a child, ingress/clsact, or the kernel's default
			}
			if _, ours := sn.owned[a.LinkIndex]; !ours {
				continue
			}
			out = append(out, compose.Resource{Kind: compose.KindQdisc, Node: sn.node,
				Name: sn.ifname(a.LinkIndex), Attrs: qdiscAttrs(q)})
		}
	}
	return out, nil
}

// qdiscAttrs reads a qdisc into attributes in compose's units; a kind
// netcompose does not make is known by its kind alone.
func qdiscAttrs(q netlink.Qdisc) map[string]string {
	switch q := q.(type) {
	case *netlink.Netem:
		// What netcompose never sets (a correlation, a gap other than
		// the one reorder implies) is shown with the value it qualifies,
		// so that it differs from the file's: drift, set back in place.
		withCorr := func(text string, corr uint32) string {
			if corr != 0 {
				text += " corr " + compose.PercentText(probToMilli(corr))
			}
			return text
		}
		reorder := withCorr(compose.PercentText(probToMilli(q.ReorderProb)), q.ReorderCorr)
		if gap := uint32(min(q.ReorderProb, 1)); q.Gap != gap {
			reorder += " gap " + strconv.FormatUint(uint64(q.Gap), 10)
		}
		return map[string]string{
			"kind":      "netem",
			"delay":     withCorr(compose.MicrosText(ticksToMicros(q.Latency)), q.DelayCorr),
			"jitter":    compose.MicrosText(ticksToMicros(q.Jitter)),
			"loss":      withCorr(compose.PercentText(probToMilli(q.Loss)), q.LossCorr),
			"duplicate": withCorr(compose.PercentText(probToMilli(q.Duplicate)), q.DuplicateCorr),
			"corrupt":   withCorr(compose.PercentText(probToMilli(q.CorruptProb)), q.CorruptCorr),
			"reorder":   reorder,
			"rate":      compose.RateText(q.Rate64 * 8),
			"limit":     strconv.FormatUint(uint64(q.Limit), 10),
		}
	case *netlink.Tbf:
		us := ticksToMicros(q.Buffer)
		return map[string]string{
			"kind":  "tbf",
			"rate":  compose.RateText(q.Rate * 8),
			"burst": strconv.FormatInt((us*int64(q.Rate)+500_000)/1_000_000, 10),
			"limit": strconv.FormatUint(uint64(q.Limit), 10),
		}
	}
	return map[string]string{"kind": q.Type()}
}

// create adds r's qdisc at the root of its link (handle 1:); the plan
// found none there but the kernel's default.
func (d qdiscDriver) create(s *session, r compose.Resource) error {
	if err := s.announceDump(compose.KindQdisc, r.Node); err != nil {
		return err
	}
	if err := d.put(s, r, unix.NLM_F_CREATE|unix.NLM_F_EXCL, qdiscHandle); err != nil {
		return fmt.Errorf("qdisc %s %s: create: %w", r.Node, r.Name, err)
	}
	s.rec.addDump(compose.KindQdisc, r.Node)
	return nil
}

// update changes the root qdisc in place: a replace without a handle
// changes the parameters of a qdisc of the same kind (queued packets
// stay), and grafts a new one in the old one's place otherwise.
func (d qdiscDriver) update(s *session, before, after compose.Resource) error {
	if err := d.put(s, after, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, 0); err != nil {
		return fmt.Errorf("qdisc %s %s: change: %w", after.Node, after.Name, err)
	}
	return nil
}

// delete removes the root qdisc: the kernel puts its default back.
func (qdiscDriver) delete(s *session, r compose.Resource) error {
	h, l, err := s.linkAt(r.Node, r.Name)
	if err == nil {
		err = h.QdiscDel(&netlink.GenericQdisc{
			QdiscAttrs: netlink.QdiscAttrs{LinkIndex: l.Attrs().Index, Parent: netlink.HANDLE_ROOT},
			QdiscType:  r.Attrs["kind"],
		})
	}
	if err != nil && !gone(err) {
		return fmt.Errorf("qdisc %s %s: delete: %w", r.Node, r.Name, err)
	}
	return nil
}

// put sends r's qdisc to the root of its link with flags.
func (qdiscDriver) put(s *session, r compose.Resource, flags int, handle uint32) error {
	h, l, err := s.linkAt(r.Node, r.Name)
	if err != nil {
		return err
	}
	base := netlink.QdiscAttrs{LinkIndex: l.Attrs().Index, Parent: netlink.HANDLE_ROOT, Handle: handle}
	switch r.Attrs["kind"] {
	case "netem":
		return putNetem(s, r, base, flags)
	case "tbf":
		q, err := tbfOf(r, base)
		if err != nil {
			return err
		}
		if flags&unix.NLM_F_REPLACE != 0 {
			return h.QdiscReplace(q)
		}
		return h.QdiscAdd(q)
	}
	// A kind made by hand that a rollback puts back: with the kernel's
	// defaults, its parameters unknown.
	q := &netlink.GenericQdisc{QdiscAttrs: base, QdiscType: r.Attrs["kind"]}
	if flags&unix.NLM_F_REPLACE != 0 {
		return h.QdiscReplace(q)
	}
	return h.QdiscAdd(q)
}

// putNetem sends a netem qdisc with every option it has, zeros included:
// the kernel keeps the old value of an option a change leaves out
// (netem_change), and the netlink package leaves out the zero ones, so a
// rate, corruption or reordering could never be turned off in place.
func putNetem(s *session, r compose.Resource, base netlink.QdiscAttrs, flags int) error {
	var bad error
	micros := func(k string) uint32 {
		us, err := compose.ParseMicros(r.Attrs[k], math.MaxInt64)
		if err != nil && bad == nil {
			bad = fmt.Errorf("%s: %w", k, err)
		}
		return microsToTicks(us)
	}
	prob := func(k string) uint32 {
		milli, err := compose.ParsePercent(r.Attrs[k])
		if err != nil && bad == nil {
			bad = fmt.Errorf("%s: %w", k, err)
		}
		return milliToProb(milli)
	}
	rate, err := compose.ParseRate(r.Attrs["rate"])
	if err != nil {
		return fmt.Errorf("rate: %w", err)
	}
	limit, err := strconv.ParseUint(r.Attrs["limit"], 10, 32)
	if err != nil {
		return fmt.Errorf("limit: %q is not a number of packets", r.Attrs["limit"])
	}
	opt := nl.TcNetemQopt{
		Latency:   micros("delay"),
		Jitter:    micros("jitter"),
		Limit:     uint32(limit),
		Loss:      prob("loss"),
		Duplicate: prob("duplicate"),
	}
	reorder := nl.TcNetemReorder{Probability: prob("reorder")}
	if reorder.Probability > 0 {
		// A gap of 1 with a probability is tc's "reorder P": each packet
		// is sent at once with probability P, the others wait the delay.
		opt.Gap = 1
	}
	corrupt := nl.TcNetemCorrupt{Probability: prob("corrupt")}
	if bad != nil {
		return bad
	}
	bytes := rate / 8
	tcRate := nl.TcNetemRate{Rate: uint32(min(bytes, math.MaxUint32))}
	options := nl.NewRtAttr(nl.TCA_OPTIONS, opt.Serialize())
	options.AddRtAttr(nl.TCA_NETEM_CORR, (&nl.TcNetemCorr{}).Serialize())
	options.AddRtAttr(nl.TCA_NETEM_REORDER, reorder.Serialize())
	options.AddRtAttr(nl.TCA_NETEM_CORRUPT, corrupt.Serialize())
	options.AddRtAttr(nl.TCA_NETEM_RATE, tcRate.Serialize())
	if bytes >= math.MaxUint32 {
		options.AddRtAttr(nl.TCA_NETEM_RATE64, nl.Uint64Attr(bytes))
	}

	sock, err := s.rawSocket(r.Node)
	if err != nil {
		return err
	}
	req := nl.NewNetlinkRequest(unix.RTM_NEWQDISC, flags|unix.NLM_F_ACK)
	req.AddData(&nl.TcMsg{Family: nl.FAMILY_ALL, Ifindex: int32(base.LinkIndex), Handle: base.Handle, Parent: base.Parent})
	req.AddData(nl.NewRtAttr(nl.TCA_KIND, nl.ZeroTerminated("netem")))
	req.AddData(options)
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: sock}
	_, err = req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}

// tbfOf builds a tbf qdisc from r: its burst is kept by the kernel as
// the time it takes at the rate, in ticks.
func tbfOf(r compose.Resource, base netlink.QdiscAttrs) (*netlink.Tbf, error) {
	rate, err := compose.ParseRate(r.Attrs["rate"])
	if err != nil || rate == 0 {
		return nil, fmt.Errorf("rate: %q is not a rate", r.Attrs["rate"])
	}
	burst, err := strconv.ParseInt(r.Attrs["burst"], 10, 64)
	if err != nil || burst <= 0 {
		return nil, fmt.Errorf("burst: %q is not a number of bytes", r.Attrs["burst"])
	}
	limit, err := strconv.ParseUint(r.Attrs["limit"], 10, 32)
	if err != nil {
		return nil, fmt.Errorf("limit: %q is not a number of bytes", r.Attrs["limit"])
	}
	bytes := rate / 8
	return &netlink.Tbf{
		QdiscAttrs: base,
		Rate:       bytes,
		Buffer:     microsToTicks(compose.TbfMicros(int64(bytes), burst)),
		Limit:      uint32(limit),
	}, nil
}

// Packet schedulers count time in ticks (psched, 64 ns on every kernel
// since 2.6.31; /proc/net/psched says so and the netlink package reads
// it). A microsecond is not a whole number of ticks: rounding each way
// makes whole microseconds come back as they went.

func microsToTicks(us int64) uint32 {
	return uint32(min(math.Round(float64(us)*netlink.TickInUsec()), math.MaxUint32))
}

func ticksToMicros(ticks uint32) int64 {
	return int64(math.Round(float64(ticks) / netlink.TickInUsec()))
}

// Probabilities are fractions of 2^32-1 (100%); compose writes them in
// thousandths of a percent, which survive the way there and back.

func milliToProb(milli int64) uint32 {
	return uint32(math.Round(float64(milli) / 100_000 * math.MaxUint32))
}

func probToMilli(p uint32) int64 {
	return int64(math.Round(float64(p) / math.MaxUint32 * 100_000))
}
