package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/compose/reconcile"
	"github.com/netcompose/netcompose/kmod"
)

func newDoctorCmd() *cobra.Command {
	var host string
	cmd := &cobra.Command{
		Use:   "doctor [FILE]",
		Short: "Report which kernel features netcompose (or the lab in FILE, or one host's slice of it) needs, and whether this kernel has them",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			features := kmod.Known()
			var extra []kmod.Module
			switch {
			case len(args) == 1:
				lab, err := loadLab(args[0])
				if err != nil {
					return err
				}
				if features, err = lab.FeaturesFor(host); err != nil {
					return err
				}
				extra = kmodModules(lab)
				if host == "" && len(lab.Hosts) > 0 {
					fmt.Fprintf(cmd.ErrOrStderr(), "note: lab %s spans hosts %s: these are the features of all of them (--host NAME: one machine's slice)\n",
						lab.Name, strings.Join(reconcile.HostNames(lab), ", "))
				}
			case host != "":
				return fmt.Errorf("doctor: --host needs the lab's FILE")
			}
			r := kmod.Check(ctx, features, extra)
			r.Write(cmd.OutOrStdout())
			if err := r.Err(); err != nil {
				return &exitError{code: 1, err: err}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&host, "host", "", "check what this [host:NAME]'s slice of a multi-host lab needs (vxlan for its tunnels)")
	return cmd
}

// kmodModules turns the lab's [kmod:] sections into what kmod.Check takes.
func kmodModules(lab *compose.Lab) []kmod.Module {
	var ms []kmod.Module
	for _, m := range lab.Modules() {
		ms = append(ms, kmod.Module{Name: m.Name, Params: m.Params, Optional: m.Optional})
	}
	return ms
}
