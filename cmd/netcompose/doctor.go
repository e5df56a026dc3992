package main

import (
	"github.com/spf13/cobra"

	"github.com/netcompose/netcompose/compose"
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
				features, extra = lab.Features(), kmodModules(lab)
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

// kmodModules turns the lab's [kmod:] sections into what kmod.Check takes.
func kmodModules(lab *compose.Lab) []kmod.Module {
	var ms []kmod.Module
	for _, m := range lab.Modules() {
		ms = append(ms, kmod.Module{Name: m.Name, Params: m.Params, Optional: m.Optional})
	}
	return ms
}
