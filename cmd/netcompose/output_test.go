package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netcompose/netcompose/compose"
)

func TestProgress(t *testing.T) {
	tests := []struct {
		name  string
		tty   bool
		total int
		want  []string // what is written, split at \r and \n
	}{
		{"small plan off a terminal says nothing", false, 10, []string{}},
		{"large plan off a terminal: a line per tenth", false, 100, []string{
			"applied 10/100 changes (10%)", "applied 20/100 changes (20%)", "applied 30/100 changes (30%)",
			"applied 40/100 changes (40%)", "applied 50/100 changes (50%)", "applied 60/100 changes (60%)",
			"applied 70/100 changes (70%)", "applied 80/100 changes (80%)", "applied 90/100 changes (90%)",
			"applied 100/100 changes (100%)",
		}},
		{"terminal bar redrawn per step when steps are coarse", true, 3, []string{
			"applying [##########....................] 1/3 changes",
			"applying [####################..........] 2/3 changes",
			"applying [##############################] 3/3 changes",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			p := progress(&b, tt.tty)
			for i := 1; i <= tt.total; i++ {
				p(i, tt.total, compose.Step{})
			}
			got := strings.FieldsFunc(b.String(), func(r rune) bool { return r == '\r' || r == '\n' })
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("progress output (-want +got):\n%s", diff)
			}
		})
	}
}

// A terminal bar for a large plan is redrawn once per percent, not once
// per change, and ends on its own line.
func TestProgressThrottlesLargePlans(t *testing.T) {
	var b strings.Builder
	p := progress(&b, true)
	const total = 10000
	for i := 1; i <= total; i++ {
		p(i, total, compose.Step{})
	}
	out := b.String()
	if n := strings.Count(out, "\r"); n != 101 {
		t.Errorf("bar drawn %d times for %d changes, want 101 (once per percent, 0 to 100)", n, total)
	}
	if !strings.HasSuffix(out, "10000/10000 changes\n") {
		t.Errorf("bar does not end complete on its own line: %q", out[max(0, len(out)-60):])
	}
}

func TestFlatten(t *testing.T) {
	a, b, c := errors.New("a.ini:1: x"), errors.New("a.ini:2: y"), errors.New("b.ini:3: z")
	tests := []struct {
		name string
		err  error
		want []string
	}{
		{"nil", nil, nil},
		{"one error", a, []string{"a.ini:1: x"}},
		{"joined", errors.Join(a, b), []string{"a.ini:1: x", "a.ini:2: y"}},
		{"joined joins, as validate of two files", errors.Join(errors.Join(a, b), c), []string{"a.ini:1: x", "a.ini:2: y", "b.ini:3: z"}},
		{"wrapped join stays one", fmt.Errorf("apply: %w", errors.Join(a, b)), []string{"apply: a.ini:1: x\na.ini:2: y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range flatten(tt.err) {
				got = append(got, e.Error())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("flatten (-want +got):\n%s", diff)
			}
		})
	}
}
