package main

import (
	"github.com/spf13/cobra"

	"github.com/netcompose/netcompose/kmod"
)

func newDoctorCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "doctor [FILE]",
		Short: "Report which kernel features netcompose (or the lab in FILE) needs, and whether this kernel has them",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			features := kmod.Known()
			var extra []kmod.Module
			if len(args) == 1 {
				lab, err := loadLab(args[0])
				if err != nil {
					return err
				}
				features, extra = lab.Features(), lab.Modules()
			}
			r := kmod.Check(ctx, features, extra)
			r.Write(cmd.OutOrStdout())
			if err := r.Err(); err != nil {
				return &exitError{code: 1, err: err}
			}
			return nil
		},
	}
}
