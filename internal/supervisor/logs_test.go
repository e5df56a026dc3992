package supervisor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netcompose/netcompose/internal/labdir"
)

// stamped is a line as the supervisor writes it.
var stamped = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d) `)

// checkLogFile checks that every line of path is timestamped and the file
// is within bounds; it returns the lines without their timestamps.
func checkLogFile(t *testing.T, path string, limit int64) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// the last write may pass the limit, by one line at most
	if n := int64(len(b)); n > limit+maxChunk+64 {
		t.Errorf("%s: %d bytes, limit %d", path, n, limit)
	}
	var out []string
	for line := range strings.Lines(string(b)) {
		if !stamped.MatchString(line) {
			t.Errorf("%s: line without timestamp: %q", path, line)
			continue
		}
		out = append(out, strings.TrimSuffix(stamped.ReplaceAllString(line, ""), "\n"))
	}
	return out
}

func TestComponentLogsAreTimestampedAndRotated(t *testing.T) {
	const limit = 4096
	l := startLab(t, envLogLimit, strconv.Itoa(limit))
	// 300 lines of ~35 bytes: about 10 KiB, more than two files' worth.
	l.apply(spec("run", "a", `{"lines":300}`))
	path := mustLog(t, l.dir, "run.a")
	cur := checkLogFile(t, path, limit)
	old := checkLogFile(t, path+".1", limit)
	if _, err := os.Stat(path + ".2"); err == nil {
		t.Error("a .2 file: rotation keeps one old file")
	}
	all := append(old, cur...)
	if all[len(all)-1] != "line 299" {
		t.Errorf("the newest line is %q, want line 299", all[len(all)-1])
	}
	// what the two files hold is the tail of what was written, in order
	for i := 1; i < len(all); i++ {
		a, _ := strconv.Atoi(strings.TrimPrefix(all[i-1], "line "))
		b, _ := strconv.Atoi(strings.TrimPrefix(all[i], "line "))
		if strings.HasPrefix(all[i-1], "line ") && b != a+1 {
			t.Errorf("lines out of order or missing: %q then %q", all[i-1], all[i])
		}
	}
	checkLogFile(t, l.dir.SupervisorLog(), limit)
}

func TestLogFileRotatesAndStampsEveryLine(t *testing.T) {
	defer func(n int64) { LogLimit = n }(LogLimit)
	LogLimit = 1000
	path := filepath.Join(t.TempDir(), "x.log")
	l, err := openLog(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// a line written in pieces gets one timestamp
	fmt.Fprint(l, "one ")
	fmt.Fprint(l, "line\n")
	// a line longer than maxChunk is continued on a stamped line
	fmt.Fprintln(l, strings.Repeat("y", maxChunk+10))
	for i := range 100 {
		fmt.Fprintf(l, "n %d\n", i)
	}
	cur := checkLogFile(t, path, LogLimit)
	old := checkLogFile(t, path+".1", LogLimit)
	if cur[len(cur)-1] != "n 99" || len(old) == 0 {
		t.Errorf("after rotations: current ends %q, old has %d lines", cur[len(cur)-1], len(old))
	}
	l.Close()
	if _, err := l.Write([]byte("late\n")); err == nil {
		t.Error("a write after Close succeeded")
	}
}

func TestLogsMergesInTimeOrderAndFollowsRotation(t *testing.T) {
	newRoot(t)
	defer func(d time.Duration, n int64) { followEvery, LogLimit = d, n }(followEvery, LogLimit)
	followEvery, LogLimit = 10*time.Millisecond, 200
	dir := labdir.MustFor("t")
	if err := dir.Make(); err != nil {
		t.Fatal(err)
	}
	// Two files written in turns, with times far enough apart to order.
	sup, _ := openLog(dir.SupervisorLog())
	comp, _ := openLog(mustLog(t, dir, "run.a"))
	defer sup.Close()
	defer comp.Close()
	write := func(l *logFile, s string) {
		l.Printf("%s", s)
		time.Sleep(2 * time.Millisecond) // distinct milliseconds, not a timed assertion
	}
	write(sup, "s1")
	write(comp, "a1")
	write(sup, "s2")
	write(comp, "a2")

	ctx, cancel := context.WithCancel(t.Context())
	lines := make(chan LogLine, 1000)
	done := make(chan error, 1)
	go func() { done <- Logs(ctx, dir, "", true, func(l LogLine) { lines <- l }) }()
	next := func() string {
		t.Helper()
		select {
		case l := <-lines:
			return l.Component + " " + stamped.ReplaceAllString(l.Text, "")
		case <-time.After(30 * time.Second):
			t.Fatal("timed out waiting for a log line")
			return ""
		}
	}
	var got []string
	for range 4 {
		got = append(got, next())
	}
	if d := cmp.Diff([]string{"supervisor s1", "run.a a1", "supervisor s2", "run.a a2"}, got); d != "" {
		t.Errorf("merged lines (-want +got):\n%s", d)
	}
	// Follow across several rotations of run.a (200 bytes, about five
	// lines a file), three lines at a time so that some rotations fall
	// between two polls; then a component that appears later.
	var want []string
	for i := range 21 {
		comp.Printf("follow %d", i)
		want = append(want, fmt.Sprintf("run.a follow %d", i))
		if i%3 == 2 {
			for len(got) < 4+len(want) {
				got = append(got, next())
			}
		}
	}
	later, _ := openLog(mustLog(t, dir, "run.b"))
	defer later.Close()
	later.Printf("b1")
	want = append(want, "run.b b1")
	for len(got) < 4+len(want) {
		got = append(got, next())
	}
	if d := cmp.Diff(want, got[4:]); d != "" {
		t.Errorf("followed lines (-want +got):\n%s", d)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Logs after ctrl-C: %v, want nil", err)
	}
	// without follow, one component: its lines only, .1 first
	var only []string
	if err := Logs(t.Context(), dir, "run.b", false, func(l LogLine) { only = append(only, l.Component) }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(only, []string{"run.b"}) {
		t.Errorf("logs of run.b gave lines of %v", only)
	}
	if err := Logs(t.Context(), dir, "run.zz", false, func(LogLine) {}); err == nil {
		t.Error("logs of a component without a log: no error")
	}
}

func TestHashIsOfTheCanonicalJSON(t *testing.T) {
	base := Hash([]byte(`{"a":1,"b":[1,2],"c":{"x":"y"}}`))
	for _, tc := range []struct {
		name, config string
		same         bool
	}{
		{"keys in another order", `{"c":{"x":"y"},"b":[1,2],"a":1}`, true},
		{"other spacing", " {\n \"a\" : 1, \"b\":[ 1,2 ], \"c\":{\"x\":\"y\"} }\n", true},
		{"a value changed", `{"a":2,"b":[1,2],"c":{"x":"y"}}`, false},
		{"list order changed", `{"a":1,"b":[2,1],"c":{"x":"y"}}`, false},
		{"a number written another way", `{"a":1.0,"b":[1,2],"c":{"x":"y"}}`, false},
	} {
		if got := Hash([]byte(tc.config)) == base; got != tc.same {
			t.Errorf("%s: same hash %v, want %v", tc.name, got, tc.same)
		}
	}
	if Hash(nil) != Hash([]byte("null")) || Hash([]byte("{bad")) == Hash([]byte("{bad2")) {
		t.Error("empty config must hash as null, and invalid JSON by its bytes")
	}
}
