package kernel

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/kmod"
)

// tcRoot is the root qdisc of dev in ns as `tc -j qdisc show` has it
// (the independent eye): nil when the kernel's default (handle 0:) or
// nothing is there.
func tcRoot(t *testing.T, ns, dev string) map[string]any {
	t.Helper()
	var stderr strings.Builder
	cmd := exec.Command("tc", "-j", "-n", ns, "qdisc", "show", "dev", dev)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tc -j -n %s qdisc show dev %s: %v: %s", ns, dev, err, stderr.String())
	}
	var qs []map[string]any
	if err := json.Unmarshal(out, &qs); err != nil {
		t.Fatalf("tc -j qdisc show: %v: %s", err, out)
	}
	for _, q := range qs {
		if q["root"] == true && q["handle"] != "0:" {
			return q
		}
	}
	return nil
}

// tcOption digs a number out of a tc JSON qdisc: "options.delay.delay".
func tcOption(q map[string]any, path string) float64 {
	var v any = q
	for _, k := range strings.Split(path, ".") {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	f, _ := v.(float64)
	return f
}

func requireTC(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tc"); err != nil {
		t.Skip("needs tc (iproute2) for the independent checks")
	}
}

// requireNetem skips where the kernel has no netem: some cloud kernels
// are built without it (scripts/kernel-vm runs these tests under Debian's
// kernel then).
func requireNetem(t *testing.T) {
	t.Helper()
	if err := kmod.Probe(context.Background(), "netem"); err != nil {
		t.Skipf("the kernel has no netem qdisc (CONFIG_NET_SCH_NETEM): %v; scripts/kernel-vm runs this test under a kernel that has", err)
	}
}

const qdiscLab = `
[netns:a]
address.eth0 = 10.9.0.1/24
%s
[netns:b]
address.eth0 = 10.9.0.2/24
[veth:wan]
endpoints = a:eth0 b:eth0
%s
`

func qdiscFile(node, link string) string {
	return fmt.Sprintf(qdiscLab, node, link)
}

// TestQdiscNetem applies a link's impairments as netem qdiscs and sees
// them with tc: every parameter as written, a re-apply that plans
// nothing, changes in place (options turned off too), drift repaired, a
// rollback that restores them, and their removal with their keys.
func TestQdiscNetem(t *testing.T) {
	requireRoot(t)
	requireTC(t)
	requireNetem(t)
	lab := newLab(t)
	nsA, nsB := compose.NamespaceName(lab, "a"), compose.NamespaceName(lab, "b")
	all := qdiscFile("", `delay = 40ms
jitter = 5ms
loss = 1
duplicate = 0.5
corrupt = 0.1
reorder = 25
rate = 10mbit
limit = 2000`)
	applyFile(t, lab, all) // fails unless a re-plan is empty: the units round-trip
	q := tcRoot(t, nsA, "eth0")
	t.Logf("tc: %v", q)
	if q["kind"] != "netem" || q["handle"] != "1:" {
		t.Fatalf("tc: root qdisc %v, want netem 1:", q)
	}
	want := map[string]float64{
		"options.limit": 2000, "options.delay.delay": 0.04, "options.delay.jitter": 0.005,
		"options.loss-random.loss": 0.01, "options.duplicate.duplicate": 0.005,
		"options.corrupt.corrupt": 0.001, "options.reorder.reorder": 0.25, "options.rate.rate": 1250000,
	}
	for path, w := range want {
		if got := tcOption(q, path); math.Abs(got-w) > w*1e-6 {
			t.Errorf("tc: %s = %v, want %v", path, got, w)
		}
	}
	if tcRoot(t, nsB, "eth0")["kind"] != "netem" {
		t.Errorf("tc: b eth0 has no netem: the link's keys impair both ends")
	}

	// A change in place: same qdisc (its handle), new delay; options
	// turned off are off (netem keeps what a change leaves out).
	less := qdiscFile("", "delay = 50ms\nloss = 1")
	p := applyFile(t, lab, less)
	if d := cmp.Diff([]string{"update qdisc/a/eth0", "update qdisc/b/eth0"}, planIDs(p)); d != "" {
		t.Errorf("plan (-want +got):\n%s", d)
	}
	q = tcRoot(t, nsA, "eth0")
	if q["handle"] != "1:" || tcOption(q, "options.delay.delay") != 0.05 {
		t.Errorf("tc after the change: %v, want netem 1: with delay 50ms", q)
	}
	for _, off := range []string{"options.delay.jitter", "options.corrupt.corrupt", "options.reorder.reorder", "options.rate.rate", "options.duplicate.duplicate"} {
		if v := tcOption(q, off); v != 0 {
			t.Errorf("tc after the change: %s = %v, want off", off, v)
		}
	}

	// Drift: changed by hand, deleted by hand, another kind by hand.
	for _, hand := range [][]string{
		{"qdisc", "change", "dev", "eth0", "root", "netem", "delay", "5ms", "loss", "1%"},
		{"qdisc", "change", "dev", "eth0", "root", "netem", "delay", "50ms", "10ms", "25%", "loss", "1%"},
		{"qdisc", "del", "dev", "eth0", "root"},
		{"qdisc", "replace", "dev", "eth0", "root", "tbf", "rate", "1mbit", "burst", "10kb", "latency", "50ms"},
	} {
		tc(t, append([]string{"-n", nsA}, hand...)...)
		desired := lowered(t, less)
		actual, err := Observe(context.Background(), lab, desired)
		if err != nil {
			t.Fatal(err)
		}
		if p := compose.Diff(lab, desired, actual); len(planIDs(p)) != 1 || !strings.HasSuffix(planIDs(p)[0], " qdisc/a/eth0") {
			t.Errorf("after tc %s: plan %v, want qdisc a eth0 alone", strings.Join(hand, " "), planIDs(p))
		} else {
			t.Logf("after tc %s: %s", strings.Join(hand, " "), p.Changes[0].Line())
		}
		applyFile(t, lab, less)
		if q := tcRoot(t, nsA, "eth0"); q["kind"] != "netem" || tcOption(q, "options.delay.delay") != 0.05 ||
			tcOption(q, "options.delay.correlation") != 0 {
			t.Errorf("after tc %s and apply: %v", strings.Join(hand, " "), q)
		}
	}

	// A failed apply puts the old parameters back.
	desired := append(lowered(t, all), res(compose.KindSysctl, "b", "net.ipv4.no_such_key", "value", "1"))
	compose.Sort(desired)
	if _, err := converge(lab, desired, ApplyOptions{}); !isApplyError(err) {
		t.Fatalf("apply with a bad sysctl: %v, want an *ApplyError", err)
	}
	if q := tcRoot(t, nsA, "eth0"); tcOption(q, "options.delay.delay") != 0.05 || tcOption(q, "options.rate.rate") != 0 {
		t.Errorf("after the rollback: %v, want delay 50ms and no rate, as before", q)
	}
	applyFile(t, lab, less)

	// A node's keys impair its end alone; the link's keys gone, the
	// other end's qdisc goes and the kernel's default is back.
	p = applyFile(t, lab, qdiscFile("delay.eth0 = 1ms", ""))
	if d := cmp.Diff([]string{"delete qdisc/b/eth0", "update qdisc/a/eth0"}, planIDs(p)); d != "" {
		t.Errorf("plan (-want +got):\n%s", d)
	}
	if q := tcRoot(t, nsB, "eth0"); q != nil {
		t.Errorf("tc: b eth0 still has %v", q)
	}
	p = applyFile(t, lab, qdiscFile("", ""))
	if d := cmp.Diff([]string{"delete qdisc/a/eth0"}, planIDs(p)); d != "" {
		t.Errorf("plan (-want +got):\n%s", d)
	}
	if q := tcRoot(t, nsA, "eth0"); q != nil {
		t.Errorf("tc: a eth0 still has %v", q)
	}
}

// tbfLab is qdiscFile's lab with a tbf qdisc on a's eth0: the shaping a
// bridge port's rate limit uses.
func tbfLab(t *testing.T, sh compose.Shaping) []compose.Resource {
	t.Helper()
	rs := lowered(t, qdiscFile("", ""))
	rs = append(rs, compose.Resource{Kind: compose.KindQdisc, Node: "a", Name: "eth0", Attrs: sh.Attrs()})
	compose.Sort(rs)
	return rs
}

func applyResources(t *testing.T, lab string, desired []compose.Resource) compose.Plan {
	t.Helper()
	p, err := converge(lab, desired, ApplyOptions{})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	actual, err := Observe(context.Background(), lab, desired)
	if err != nil {
		t.Fatal(err)
	}
	if again := compose.Diff(lab, desired, actual); !again.Empty() {
		for _, c := range again.Changes {
			t.Logf("%s", c.Line())
		}
		t.Fatalf("second apply not empty: %v", planIDs(again))
	}
	return p
}

// TestQdiscTbf runs the qdisc kind's whole life with tbf, which kernels
// without netem have too: create, observe (tc's view agrees), change in
// place, drift, a hand-made qdisc of another kind on a lab link, rollback
// and removal.
func TestQdiscTbf(t *testing.T) {
	requireRoot(t)
	requireTC(t)
	if err := kmod.Probe(context.Background(), "tbf"); err != nil {
		t.Skipf("the kernel has no tbf qdisc: %v", err)
	}
	lab := newLab(t)
	nsA := compose.NamespaceName(lab, "a")
	ten := compose.Shaping{Rate: 10_000_000, Burst: 32768, Limit: 65536}
	p := applyResources(t, lab, tbfLab(t, ten))
	if !strings.Contains(strings.Join(planIDs(p), " "), "create qdisc/a/eth0") {
		t.Errorf("plan %v: no create of qdisc/a/eth0", planIDs(p))
	}
	checkTbf := func(step string, rate, burst float64) {
		t.Helper()
		q := tcRoot(t, nsA, "eth0")
		// tc works the burst out of the kernel's ticks with truncations of
		// its own: within a microsecond's worth of bytes.
		if q["kind"] != "tbf" || q["handle"] != "1:" || tcOption(q, "options.rate") != rate/8 ||
			math.Abs(tcOption(q, "options.burst")-burst) > rate/8e6+1 {
			t.Errorf("%s: tc %v, want tbf 1: rate %v bytes/s burst %v", step, q, rate/8, burst)
		}
	}
	checkTbf("created", 10e6, 32768)

	// In place: the same qdisc, a new rate.
	twenty := compose.Shaping{Rate: 20_000_000, Burst: 32768, Limit: 65536}
	p = applyResources(t, lab, tbfLab(t, twenty))
	if d := cmp.Diff([]string{"update qdisc/a/eth0"}, planIDs(p)); d != "" {
		t.Errorf("plan (-want +got):\n%s", d)
	}
	checkTbf("changed", 20e6, 32768)

	// Drift by hand, repaired in place.
	tc(t, "-n", nsA, "qdisc", "change", "dev", "eth0", "root", "tbf", "rate", "1mbit", "burst", "10kb", "latency", "50ms")
	p = applyResources(t, lab, tbfLab(t, twenty))
	if d := cmp.Diff([]string{"update qdisc/a/eth0"}, planIDs(p)); d != "" {
		t.Errorf("plan after tc qdisc change (-want +got):\n%s", d)
	}
	checkTbf("repaired", 20e6, 32768)

	// A failed apply puts the old rate back.
	bad := append(tbfLab(t, ten), res(compose.KindSysctl, "b", "net.ipv4.no_such_key", "value", "1"))
	compose.Sort(bad)
	if _, err := converge(lab, bad, ApplyOptions{}); !isApplyError(err) {
		t.Fatalf("apply with a bad sysctl: %v, want an *ApplyError", err)
	}
	checkTbf("rolled back", 20e6, 32768)

	// Gone from the file: deleted, the kernel's default back.
	plain := lowered(t, qdiscFile("", ""))
	p = applyResources(t, lab, plain)
	if d := cmp.Diff([]string{"delete qdisc/a/eth0"}, planIDs(p)); d != "" {
		t.Errorf("plan (-want +got):\n%s", d)
	}
	if q := tcRoot(t, nsA, "eth0"); q != nil {
		t.Errorf("tc after the delete: %v", q)
	}

	// A qdisc of another kind put by hand on a lab link (in a node where
	// the lab has had qdiscs) is drift: deleted, with the reason; a
	// failed apply puts it back as it was found.
	tc(t, "-n", nsA, "qdisc", "add", "dev", "eth0", "root", "pfifo", "limit", "77")
	actual, err := Observe(context.Background(), lab, plain)
	if err != nil {
		t.Fatal(err)
	}
	p = compose.Diff(lab, plain, actual)
	if len(p.Changes) != 1 || p.Changes[0].Line() != "- qdisc a eth0 (not in the file; the lab owns its links)" {
		t.Fatalf("plan with a pfifo by hand: %v", planIDs(p))
	}
	bad = append(lowered(t, qdiscFile("", "")), res(compose.KindSysctl, "b", "net.ipv4.no_such_key", "value", "1"))
	compose.Sort(bad)
	if _, err := converge(lab, bad, ApplyOptions{}); !isApplyError(err) {
		t.Fatalf("apply with a bad sysctl: %v, want an *ApplyError", err)
	}
	if q := tcRoot(t, nsA, "eth0"); q["kind"] != "pfifo" {
		t.Errorf("after the rollback: %v, want the pfifo back", q)
	}
	applyResources(t, lab, plain)
	if q := tcRoot(t, nsA, "eth0"); q != nil {
		t.Errorf("tc after apply: %v, want the kernel's default", q)
	}
	// The link goes: its qdisc with it, no step of its own.
	tc(t, "-n", nsA, "qdisc", "add", "dev", "eth0", "root", "handle", "1:", "tbf", "rate", "1mbit", "burst", "10kb", "latency", "50ms")
	actual, err = Observe(context.Background(), lab, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range compose.Diff(lab, nil, actual).Changes {
		if c.ID == "qdisc/a/eth0" && !c.Cascade {
			t.Errorf("destroy: %s, want a cascade with its link", c.Line())
		}
	}
}

func tc(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("tc", args...).CombinedOutput(); err != nil {
		t.Fatalf("tc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
