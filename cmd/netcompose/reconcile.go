package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/compose/kernel"
	"github.com/netcompose/netcompose/compose/reconcile"
	"github.com/netcompose/netcompose/kmod"
)

// planFlags are shared by diff, apply and destroy.
type planFlags struct {
	output string // text or json
	noWait bool
	host   string // --host: build only this machine's slice of a multi-host lab
}

func (f *planFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", "plan format: text or json")
	cmd.Flags().BoolVar(&f.noWait, "no-wait", false, "fail at once if another apply or destroy holds the lab's lock")
	cmd.Flags().StringVar(&f.host, "host", "", "work on this [host:NAME]'s slice of a multi-host lab (cross-host links become VXLAN tunnels)")
}

// target loads the file, sliced for --host when given.
func (f *planFlags) target(cmd *cobra.Command, path string) (*target, error) {
	return loadTarget(cmd.CommandPath(), path, f.host)
}

// target is what a reconcile works on: a lab (or its slice) under its
// state key.
type target struct {
	lab    *compose.Lab // the slice for host, or the whole lab; nil for destroy --lab
	full   *compose.Lab // the whole lab, as the file has it
	host   string
	name   string           // the state key (compose.StateKey)
	slices reconcile.Slices // what of the lab this machine holds
}

// loadTarget loads the file; with a host, only that machine's slice of a
// multi-host lab, whose state record and lock are its own
// (compose.StateKey). It refuses a host (or none) that does not fit what
// this machine holds of the lab (checkSlices), naming command.
func loadTarget(command, path, host string, rest ...string) (*target, error) {
	lab, err := loadLab(path)
	if err != nil {
		return nil, err
	}
	return targetOf(command, lab, path, host, rest...)
}

// targetOf is loadTarget of a lab already loaded from path.
func targetOf(command string, lab *compose.Lab, path, host string, rest ...string) (*target, error) {
	t := &target{lab: lab, full: lab, host: host, name: compose.StateKey(lab.Name, host)}
	var err error
	if host != "" {
		if t.lab, err = lab.ForHost(host); err != nil {
			return nil, err
		}
	}
	if t.slices, err = checkSlices(command, lab, host, path, rest...); err != nil {
		return nil, err
	}
	if host == "" {
		return t, lab.OneMachine()
	}
	return t, nil
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt)
}

// preflight checks that the kernel has every feature the lab needs, before
// anything changes (reconcile.Options.Preflight). Optional modules that
// are missing are only noted.
func preflight(ctx context.Context, lab *compose.Lab) ([]string, error) {
	if lab == nil {
		return nil, nil
	}
	r := kmod.Check(ctx, lab.Features(), kmodModules(lab))
	return r.Warnings(), r.Err()
}

// lock takes the lab's lock, saying so when it has to wait.
func lock(ctx context.Context, cmd *cobra.Command, lab string, noWait bool) (func(), error) {
	return kernel.Lock(ctx, lab, !noWait, func() {
		fmt.Fprintf(cmd.ErrOrStderr(), "waiting for the lock of lab %q (another apply or destroy is running)...\n", lab)
	})
}

// plan observes the kernel and the lab's processes and diffs them
// against t.
func plan(ctx context.Context, t *target) (compose.Plan, error) {
	return reconcile.Plan(ctx, t.reconcileTarget(), reconcile.Options{Processes: processes()})
}

// reconcileTarget is t as package reconcile takes it.
func (t *target) reconcileTarget() reconcile.Target {
	return reconcile.Target{Key: t.name, Lab: t.lab}
}

// processes runs the lab's processes in a supervisor that is this very
// binary (`netcompose supervise`).
func processes() reconcile.Processes {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return &reconcile.Supervisor{Exe: exe}
}

func writePlan(out io.Writer, p compose.Plan, format string, color bool) error {
	// One write for the plan, not one per line: a plan of a thousand
	// nodes has thousands of lines.
	w := bufio.NewWriter(out)
	err := writePlanTo(w, p, format, color)
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	return err
}

func writePlanTo(w io.Writer, p compose.Plan, format string, color bool) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(p)
	case "text", "":
		return compose.WritePlan(w, p, color)
	}
	return fmt.Errorf("unknown output format %q (want text or json)", format)
}

func newDiffCmd() *cobra.Command {
	var pf planFlags
	var exitCode bool
	var underlayNS string
	cmd := &cobra.Command{
		Use:   "diff FILE",
		Short: "Show what apply would change (exit 2 with --exit-code when it would change something)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			t, err := pf.target(cmd, args[0])
			if err != nil {
				return err
			}
			noteWhole(cmd.ErrOrStderr(), t.slices, pf.host)
			// A tunnel built on the wrong machine reads as in sync: say
			// what apply would refuse instead of "No changes".
			if err := reconcile.CheckUnderlay(t.reconcileTarget(), underlayNS); err != nil {
				return err
			}
			p, err := plan(ctx, t)
			if err != nil {
				return err
			}
			if err := writePlan(cmd.OutOrStdout(), p, pf.output, useColor(os.Stdout)); err != nil {
				return err
			}
			warnForeign(cmd.ErrOrStderr(), p)
			if sp, down := reconcile.Down(t.name); down {
				fmt.Fprintf(cmd.ErrOrStderr(), "note: the lab's supervisor (pid %d) is not running: apply starts it again with the lab's processes\n", sp.PID)
			}
			if exitCode && !p.Empty() {
				return &exitError{code: 2}
			}
			return nil
		},
	}
	pf.register(cmd)
	cmd.Flags().BoolVar(&exitCode, "exit-code", false, "exit 0 when there are no changes, 2 when there are, 1 on error")
	underlayFlag(cmd, &underlayNS)
	return cmd
}

// underlayFlag is --underlay-netns, of apply, diff and status.
func underlayFlag(cmd *cobra.Command, ns *string) {
	cmd.Flags().StringVar(ns, "underlay-netns", "", "create this host's VXLAN tunnels from inside this namespace (whose interface holds the host's underlay address), to simulate a host on one machine")
}

func newApplyCmd() *cobra.Command {
	var pf planFlags
	var dryRun, adopt, runTests bool
	var underlayNS string
	var tf testFlags
	cmd := &cobra.Command{
		Use:   "apply FILE",
		Short: "Converge the kernel to the file: show the plan, apply it, roll back on failure",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			t, err := pf.target(cmd, args[0])
			if err != nil {
				return err
			}
			noteWhole(cmd.ErrOrStderr(), t.slices, pf.host)
			if err := reconcile.CheckUnderlay(t.reconcileTarget(), underlayNS); err != nil {
				return err
			}
			if adopt && !dryRun {
				// Take the namespaces back first, so the plan sees what
				// is in them (the lab's marked links) instead of
				// creating it again.
				if err := adoptNodes(ctx, cmd, t.name, t.lab, pf); err != nil {
					return err
				}
			}
			opt := reconcile.Options{Adopt: adopt, UnderlayNetns: underlayNS,
				Preflight: func(ctx context.Context) ([]string, error) { return preflight(ctx, t.lab) }}
			if err := converge(ctx, cmd, t, pf, dryRun, opt); err != nil || !runTests || dryRun {
				return err
			}
			// --test: the lab's checks decide the exit code, after a
			// successful or a no-op apply.
			tf.output = "table"
			if pf.output == "json" {
				tf.output = "json"
			}
			return testLab(ctx, cmd.OutOrStdout(), args[0], pf.host, nil, tf)
		},
	}
	pf.register(cmd)
	cmd.Flags().BoolVar(&runTests, "test", false, "after applying, run the lab's checks (as netcompose test) and fail if any fails")
	tf.register(cmd, false)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "only show the plan (same as diff)")
	cmd.Flags().BoolVar(&adopt, "adopt", false, "take over existing namespaces with the lab's names that netcompose did not create")
	underlayFlag(cmd, &underlayNS)
	return cmd
}

// converge is apply and destroy (the apply of the empty lab): package
// reconcile does the work; this shows its events — the plan, a progress
// bar, notes and the summary — as text or JSON.
func converge(ctx context.Context, cmd *cobra.Command, t *target, pf planFlags, dryRun bool, opt reconcile.Options) error {
	r := &renderer{out: cmd.OutOrStdout(), errw: cmd.ErrOrStderr(), format: pf.output, color: useColor(os.Stdout),
		progress: progress(cmd.ErrOrStderr(), isTerminal(os.Stderr)), key: t.name, destroying: t.lab == nil, dryRun: dryRun}
	opt.NoWait, opt.DryRun, opt.Events, opt.Processes = pf.noWait, dryRun, r.event, processes()
	_, err := reconcile.Run(ctx, t.reconcileTarget(), opt)
	if err != nil {
		return err
	}
	return r.err
}

// renderer shows a run's events.
type renderer struct {
	out, errw  io.Writer
	format     string
	color      bool
	progress   func(done, total int, s compose.Step)
	key        string
	destroying bool
	dryRun     bool
	err        error // the first write that failed
}

func (r *renderer) event(e reconcile.Event) {
	switch e.Kind {
	case reconcile.Waiting:
		fmt.Fprintf(r.errw, "%s...\n", e.Message)
	case reconcile.Planned:
		r.plan(e)
	case reconcile.Stepped:
		r.progress(e.Done, e.Total, *e.Step)
	case reconcile.Note:
		fmt.Fprintf(r.errw, "note: %s\n", e.Message)
	case reconcile.Finished:
		res := e.Result
		if r.format == "json" {
			r.result(res)
			return
		}
		if res.Error != "" || res.Changes() == 0 {
			return
		}
		if r.destroying {
			fmt.Fprintf(r.out, "Destroy complete! Resources: %d destroyed in %s.\n", res.Destroyed, res.Duration.Round(time.Millisecond))
		} else {
			fmt.Fprintf(r.out, "Apply complete! Resources: %d added, %d changed, %d destroyed in %s.\n",
				res.Added, res.Changed, res.Destroyed, res.Duration.Round(time.Millisecond))
		}
	}
}

// result prints the run's result as a JSON document of its own after the
// plan's (apply -o json, destroy -o json): what was added, changed and
// destroyed, in how many passes and how long, whether a failure was
// rolled back, and the error. A dry run prints only the plan, as diff.
func (r *renderer) result(res *reconcile.Result) {
	if r.dryRun || r.err != nil {
		return
	}
	enc := json.NewEncoder(r.out)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res); err != nil {
		r.err = err
	}
}

func (r *renderer) plan(e reconcile.Event) {
	p := *e.Plan
	switch {
	case e.Pass > 1 && r.format == "json":
		return
	case e.Pass > 1:
		fmt.Fprintf(r.out, "The kernel removed more than the plan said (side effects of these changes); applying again:\n")
	case r.destroying && p.Empty() && r.format != "json":
		fmt.Fprintf(r.out, "Nothing to destroy: lab %s has nothing on this machine.\n", r.key)
		return
	}
	if err := writePlan(r.out, p, r.format, r.color); err != nil && r.err == nil {
		r.err = err
	}
}

// warnForeign names the namespaces the plan would create that exist but
// are not the lab's: apply will refuse them unless --adopt, and diff says
// so now rather than let apply be the surprise.
func warnForeign(w io.Writer, p compose.Plan) {
	obs, err := kernel.Obstacles(p, false)
	if err != nil {
		fmt.Fprintf(w, "note: could not check what is in the way: %v\n", err)
	}
	for _, o := range obs {
		var fe *kernel.ForeignError
		if errors.As(o, &fe) && !fe.Unproven {
			fmt.Fprintf(w, "note: namespace %s exists but is not lab %s's: apply will refuse it (--adopt takes it over)\n", fe.Namespace, fe.Lab)
			continue
		}
		fmt.Fprintf(w, "note: apply will refuse: %v\n", o)
	}
}

// adoptNodes takes over the namespaces of the file's nodes that exist but
// the lab's record does not prove are its own, so destroy can remove them.
func adoptNodes(ctx context.Context, cmd *cobra.Command, key string, lab *compose.Lab, pf planFlags) error {
	unlock, err := lock(ctx, cmd, key, pf.noWait)
	if err != nil {
		return err
	}
	defer unlock()
	var nodes []string
	for _, n := range lab.Nodes {
		nodes = append(nodes, n.Name)
	}
	took, err := kernel.Adopt(key, nodes)
	if len(took) > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "took over %d namespaces of lab %s: %s\n", len(took), key, strings.Join(took, " "))
	}
	return err
}
