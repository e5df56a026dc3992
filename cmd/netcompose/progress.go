package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/netcompose/netcompose/compose"
)

// progress reports apply progress: a bar redrawn in place on a terminal,
// otherwise a plain line at every tenth of the way (and none for small
// plans, where the plan printed before says it all).
func progress(w io.Writer, tty bool) func(done, total int, s compose.Step) {
	const width = 30
	lastTenth, lastPercent := 0, -1
	return func(done, total int, s compose.Step) {
		if total == 0 {
			return
		}
		if tty {
			// Redraw when the percentage moves, not at every step: a
			// 10,000-change plan would otherwise write 10,000 bars.
			percent := done * 100 / total
			if percent == lastPercent && done != total {
				return
			}
			lastPercent = percent
			n := done * width / total
			fmt.Fprintf(w, "\rapplying [%s%s] %d/%d changes", strings.Repeat("#", n), strings.Repeat(".", width-n), done, total)
			if done == total {
				fmt.Fprintln(w)
			}
			return
		}
		if total < 50 {
			return
		}
		if tenth := done * 10 / total; tenth > lastTenth {
			lastTenth = tenth
			fmt.Fprintf(w, "applied %d/%d changes (%d%%)\n", done, total, tenth*10)
		}
	}
}
