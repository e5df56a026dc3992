package filter

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestChain(t *testing.T) {
	type a = map[string]string
	type st struct {
		kind string
		args a
	}
	cases := []struct {
		name   string
		stages []st
		def    Verdict
		in     spec
		want   Verdict
		by     int // the stage that decided, -1 none
	}{
		{"empty chain gives the default", nil, Accept, ping, Accept, -1},
		{"fall through gives the default drop", []st{{"count", nil}}, Drop, ping, Drop, -1},
		{"first decisive verdict wins", []st{{"match", a{"contains": "admin"}}, {"accept", nil}}, Drop, webAdmin, Drop, 0},
		{"undecided goes to the next stage", []st{{"match", a{"contains": "admin"}}, {"drop", nil}}, Accept, webGet, Drop, 1},
		{"guard miss leaves with the default", []st{{"match", a{"protocol": "udp", "verdict": "continue"}}, {"drop", nil}}, Accept, webGet, Accept, 0},
		{"guard hit goes on", []st{{"match", a{"protocol": "tcp", "verdict": "continue"}}, {"drop", nil}}, Accept, webGet, Drop, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stages []Stage
			for i, s := range c.stages {
				stages = append(stages, Stage{Name: s.kind + string(rune('0'+i)), Kind: s.kind, Filter: mustNew(t, s.kind, s.args)})
			}
			ch := NewChain(stages, c.def)
			tally := ch.NewTally()
			if got := ch.Run(decode(t, c.in), tally); got != c.want {
				t.Errorf("verdict %v, want %v", got, c.want)
			}
			for i := range stages {
				decided := tally.Stages[i].Accept.Load() + tally.Stages[i].Drop.Load()
				want := uint64(0)
				if i == c.by {
					want = 1
				}
				if decided != want {
					t.Errorf("stage %d decided %d packets, want %d", i, decided, want)
				}
			}
			if c.by == -1 && tally.Fallthrough.Load() != 1 {
				t.Errorf("fallthrough = %d, want 1", tally.Fallthrough.Load())
			}
		})
	}
}

// TestChainLogsOnlyWhatReachedIt: a log stage after the deciding stage
// does not see the packet; one before it logs the final verdict.
func TestChainLogsOnlyWhatReachedIt(t *testing.T) {
	var before, after bytes.Buffer
	logBefore, _ := New("log", map[string]string{"prefix": "before"}, Env{Log: &before})
	logAfter, _ := New("log", map[string]string{"prefix": "after"}, Env{Log: &after})
	ch := NewChain([]Stage{
		{"l1", "log", logBefore},
		{"admin", "match", mustNew(t, "match", map[string]string{"contains": "admin"})},
		{"l2", "log", logAfter},
	}, Accept)
	ch.Run(decode(t, webAdmin), nil)
	ch.Run(decode(t, webGet), nil)
	if got := strings.Count(before.String(), "\n"); got != 2 {
		t.Errorf("first log wrote %d lines, want 2", got)
	}
	if !strings.Contains(before.String(), `"verdict":"drop"`) || !strings.Contains(before.String(), `"verdict":"accept"`) {
		t.Errorf("first log lacks the final verdicts:\n%s", before.String())
	}
	if got := strings.Count(after.String(), "\n"); got != 1 || !strings.Contains(after.String(), `"verdict":"accept"`) {
		t.Errorf("second log = %q, want one accepted packet", after.String())
	}
}

// TestChainAllocatesNothing: decoding and a pipeline of every builtin
// (log to io.Discard) cost no allocation per packet.
func TestChainAllocatesNothing(t *testing.T) {
	type a = map[string]string
	var stages []Stage
	for _, s := range []struct {
		kind string
		args a
	}{
		{"log", a{"prefix": "x"}},
		{"count", nil},
		{"match", a{"protocol": "tcp", "dport": "80", "source": "192.0.2.0/24", "contains": "nothing", "verdict": "drop"}},
		{"match", a{"regex": "^POST"}},
		{"ratelimit", a{"rate": "1000000000", "per": "source"}},
		{"mark", a{"mark": "1", "connmark": "2"}},
		{"accept", nil},
	} {
		f, err := New(s.kind, s.args, Env{Log: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		stages = append(stages, Stage{s.kind, s.kind, f})
	}
	ch := NewChain(stages, Drop)
	tally := ch.NewTally()
	data := build(t, webGet)
	d := NewDecoder()
	var p Packet
	allocs := testing.AllocsPerRun(1000, func() {
		if err := d.Decode(data, &p); err != nil {
			t.Fatal(err)
		}
		if v := ch.Run(&p, tally); v != Accept {
			t.Fatalf("verdict %v, want accept", v)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per packet, want 0", allocs)
	}
	if d := cmp.Diff(uint64(1001), tally.Accept.Load()); d != "" {
		t.Errorf("accepted (-want +got):\n%s", d)
	}
}
