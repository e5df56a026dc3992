package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/netcompose/netcompose/compose/kernel"
)

func newExecCmd() *cobra.Command {
	var host string
	var all bool
	cmd := &cobra.Command{
		Use:   "exec FILE NODE [--] [CMD [ARGS...]]",
		Short: "Run a command inside a node (a shell without one; --all: in every node); its exit code is passed through",
		Long: `Run CMD inside the node's network namespace, stdin and stdout passed through,
as "ip netns exec" does without needing the namespace's kernel name.

Without CMD, open an interactive shell in the node: $SHELL (else /bin/sh),
its prompt prefixed with "(LAB:NODE)", and NETCOMPOSE_LAB, NETCOMPOSE_NODE and
NETCOMPOSE_NETNS set in its environment (as for every command exec runs).

With --all in place of NODE, run CMD in every node of the lab (of the --host
slice), at most 8 at once, each line of output prefixed with its node:

  netcompose exec lab.ini --all -- ip -br addr`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, rest := args[0], args[1:]
			if len(rest) > 0 && rest[0] == "--all" {
				// with flags not interspersed, "exec FILE --all" is an
				// argument
				all, rest = true, rest[1:]
			}
			if !all && len(rest) == 0 {
				return fmt.Errorf("exec: name a NODE, or --all (usage: %s)", cmd.UseLine())
			}
			node := ""
			if !all {
				node, rest = rest[0], rest[1:]
			}
			argv := rest
			if len(argv) > 0 && argv[0] == "--" {
				// with flags not interspersed, cobra keeps the "--"
				argv = argv[1:]
			}
			if all {
				if len(argv) == 0 {
					return fmt.Errorf("exec --all: no command to run (exec FILE --all -- CMD [ARGS...])")
				}
				return execAll(cmd, path, host, argv)
			}
			return execNode(cmd, path, host, node, argv, len(rest) > 0)
		},
	}
	cmd.Flags().StringVar(&host, "host", "", "the node is in this [host:NAME]'s slice of a multi-host lab")
	cmd.Flags().BoolVar(&all, "all", false, "run the command in every node of the lab, each output line prefixed with its node")
	// Flags after NODE belong to the command: exec lab.ini a ip -br addr.
	cmd.Flags().SetInterspersed(false)
	return cmd
}

// execNode runs argv in node, or a shell when there is none; dashes says
// the command line went on after NODE (a bare "--" is no shell request).
func execNode(cmd *cobra.Command, path, host, node string, argv []string, dashes bool) error {
	lab, err := loadLab(path)
	if err != nil {
		return err
	}
	if len(argv) == 0 && dashes {
		return fmt.Errorf("exec: no command to run (exec FILE NODE -- CMD [ARGS...]; exec FILE NODE alone opens a shell)")
	}
	if _, ok := lab.Node(node); !ok {
		return fmt.Errorf("exec: lab %q has no node %q", lab.Name, node)
	}
	// A node of another host: say which, before the slice checks say
	// less.
	rest := append([]string{"--"}, argv...)
	if len(argv) == 0 {
		rest = nil
	}
	if err := checkNode(cmd.CommandPath(), lab, host, node, path, rest); err != nil {
		return err
	}
	t, err := targetOf(cmd.CommandPath(), lab, path, host, append([]string{node}, rest...)...)
	if err != nil {
		return err
	}
	if err := notApplied(t.slices, t.full, host, path); err != nil {
		return err
	}
	var code int
	if len(argv) == 0 {
		code, err = shell(cmd, t, node)
	} else {
		ctx, cancel := signalContext()
		defer cancel()
		c := nodeCommand(ctx, t, node, argv[0], argv[1:]...)
		c.Stdin, c.Stdout, c.Stderr = os.Stdin, cmd.OutOrStdout(), cmd.ErrOrStderr()
		code, err = kernel.Run(t.name, node, c)
	}
	return exitWith(code, err)
}

// nodeCommand is a command to run in node of t (with kernel.Run), killed
// when ctx is done, that finds NETCOMPOSE_LAB, NETCOMPOSE_NODE and
// NETCOMPOSE_NETNS in its environment.
func nodeCommand(ctx context.Context, t *target, node, name string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, name, args...)
	c.Env = append(os.Environ(),
		"NETCOMPOSE_LAB="+t.name,
		"NETCOMPOSE_NODE="+node,
		"NETCOMPOSE_NETNS="+t.lab.Namespace(node))
	return c
}

// exitWith turns a program's exit code and start error into the command's
// exit: the code itself, or as a shell does, 127 for a command not found
// and 126 for one that cannot run.
func exitWith(code int, err error) error {
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return &exitError{code: 127, err: err}
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.ENOEXEC):
		return &exitError{code: 126, err: err}
	case err != nil:
		return err
	case code != 0:
		return &exitError{code: code}
	}
	return nil
}
