package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/compose/reconcile"
	"github.com/netcompose/netcompose/internal/check"
)

// testFlags are the flags of test, shared with apply --test.
type testFlags struct {
	output   string // table or json
	junit    string // file to write JUnit XML to
	parallel int
	timeout  time.Duration // bound on the whole run; 0: each check's own timeout only
}

func (f *testFlags) register(cmd *cobra.Command, withOutput bool) {
	if withOutput {
		cmd.Flags().StringVarP(&f.output, "output", "o", "table", "result format: table or json")
	}
	cmd.Flags().StringVar(&f.junit, "junit", "", "also write the results as JUnit XML to this file")
	cmd.Flags().IntVar(&f.parallel, "parallel", check.DefaultParallel, "checks run at the same time")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 0, "stop checks still running after this long (0: each check's own timeout)")
}

func newTestCmd() *cobra.Command {
	var tf testFlags
	var host string
	cmd := &cobra.Command{
		Use:   "test FILE [CHECK...]",
		Short: "Run the lab's [check:] sections (or only the named ones) against the applied lab; exit 0 only if all pass",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			return testLab(ctx, cmd.OutOrStdout(), args[0], host, args[1:], tf)
		},
	}
	tf.register(cmd, true)
	cmd.Flags().StringVar(&host, "host", "", "run the checks that start on this [host:NAME] of a multi-host lab (applied with apply --host)")
	return cmd
}

func loadTestRun(path, host string, only []string) (*reconcile.CheckRun, error) {
	lab, err := loadLab(path)
	if err != nil {
		return nil, err
	}
	tr := &reconcile.CheckRun{Lab: lab, Checks: lab.Checks, Key: lab.Name, Host: host, Path: path}
	if host != "" {
		slice, err := lab.ForHost(host)
		if err != nil {
			return nil, err
		}
		tr.Checks, tr.Key = slice.Checks, compose.StateKey(lab.Name, host)
	}
	if tr.Checks, err = onlyChecks(lab.Name, tr.Checks, only); err != nil {
		return nil, err
	}
	return tr, nil
}

// testLab runs the checks of the lab in path (those starting on host, if
// given; only the named ones, if any), writes the results and fails
// (exit 1, no further message) unless all pass.
func testLab(ctx context.Context, w io.Writer, path, host string, only []string, tf testFlags) error {
	switch tf.output {
	case "table", "text", "", "json":
	default:
		return fmt.Errorf("test: unknown output format %q (want table or json)", tf.output)
	}
	tr, err := loadTestRun(path, host, only)
	if err != nil {
		return err
	}
	lab := tr.Lab
	if len(tr.Checks) == 0 && tf.output != "json" {
		where := ""
		if host != "" {
			where = " on host " + host
		}
		fmt.Fprintf(w, "No checks to run: lab %s has no [check:] starting%s.\n", lab.Name, where)
		return nil
	}
	// A multi-host lab: the slice asked for (or the whole lab) must be
	// what this machine holds.
	sl, err := checkSlices("netcompose test", lab, host, path, only...)
	if err != nil {
		return err
	}
	if sl.MultiHost() {
		if err := notApplied(sl, lab, host, path); err != nil {
			return err
		}
	}
	plans, err := tr.Plan(ctx)
	if err != nil {
		return err
	}
	specs := make([]check.Spec, len(plans))
	for i, p := range plans {
		specs[i] = p.Spec
	}
	if tf.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, tf.timeout)
		defer cancel()
	}
	results := check.Run(ctx, specs, tf.parallel)
	for i, p := range plans {
		p.Judge(&results[i])
	}
	if tf.output == "json" {
		err = check.WriteJSON(w, results)
	} else {
		err = check.WriteTable(w, results)
	}
	if err != nil {
		return err
	}
	if tf.junit != "" {
		if err := writeJUnit(tf.junit, lab.Name, results); err != nil {
			return err
		}
	}
	if !check.AllPassed(results) {
		return &exitError{code: 1}
	}
	return nil
}

// onlyChecks keeps the checks that names lists, all if it is empty.
func onlyChecks(lab string, checks []*compose.Check, names []string) ([]*compose.Check, error) {
	if len(names) == 0 {
		return checks, nil
	}
	var keep []*compose.Check
	var errs []error
	for _, name := range names {
		i := slices.IndexFunc(checks, func(c *compose.Check) bool { return c.Name == name })
		if i < 0 {
			errs = append(errs, fmt.Errorf("test: lab %s has no [check:%s] to run here", lab, name))
			continue
		}
		keep = append(keep, checks[i])
	}
	return keep, errors.Join(errs...)
}

func writeJUnit(path, suite string, results []check.Result) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	if err := check.WriteJUnit(f, suite, results); err != nil {
		f.Close()
		return fmt.Errorf("junit %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("junit %s: %w", path, err)
	}
	return nil
}
