package supervisor

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/netcompose/netcompose/internal/labdir"
)

// LogSupervisor is the Component of the supervisor's own log lines.
const LogSupervisor = "supervisor"

// followEvery is how often Logs looks for new lines when following.
var followEvery = 200 * time.Millisecond

// LogLine is one line of a lab's logs.
type LogLine struct {
	Component string    // LogSupervisor or "kind.name"
	Time      time.Time // zero for a line without a timestamp (a crash trace)
	Text      string    // the line as written, timestamp included, no newline
}

// Logs calls fn with the lines of the lab's logs: the supervisor's and
// every component's, or only those of component when it is not "". Each
// file's rotated part (.1) comes before its current one, and the lines of
// several files are merged in time order. With follow it then waits for
// new lines, of components that appear later too and across rotations,
// until ctx ends (and returns nil).
func Logs(ctx context.Context, dir labdir.Dir, component string, follow bool, fn func(LogLine)) error {
	if component != "" && component != LogSupervisor {
		if _, err := dir.Log(component); err != nil {
			return fmt.Errorf("lab %s: logs: %w", dir.Key, err)
		}
	}
	if _, err := os.Stat(dir.Path); err != nil {
		return fmt.Errorf("lab %s: logs: %w", dir.Key, err)
	}
	tails := map[string]*tail{}
	defer func() {
		for _, t := range tails {
			t.close()
		}
	}()
	var first []sortedLine
	for _, name := range logNames(dir, component) {
		t := newTail(dir, name)
		tails[name] = t
		first = append(first, t.readRotated()...)
		first = append(first, t.poll()...)
		if !follow {
			first = append(first, t.flush()...)
		}
	}
	if component != "" && len(tails) == 0 && !follow {
		return fmt.Errorf("lab %s: logs: no log of %s (have: %s)", dir.Key, component,
			strings.Join(logNames(dir, ""), ", "))
	}
	emit(first, fn)
	if !follow {
		return nil
	}
	if component != "" && len(tails) == 0 {
		tails[component] = newTail(dir, component) // it may start later
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(followEvery):
		}
		if component == "" {
			for _, name := range logNames(dir, "") {
				if tails[name] == nil {
					tails[name] = newTail(dir, name)
				}
			}
		}
		var batch []sortedLine
		for _, t := range tails {
			batch = append(batch, t.poll()...)
		}
		emit(batch, fn)
	}
}

// sortedLine is a line with the time it sorts by: its own, or for a line
// without one, that of the line before it in its file.
type sortedLine struct {
	LogLine
	key time.Time
}

func emit(lines []sortedLine, fn func(LogLine)) {
	slices.SortStableFunc(lines, func(a, b sortedLine) int { return a.key.Compare(b.key) })
	for _, l := range lines {
		fn(l.LogLine)
	}
}

// logNames lists the logs of the lab (the supervisor's first), or only
// component's when it has one.
func logNames(dir labdir.Dir, component string) []string {
	var names []string
	if component == "" || component == LogSupervisor {
		if exists(dir.SupervisorLog()) || exists(dir.SupervisorLog()+".1") {
			names = append(names, LogSupervisor)
		}
		if component != "" {
			return names
		}
	}
	ents, _ := os.ReadDir(dir.LogDir())
	var comps []string
	for _, e := range ents {
		n := strings.TrimSuffix(strings.TrimSuffix(e.Name(), ".1"), ".log")
		if n == e.Name() || !e.Type().IsRegular() || slices.Contains(comps, n) {
			continue
		}
		if _, err := dir.Log(n); err != nil || (component != "" && n != component) {
			continue
		}
		comps = append(comps, n)
	}
	slices.Sort(comps)
	return append(names, comps...)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// tail reads one log file as it grows and follows it across rotations.
type tail struct {
	name, path string
	f          *os.File
	partial    []byte    // a line not ended yet
	last       time.Time // of the last timestamped line
}

func newTail(dir labdir.Dir, name string) *tail {
	path := dir.SupervisorLog()
	if name != LogSupervisor {
		path, _ = dir.Log(name) // the name was checked
	}
	return &tail{name: name, path: path}
}

// readRotated reads the whole .1 file.
func (t *tail) readRotated() []sortedLine {
	b, err := os.ReadFile(t.path + ".1")
	if err != nil {
		return nil
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	return t.lines(b)
}

// poll returns the lines completed since the last poll. When the path
// names a new file (a rotation), the rest of the old one is read first.
func (t *tail) poll() []sortedLine {
	if t.f == nil {
		f, err := os.Open(t.path)
		if err != nil {
			return nil
		}
		t.f = f
	}
	out := t.drain()
	now, err := os.Stat(t.path)
	if err != nil {
		return out // renamed, the new file not there yet; or removed
	}
	if held, err := t.f.Stat(); err == nil && os.SameFile(now, held) {
		return out
	}
	out = append(out, t.drain()...) // written before the rename
	out = append(out, t.flush()...)
	t.close()
	return append(out, t.poll()...)
}

func (t *tail) drain() []sortedLine {
	b, _ := io.ReadAll(t.f)
	t.partial = append(t.partial, b...)
	i := bytes.LastIndexByte(t.partial, '\n')
	if i < 0 {
		return nil
	}
	out := t.lines(t.partial[:i+1])
	t.partial = append(t.partial[:0:0], t.partial[i+1:]...)
	return out
}

// flush returns the unfinished last line, if any.
func (t *tail) flush() []sortedLine {
	if len(t.partial) == 0 {
		return nil
	}
	out := t.lines(append(t.partial, '\n'))
	t.partial = nil
	return out
}

// lines splits b, which ends with a newline, into lines.
func (t *tail) lines(b []byte) []sortedLine {
	var out []sortedLine
	for line := range strings.Lines(string(b)) {
		l := LogLine{Component: t.name, Text: strings.TrimSuffix(line, "\n")}
		if ts, _, ok := strings.Cut(l.Text, " "); ok {
			if tm, err := time.Parse(LogTimeFormat, ts); err == nil {
				l.Time, t.last = tm, tm
			}
		}
		out = append(out, sortedLine{LogLine: l, key: t.last})
	}
	return out
}

func (t *tail) close() {
	if t.f != nil {
		t.f.Close()
		t.f = nil
	}
}
