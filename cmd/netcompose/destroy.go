package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/compose/reconcile"
)

func newDestroyCmd() *cobra.Command {
	var pf planFlags
	var labName string
	var adopt bool
	cmd := &cobra.Command{
		Use:   "destroy [FILE]",
		Short: "Remove everything the lab owns (idempotent); without --host, every slice of a multi-host lab applied on this machine",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			var file *compose.Lab // the file's lab, for --adopt
			name := labName
			switch {
			case len(args) == 1 && labName != "":
				return fmt.Errorf("destroy: give a FILE or --lab NAME, not both")
			case len(args) == 1:
				lab, err := loadLab(args[0])
				if err != nil {
					return err
				}
				if pf.host != "" {
					if _, err := lab.ForHost(pf.host); err != nil {
						return err
					}
				}
				name, file = lab.Name, lab
			case labName == "":
				return fmt.Errorf("destroy: give a FILE or --lab NAME")
			}
			keys, err := destroyKeys(cmd, name, file, pf.host)
			if err != nil {
				return err
			}
			var errs []error
			for _, key := range keys {
				if err := destroyKey(ctx, cmd, key, file, pf, adopt); err != nil {
					errs = append(errs, err)
				}
				if ctx.Err() != nil {
					break
				}
			}
			return errors.Join(errs...)
		},
	}
	pf.register(cmd)
	cmd.Flags().StringVar(&labName, "lab", "", "destroy the lab of this name, or one slice of it as NAME@HOST (no file needed)")
	cmd.Flags().BoolVar(&adopt, "adopt", false, "first take back the namespaces with the lab's names that its state record does not prove are its own (after a lost or damaged record)")
	return cmd
}

// destroyKeys are the state keys destroy removes: host's slice when
// given (or a NAME@HOST), else the lab and every slice of it applied on
// this machine (reconcile.Slices), named on stderr when there are slices.
func destroyKeys(cmd *cobra.Command, name string, file *compose.Lab, host string) ([]string, error) {
	key := compose.StateKey(name, host)
	// A name from a flag passes the same rule as one from a file: it
	// becomes a path under /run/netcompose.
	if err := compose.CheckStateKey(key); err != nil {
		return nil, fmt.Errorf("destroy: %w", err)
	}
	var hosts []string
	if file != nil {
		hosts = reconcile.HostNames(file)
	}
	lab, _ := compose.SplitStateKey(key)
	sl, err := reconcile.SlicesOf(lab, hosts)
	if err != nil {
		return nil, err
	}
	if host != "" || key != lab {
		if _, h := compose.SplitStateKey(key); !sl.Has(h) && sl.Whole {
			fmt.Fprintf(cmd.ErrOrStderr(), "note: lab %s is applied on this machine as a whole, not per host: netcompose destroy --lab %s removes it\n", lab, lab)
		}
		return []string{key}, nil
	}
	keys := sl.Keys()
	if len(sl.Applied) > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "lab %s: destroying what is applied on this machine: %s\n", lab, strings.Join(keys, ", "))
	}
	if len(keys) == 0 {
		keys = []string{key} // nothing here: destroy says so
	}
	return keys, nil
}

// destroyKey destroys one state key: the apply of the empty lab.
func destroyKey(ctx context.Context, cmd *cobra.Command, key string, file *compose.Lab, pf planFlags, adopt bool) error {
	if adopt {
		if file == nil {
			return fmt.Errorf("destroy --adopt: give the lab's FILE: it names the namespaces to take back")
		}
		lab := file
		if _, host := compose.SplitStateKey(key); host != "" {
			var err error
			if lab, err = file.ForHost(host); err != nil {
				return err
			}
		}
		if err := adoptNodes(ctx, cmd, key, lab, pf); err != nil {
			return err
		}
	}
	return converge(ctx, cmd, &target{name: key}, pf, false, reconcile.Options{})
}
