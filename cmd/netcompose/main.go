// Command netcompose turns a PasteDeploy-style topology file into a running
// network lab on the Linux kernel: namespaces, veth, bridges, VXLAN, ARP
// settings and static neighbours, planned before they are applied.
package main

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"runtime/debug"

	"github.com/netcompose/netcompose/internal/nsrun"
)

func main() {
	// Off the main thread, which nsrun keeps locked for the process.
	nsrun.Main(func() int {
		if len(os.Args) < 2 || os.Args[1] != "supervise" {
			shortRunGC()
		}
		return run(os.Args[1:])
	})
}

// shortRunGC tunes the collector for a command that lives a fraction of a
// second with a heap of a few megabytes: collect at five times the live
// heap instead of twice (a no-op apply of 100 nodes spends 8% less), and
// at any rate before the heap reaches half a gigabyte. The supervisor,
// which lives as long as its lab, keeps the defaults; so does a user's
// GOGC or GOMEMLIMIT.
func shortRunGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(512 << 20)
	}
}

// exitError carries an exit code other than 1 (diff --exit-code uses 2)
// through cobra. A nil err prints nothing.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func run(args []string) int {
	cmd := newRootCmd(args...)
	cmd.SetArgs(args)
	err := cmd.Execute()
	if err == nil {
		return 0
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code, err = ee.code, ee.err
	}
	for _, e := range flatten(err) {
		fmt.Fprintln(os.Stderr, "netcompose:", e)
	}
	return code
}

// flatten lists the errors an errors.Join holds, recursively, so that each
// of validate's "file:line: ..." errors gets a line and a prefix of its own.
// Only errors.Join's own joins are split: an error that wraps several
// others under a message of its own (kmod's missing feature, naming the
// feature and its CONFIG_ option) is kept whole.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok || reflect.TypeOf(err) != joinType {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, flatten(e)...)
	}
	return out
}

// joinType is the type of errors.Join's errors.
var joinType = reflect.TypeOf(errors.Join(errors.New("")))
