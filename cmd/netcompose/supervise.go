package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/netcompose/netcompose/compose/reconcile"
	"github.com/netcompose/netcompose/internal/labdir"
	"github.com/netcompose/netcompose/internal/supervisor"
)

// newSuperviseCmd is the lab's supervisor process, started detached by
// apply (supervisor.Launch) as `netcompose supervise --lab KEY`; not for
// people, hence hidden.
func newSuperviseCmd() *cobra.Command {
	var key string
	cmd := &cobra.Command{
		Use:    "supervise --lab KEY",
		Short:  "Run a lab's long-running components (started by apply)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := labdir.For(key)
			if err != nil {
				return err
			}
			// Serve handles SIGTERM and SIGINT itself: it stops the
			// components before it returns.
			return supervisor.Serve(context.Background(), dir, reconcile.StartFuncs)
		},
	}
	cmd.Flags().StringVar(&key, "lab", "", "the lab's state key: LAB or LAB@HOST")
	_ = cmd.MarkFlagRequired("lab")
	return cmd
}
