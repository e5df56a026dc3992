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
	lastTenth := 0
	return func(done, total int, s compose.Step) {
		if total == 0 {
			return
		}
		if tty {
			n := done * width / total
			fmt.Fprintf(w, "\r[%s%s] %d/%d", strings.Repeat("#", n), strings.Repeat(".", width-n), done, total)
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
