package compose

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// impairLab is two sites joined by a WAN veth, %s standing for the keys
// under test (one or more lines, in any section).
const impairLab = `[netns:a]
address.eth0 = 10.9.0.1/24
[netns:b]
address.eth0 = 10.9.0.2/24
[veth:wan]
endpoints = a:eth0 b:eth0
%s
`

func qdiscs(t *testing.T, text string) []Resource {
	t.Helper()
	lab, err := build(t, text)
	if err != nil {
		t.Fatal(err)
	}
	return ofKind(lab.Resources(), KindQdisc)
}

func netem(kv ...string) map[string]string {
	m := map[string]string{"kind": "netem", "delay": "0", "jitter": "0", "loss": "0", "duplicate": "0",
		"corrupt": "0", "reorder": "0", "rate": "0", "limit": "1000"}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func TestImpairmentResources(t *testing.T) {
	tests := []struct {
		name, keys string
		want       []Resource
	}{
		{"a link's keys impair both ends", "delay = 40ms\nloss = 1", []Resource{
			{Kind: KindQdisc, Node: "a", Name: "eth0", Attrs: netem("delay", "40ms", "loss", "1%")},
			{Kind: KindQdisc, Node: "b", Name: "eth0", Attrs: netem("delay", "40ms", "loss", "1%")},
		}},
		{"a node's keys impair its end only", "[netns:c]\n[veth:x]\nendpoints = a:eth1 c:eth0\n[netns:a]\ndelay.eth1 = 1.5ms\njitter.eth1 = 250us", nil},
		{"every key, in its canonical unit", "delay = 0.5s\njitter = 2000us\nloss = 0.250\nduplicate = 2%%\ncorrupt = 0.001\nreorder = 25\nrate = 1.5Mbit\nlimit = 5000", []Resource{
			{Kind: KindQdisc, Node: "a", Name: "eth0", Attrs: netem("delay", "500ms", "jitter", "2ms", "loss", "0.25%", "duplicate", "2%",
				"corrupt", "0.001%", "reorder", "25%", "rate", "1500kbit", "limit", "5000")},
			{Kind: KindQdisc, Node: "b", Name: "eth0", Attrs: netem("delay", "500ms", "jitter", "2ms", "loss", "0.25%", "duplicate", "2%",
				"corrupt", "0.001%", "reorder", "25%", "rate", "1500kbit", "limit", "5000")},
		}},
		{"a link's and a node's keys add up on one end", "delay = 40ms\n[netns:c]\n[netns:a]\nrate.eth0 = 10mbit", nil},
		{"rate alone", "rate = 1gbit", []Resource{
			{Kind: KindQdisc, Node: "a", Name: "eth0", Attrs: netem("rate", "1gbit")},
			{Kind: KindQdisc, Node: "b", Name: "eth0", Attrs: netem("rate", "1gbit")},
		}},
		{"no keys, no qdisc", "mtu = 1400", nil},
	}
	// The cases that redeclare [netns:a] cannot: write them out.
	tests[1].want = []Resource{{Kind: KindQdisc, Node: "a", Name: "eth1", Attrs: netem("delay", "1.5ms", "jitter", "250us")}}
	tests[3].want = []Resource{
		{Kind: KindQdisc, Node: "a", Name: "eth0", Attrs: netem("delay", "40ms", "rate", "10mbit")},
		{Kind: KindQdisc, Node: "b", Name: "eth0", Attrs: netem("delay", "40ms")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := strings.Replace(impairLab, "%s", tt.keys, 1)
			if strings.Contains(tt.keys, "[netns:a]") {
				// The node's keys go in a's own section.
				head, rest, _ := strings.Cut(tt.keys, "[netns:a]\n")
				text = strings.Replace(impairLab, "[netns:a]\n", "[netns:a]\n"+rest+"\n", 1)
				text = strings.Replace(text, "%s", head, 1)
			}
			if d := cmp.Diff(tt.want, qdiscs(t, text)); d != "" {
				t.Errorf("qdiscs (-want +got):\n%s", d)
			}
		})
	}
}

// A plan line says what the qdisc does, and a change only what changes.
func TestImpairmentPlanLines(t *testing.T) {
	lower := func(keys string) []Resource {
		lab, err := build(t, strings.Replace(impairLab, "%s", keys, 1))
		if err != nil {
			t.Fatal(err)
		}
		return lab.Resources()
	}
	lines := func(p Plan) []string {
		var out []string
		for _, c := range p.Changes {
			if c.Resource().Kind == KindQdisc {
				out = append(out, c.Line())
			}
		}
		return out
	}
	before := lower("delay = 20ms\nloss = 1")
	if d := cmp.Diff([]string{
		"+ qdisc a eth0  netem delay=20ms loss=1%",
		"+ qdisc b eth0  netem delay=20ms loss=1%",
	}, lines(Diff("lab", before, nil))); d != "" {
		t.Errorf("create (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{
		"~ qdisc a eth0  delay: 20ms → 50ms, loss: 1% → 0",
		"~ qdisc b eth0  delay: 20ms → 50ms, loss: 1% → 0",
	}, lines(Diff("lab", lower("delay = 50ms"), before))); d != "" {
		t.Errorf("change in place (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{
		"- qdisc a eth0 (not in the file; the lab owns its links)",
		"- qdisc b eth0 (not in the file; the lab owns its links)",
	}, lines(Diff("lab", lower(""), before))); d != "" {
		t.Errorf("keys removed (-want +got):\n%s", d)
	}
	if p := Diff("lab", before, before); !p.Empty() {
		t.Errorf("same lab: plan %v", p.Changes)
	}
	// The qdisc goes with its link: a replaced veth takes it along and
	// it is made again.
	moved := lower("delay = 20ms\nloss = 1\nmtu = 9000")
	for i := range moved {
		if moved[i].Kind == KindVeth {
			moved[i].Attrs["b.ifname"] = "eth9"
		}
	}
	for _, c := range Diff("lab", before, moved).Changes {
		if c.ID == "qdisc/b/eth0" && !(c.Action == Create && c.Before != nil) {
			t.Errorf("qdisc b eth0 when its veth is replaced: %s %+v, want recreated with its parent", c.Action, c)
		}
	}
}

func TestImpairmentErrors(t *testing.T) {
	tests := []struct {
		keys string
		want []string
	}{
		{"delay = 20", []string{`7: [veth:wan]: delay: "20" has no unit (like 20ms)`}},
		{"delay = 20 ms", []string{`7: [veth:wan]: delay: "20 ms" is not a duration (like 40ms, 1.5ms or 250us)`}},
		{"delay = 1500ns", []string{`7: [veth:wan]: delay: "1500ns" is finer than a microsecond`}},
		{"delay = 2m", []string{`7: [veth:wan]: delay: "2m" is more than 1m0s`}},
		{"loss = one", []string{`7: [veth:wan]: loss: "one" is not a percentage in 0..100 with at most 3 decimals (like 1 or 0.5)`}},
		{"loss = 101%%", []string{`7: [veth:wan]: loss: "101%" is not a percentage in 0..100 with at most 3 decimals (like 1 or 0.5)`}},
		{"loss = 0.0001", []string{`7: [veth:wan]: loss: "0.0001" is not a percentage in 0..100 with at most 3 decimals (like 1 or 0.5)`}},
		{"rate = 10mbps", []string{`7: [veth:wan]: rate: "10mbps" is not a rate: want a number and bit, kbit, mbit or gbit (like 10mbit)`}},
		{"rate = 1001bit", []string{`7: [veth:wan]: rate: "1001bit" is not a whole number of bytes per second (the kernel counts bytes)`}},
		{"limit = 0", []string{`7: [veth:wan]: limit: "0" is not a number of packets in 1..4294967295`}},
		{"jitter = 5ms", []string{`7: [veth:wan]: jitter: needs a delay on a:eth0 too (netem varies the delay by the jitter)`}},
		{"reorder = 25", []string{`7: [veth:wan]: reorder: needs a delay on a:eth0 too (netem reorders by sending some packets at once while the others wait out the delay)`}},
		{"delay = 40ms\n[netns:c]\ndelay.eth0 = 1ms\n[netns:d]\nloss.eth0 = 1\n[netns:e]\ndelay.lo = 1ms", []string{
			`9: [netns:c]: delay.eth0: node c has no interface "eth0"`,
			`11: [netns:d]: loss.eth0: node d has no interface "eth0"`,
			`13: [netns:e]: delay.lo: lo is not a link of the lab: impair a veth end, bridge or vxlan device`,
		}},
		{"delay.eth0 = 1ms", []string{`7: [veth:wan]: unknown key "delay.eth0"`}},
	}
	for _, tt := range tests {
		t.Run(tt.keys, func(t *testing.T) {
			wantBuildErrors(t, strings.Replace(impairLab, "%s", tt.keys, 1), tt.want)
		})
	}
}

// A parameter set on the link and again on a node is an error at the
// node's key that names the link's line; jitter on a node with the delay
// on the link is fine.
func TestImpairmentSetTwice(t *testing.T) {
	text := `[netns:a]
address.eth0 = 10.9.0.1/24
delay.eth0 = 10ms
jitter.eth0 = 2ms
[netns:b]
[veth:wan]
endpoints = a:eth0 b:eth0
delay = 40ms
`
	_, err := build(t, text)
	if err == nil {
		t.Fatal("no error")
	}
	want := `/labs/lab.ini:3: [netns:a]: delay.eth0: delay is already 40ms by [veth:wan] line 8 (delay): set it in one place`
	if err.Error() != want {
		t.Errorf("error:\n got %s\nwant %s", err, want)
	}
	ok := strings.Replace(text, "delay.eth0 = 10ms\n", "", 1)
	got := qdiscs(t, ok)
	if len(got) != 2 || got[0].Attrs["jitter"] != "2ms" || got[0].Attrs["delay"] != "40ms" || got[1].Attrs["jitter"] != "0" {
		t.Errorf("qdiscs: %v", got)
	}
}

// A [DEFAULT] key is every link's, as mtu is; a vxlan device takes the
// keys too, and a tunnel of a multi-host lab takes its veth's.
func TestImpairmentOfVxlanAndTunnels(t *testing.T) {
	lab, err := build(t, `[DEFAULT]
loss = 0.5
[host:m1]
underlay = 192.0.2.1
[host:m2]
underlay = 192.0.2.2
[netns:a]
host = m1
[netns:b]
host = m2
[veth:wan]
endpoints = a:eth0 b:eth0
delay = 40ms
`)
	if err != nil {
		t.Fatal(err)
	}
	s, err := lab.ForHost("m1")
	if err != nil {
		t.Fatal(err)
	}
	got := ofKind(s.Resources(), KindQdisc)
	want := []Resource{{Kind: KindQdisc, Node: "a", Name: "eth0", Attrs: netem("delay", "40ms", "loss", "0.5%")}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("m1's qdiscs (-want +got):\n%s", d)
	}
	if fs := s.Features(); !strings.Contains(strings.Join(fs, " "), "netem") {
		t.Errorf("features %v: no netem", fs)
	}
}

func TestUnits(t *testing.T) {
	for in, want := range map[string]string{
		"0": "0", "1us": "1us", "999us": "999us", "1000us": "1ms", "40ms": "40ms", "1.5ms": "1.5ms",
		"0.25ms": "250us", "1.001ms": "1.001ms", "2s": "2000ms", "1m": "60000ms", "250µs": "250us",
	} {
		us, err := ParseMicros(in, time.Hour)
		if got := MicrosText(us); err != nil || got != want {
			t.Errorf("micros %q: %q (%v), want %q", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		"0": "0", "0%": "0", "1": "1%", "1%": "1%", "0.5": "0.5%", "0.001%": "0.001%", "100": "100%", "12.340": "12.34%", ".5%": "0.5%",
	} {
		m, err := ParsePercent(in)
		if got := PercentText(m); err != nil || got != want {
			t.Errorf("percent %q: %q (%v), want %q", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		"0": "0", "8bit": "8bit", "1000bit": "1kbit", "10mbit": "10mbit", "10Mbit": "10mbit", "1.5mbit": "1500kbit",
		"2.5gbit": "2500mbit", "40gbit": "40gbit", "1tbit": "1tbit", "64kbit": "64kbit", "1.2kbit": "1200bit",
	} {
		n, err := ParseRate(in)
		if got := RateText(n); err != nil || got != want {
			t.Errorf("rate %q: %q (%v), want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "mbit", "-1mbit", "1e6bit", "1.0001kbit", "10 bps"} {
		if _, err := ParseRate(bad); err == nil {
			t.Errorf("rate %q: no error", bad)
		}
	}
}

// What the kernel keeps of a tbf burst (whole microseconds at the rate)
// comes back as it was written: a re-apply plans nothing.
func TestTbfBurstIsAFixedPoint(t *testing.T) {
	for _, rate := range []int64{1000, 125_000, 999_999, 1_000_000, 1_250_000, 12_500_000, 125_000_000, 1_250_000_000, 3_333_333} {
		for _, burst := range []int64{1, 1500, 1514, 10_000, 32_768, 65_536, 1 << 20} {
			b := TbfBurst(rate, burst)
			if again := TbfBurst(rate, b); again != b {
				t.Errorf("rate %d burst %d: %d, then %d", rate, burst, b, again)
			}
		}
	}
	sh := Shaping{Rate: 10_000_000, Burst: 32768, Limit: 65536}
	if d := cmp.Diff(map[string]string{"kind": "tbf", "rate": "10mbit", "burst": "32768", "limit": "65536"}, sh.Attrs()); d != "" {
		t.Errorf("shaping attrs (-want +got):\n%s", d)
	}
}
