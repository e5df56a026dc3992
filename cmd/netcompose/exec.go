package main

import (
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
	cmd := &cobra.Command{
		Use:   "exec FILE NODE [--] CMD [ARGS...]",
		Short: "Run a command inside a node's namespace; its exit code is passed through",
		Args:  cobra.MinimumNArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			lab, err := loadLab(args[0])
			if err != nil {
				return err
			}
			node, argv := args[1], args[2:]
			if argv[0] == "--" {
				// with flags not interspersed, cobra keeps the "--"
				argv = argv[1:]
			}
			if len(argv) == 0 {
				return fmt.Errorf("exec: no command to run (exec FILE NODE -- CMD [ARGS...])")
			}
			if _, ok := lab.Node(node); !ok {
				return fmt.Errorf("exec: lab %q has no node %q", lab.Name, node)
			}
			// A node of another host: say which, before the slice checks
			// say less.
			if err := checkNode(cmd.CommandPath(), lab, host, node, args[0], append([]string{"--"}, argv...)); err != nil {
				return err
			}
			t, err := loadTarget(cmd.CommandPath(), args[0], host, args[1:]...)
			if err != nil {
				return err
			}
			if err := notApplied(t.slices, t.full, host, args[0]); err != nil {
				return err
			}
			code, err := kernel.Exec(ctx, t.name, node, argv, kernel.Stdio{In: os.Stdin, Out: cmd.OutOrStdout(), Err: cmd.ErrOrStderr()})
			switch {
			case errors.Is(err, exec.ErrNotFound):
				// as a shell does: 127 for a command not found, 126 for
				// one that cannot run
				return &exitError{code: 127, err: err}
			case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.ENOEXEC):
				return &exitError{code: 126, err: err}
			case err != nil:
				return err
			}
			if code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&host, "host", "", "the node is in this [host:NAME]'s slice of a multi-host lab")
	// Flags after NODE belong to the command: exec lab.ini a ip -br addr.
	cmd.Flags().SetInterspersed(false)
	return cmd
}
