// Command netcompose turns a PasteDeploy-style topology file into a running
// network lab on the Linux kernel: namespaces, veth, bridges, VXLAN, ARP
// settings and static neighbours, planned before they are applied.
package main

import (
	"errors"
	"fmt"
	"os"
	"reflect"
)

func main() { os.Exit(run(os.Args[1:])) }

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
	cmd := newRootCmd()
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
