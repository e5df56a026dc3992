package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/netcompose/netcompose/internal/labdir"
	"github.com/netcompose/netcompose/internal/supervisor"
)

func newLogsCmd() *cobra.Command {
	var host string
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs FILE [COMPONENT]",
		Short: "Print the logs of the lab's supervisor and components (KIND.NAME), merged in time order; -f follows them",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			dir, err := targetDir(cmd, args[0], host, args[1:]...)
			if err != nil {
				return err
			}
			component := ""
			if len(args) == 2 {
				component = args[1]
			}
			w := bufio.NewWriter(cmd.OutOrStdout())
			defer w.Flush()
			err = supervisor.Logs(ctx, dir, component, follow, func(l supervisor.LogLine) {
				if component == "" {
					fmt.Fprintf(w, "%s | %s\n", l.Component, l.Text)
				} else {
					fmt.Fprintln(w, l.Text)
				}
				if follow {
					w.Flush()
				}
			})
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("lab %s has no logs on this machine (is it applied? netcompose apply%s %s)", dir.Key, hostFlag(host), args[0])
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new lines until ctrl-C, across log rotations")
	cmd.Flags().StringVar(&host, "host", "", "the logs of this [host:NAME]'s slice of a multi-host lab")
	return cmd
}

// hostFlag is " --host H" for a command to suggest, or "".
func hostFlag(host string) string {
	if host == "" {
		return ""
	}
	return " --host " + host
}

// targetDir loads the lab in path (its slice for host) as every command
// does, and returns its directory, where the supervisor's socket and logs
// are: what logs and watch read.
func targetDir(cmd *cobra.Command, path, host string, only ...string) (labdir.Dir, error) {
	t, err := loadTarget(cmd.CommandPath(), path, host, only...)
	if err != nil {
		return labdir.Dir{}, err
	}
	return labdir.For(t.name)
}
