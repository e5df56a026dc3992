package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/compose/kernel"
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
func (f *planFlags) target(path string) (*target, error) { return loadTarget(path, f.host) }

// target is what a reconcile works on: a lab's name and desired resources.
type target struct {
	lab     *compose.Lab // nil for destroy --lab
	name    string
	desired []compose.Resource
}

// loadTarget loads the file; with a host, only that machine's slice of a
// multi-host lab, whose state record and lock are its own
// (compose.StateKey).
func loadTarget(path, host string) (*target, error) {
	lab, err := compose.Load(path)
	if err != nil {
		return nil, err
	}
	if host == "" {
		return &target{lab: lab, name: lab.Name, desired: lab.Resources()}, lab.OneMachine()
	}
	if lab, err = lab.ForHost(host); err != nil {
		return nil, err
	}
	return &target{lab: lab, name: compose.StateKey(lab.Name, host), desired: lab.Resources()}, nil
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt)
}

// preflight checks that the kernel has every feature the lab needs, before
// anything changes.
// Optional modules that are missing are only noted.
func preflight(ctx context.Context, w io.Writer, lab *compose.Lab) error {
	if lab == nil {
		return nil
	}
	r := kmod.Check(ctx, lab.Features(), lab.Modules())
	for _, warn := range r.Warnings() {
		fmt.Fprintf(w, "note: %s\n", warn)
	}
	return r.Err()
}

// lock takes the lab's lock, saying so when it has to wait.
func lock(ctx context.Context, cmd *cobra.Command, lab string, noWait bool) (func(), error) {
	return kernel.Lock(ctx, lab, !noWait, func() {
		fmt.Fprintf(cmd.ErrOrStderr(), "waiting for the lock of lab %q (another apply or destroy is running)...\n", lab)
	})
}

// plan observes the kernel and diffs it against t.
func plan(ctx context.Context, t *target) (compose.Plan, error) {
	actual, err := kernel.Observe(ctx, t.name, t.desired)
	if err != nil {
		return compose.Plan{}, err
	}
	return compose.Diff(t.name, t.desired, actual), nil
}

func writePlan(w io.Writer, p compose.Plan, format string, color bool) error {
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
	cmd := &cobra.Command{
		Use:   "diff FILE",
		Short: "Show what apply would change (exit 2 with --exit-code when it would change something)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			t, err := pf.target(args[0])
			if err != nil {
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
			if exitCode && !p.Empty() {
				return &exitError{code: 2}
			}
			return nil
		},
	}
	pf.register(cmd)
	cmd.Flags().BoolVar(&exitCode, "exit-code", false, "exit 0 when there are no changes, 2 when there are, 1 on error")
	return cmd
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
			t, err := pf.target(args[0])
			if err != nil {
				return err
			}
			if err := preflight(ctx, cmd.ErrOrStderr(), t.lab); err != nil {
				return err
			}
			warnNotApplied(cmd.ErrOrStderr(), t.lab)
			if err := reconcile(ctx, cmd, t, pf, dryRun, kernel.ApplyOptions{Adopt: adopt, UnderlayNetns: underlayNS}); err != nil || !runTests || dryRun {
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
	cmd.Flags().StringVar(&underlayNS, "underlay-netns", "", "create this host's VXLAN tunnels from inside this namespace (whose interface holds the host's underlay address), to simulate a host on one machine")
	return cmd
}

func newDestroyCmd() *cobra.Command {
	var pf planFlags
	var labName string
	cmd := &cobra.Command{
		Use:   "destroy [FILE]",
		Short: "Remove everything the lab owns (idempotent)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			t := &target{name: labName}
			switch {
			case len(args) == 1 && labName != "":
				return fmt.Errorf("destroy: give a FILE or --lab NAME, not both")
			case len(args) == 1:
				lab, err := compose.Load(args[0])
				if err != nil {
					return err
				}
				t.name = lab.Name
				if pf.host != "" {
					if _, err := lab.ForHost(pf.host); err != nil {
						return err
					}
				}
			case labName == "":
				return fmt.Errorf("destroy: give a FILE or --lab NAME")
			}
			t.name = compose.StateKey(t.name, pf.host)
			return reconcile(ctx, cmd, t, pf, false, kernel.ApplyOptions{})
		},
	}
	pf.register(cmd)
	cmd.Flags().StringVar(&labName, "lab", "", "destroy the lab of this name (no file needed)")
	return cmd
}

// reconcile is apply and destroy: lock, observe, diff, show, apply.
// Destroy is the apply of an empty lab.
func reconcile(ctx context.Context, cmd *cobra.Command, t *target, pf planFlags, dryRun bool, opt kernel.ApplyOptions) error {
	out := cmd.OutOrStdout()
	color := useColor(os.Stdout)
	unlock, err := lock(ctx, cmd, t.name, pf.noWait)
	if err != nil {
		return err
	}
	defer unlock()
	p, err := plan(ctx, t)
	if err != nil {
		return err
	}
	destroying := t.lab == nil
	if destroying && p.Empty() && pf.output != "json" {
		fmt.Fprintf(out, "Nothing to destroy: lab %s has nothing on this machine.\n", t.name)
	} else if err := writePlan(out, p, pf.output, color); err != nil {
		return err
	}
	if dryRun {
		return nil
	}
	// An empty plan still goes to Apply: it forgets recorded namespaces
	// that were deleted by hand, so destroy leaves no state behind.
	start := time.Now()
	var add, change, destroy int
	var linked []string // nodes with veth ends this run made or changed
	for pass := 1; ; pass++ {
		if _, err := kernel.Apply(ctx, p, withProgress(cmd, opt)); err != nil {
			return err
		}
		a, c, d := p.Counts()
		add, change, destroy = add+a, change+c, destroy+d
		linked = append(linked, vethNodes(p)...)
		if destroying || onlyCreates(p) {
			break
		}
		// Level-based: look again. The kernel takes things along as side
		// effects netcompose does not model one by one (removing the last
		// address of a subnet flushes the routes and neighbours through
		// it; deleting a primary address can delete its secondaries).
		if p, err = plan(ctx, t); err != nil {
			return err
		}
		if p.Empty() {
			break
		}
		if pass == maxPasses {
			return fmt.Errorf("lab %s did not converge after %d passes; still planned:\n%s", t.name, pass, planText(p))
		}
		if pf.output != "json" {
			fmt.Fprintf(out, "The kernel removed more than the plan said (side effects of these changes); applying again:\n")
			if err := writePlan(out, p, pf.output, color); err != nil {
				return err
			}
		}
	}
	if !destroying && len(linked) > 0 {
		waitReady(ctx, cmd.ErrOrStderr(), t.name, linked)
	}
	if pf.output != "json" && add+change+destroy > 0 {
		if destroying {
			fmt.Fprintf(out, "Destroy complete! Resources: %d destroyed in %s.\n",
				destroy, time.Since(start).Round(time.Millisecond))
		} else {
			fmt.Fprintf(out, "Apply complete! Resources: %d added, %d changed, %d destroyed in %s.\n",
				add, change, destroy, time.Since(start).Round(time.Millisecond))
		}
	}
	return nil
}

// warnForeign names the namespaces the plan would create that exist but
// are not the lab's: apply will refuse them unless --adopt, and diff says
// so now rather than let apply be the surprise.
func warnForeign(w io.Writer, p compose.Plan) {
	foreign, err := kernel.Foreign(p)
	if err != nil {
		fmt.Fprintf(w, "note: could not check for foreign namespaces: %v\n", err)
	}
	for _, f := range foreign {
		fmt.Fprintf(w, "note: namespace %s exists but is not lab %s's: apply will refuse it (--adopt takes it over)\n", f.Namespace, f.Lab)
	}
}

// vethNodes lists the nodes at the ends of veths that p creates or
// changes: only their carrier is worth waiting for.
func vethNodes(p compose.Plan) []string {
	var nodes []string
	for _, c := range p.Changes {
		if c.After == nil || c.After.Kind != compose.KindVeth {
			continue
		}
		for _, e := range c.After.Ends() {
			nodes = append(nodes, e.Node)
		}
	}
	return nodes
}

// readyTimeout bounds how long apply waits for new links' carrier.
const readyTimeout = 5 * time.Second

// waitReady waits until the lab's links carry traffic (see
// kernel.WaitReady), saying which did not when it gives up: apply should
// return a lab that works, not one that works a second later.
func waitReady(ctx context.Context, w io.Writer, lab string, nodes []string) {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	down, err := kernel.WaitReady(ctx, lab, nodes)
	switch {
	case err != nil:
		fmt.Fprintf(w, "note: could not check that the links are up: %v\n", err)
	case len(down) > 0:
		fmt.Fprintf(w, "note: no carrier after %s on %s\n", readyTimeout, kernel.EndsText(down))
	}
}

// onlyCreates reports whether p only adds: the kernel's side effects
// that apply looks again for come from removing and changing things, so a
// plan of creates (a fresh lab) is not worth a second look.
func onlyCreates(p compose.Plan) bool {
	for _, c := range p.Changes {
		if c.Action != compose.Create {
			return false
		}
	}
	return true
}

// maxPasses bounds apply's look-again loop: one pass for the plan, the
// rest for what the kernel removed as a side effect of it.
const maxPasses = 3

func planText(p compose.Plan) string {
	var b strings.Builder
	compose.WritePlan(&b, p, false)
	return b.String()
}

func withProgress(cmd *cobra.Command, opt kernel.ApplyOptions) kernel.ApplyOptions {
	opt.Progress = progress(cmd.ErrOrStderr(), isTerminal(os.Stderr))
	return opt
}

// warnNotApplied says which sections apply validated but does not build
// yet, rather than leave the user to wonder where their pipeline went.
func warnNotApplied(w io.Writer, lab *compose.Lab) {
	var names []string
	for _, q := range lab.NFQueues {
		names = append(names, "[nfqueue:"+q.Name+"]")
	}
	for _, sv := range lab.Services {
		names = append(names, "[service:"+sv.Name+"]")
	}
	if len(names) > 0 {
		fmt.Fprintf(w, "note: %s validated but not applied: NFQUEUE pipelines and services are not built by this version\n",
			strings.Join(names, ", "))
	}
}
