package kernel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"syscall"

	"github.com/netcompose/netcompose/internal/nsrun"
)

// Stdio is where an executed program reads and writes; nil means
// /dev/null, as in os/exec.
type Stdio struct {
	In       io.Reader
	Out, Err io.Writer
}

// Exec runs argv inside the node's namespace and returns its exit code.
// The program is forked from a thread that sits in the namespace, so it
// starts there; only the network namespace changes (the mount namespace,
// and so /sys, stays the caller's). err is for failures to start it.
func Exec(ctx context.Context, lab, node string, argv []string, stdio Stdio) (exitCode int, err error) {
	if len(argv) == 0 {
		return -1, errors.New("exec: no command")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio.In, stdio.Out, stdio.Err
	return Run(lab, node, cmd)
}

// Run starts cmd, which has not been started, inside the node's namespace
// as Exec does, waits for it and returns its exit code: for callers that
// set more of it (its environment, an interactive shell's terminal).
func Run(lab, node string, cmd *exec.Cmd) (exitCode int, err error) {
	rec, err := loadRecord(lab)
	if err != nil {
		return -1, err
	}
	name := namespaceName(lab, node)
	if !rec.owns(node) {
		return -1, fmt.Errorf("exec: lab %s has no node %s", lab, node)
	}
	if err := nsrun.Do(nsrun.Path(name), cmd.Start); err != nil {
		return -1, fmt.Errorf("exec %s in %s: %w", cmd.Args[0], node, err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		// Killed by a signal: 128 + its number, as a shell reports it.
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	if err != nil {
		return -1, fmt.Errorf("exec %s in %s: %w", cmd.Args[0], node, err)
	}
	return 0, nil
}
