// Package reconcile is netcompose's control loop: lock the lab, observe
// the kernel and the lab's processes, diff against the file, apply the
// plan (rolling back on failure), look again for what the kernel took
// along, wait until the links carry traffic, and hand the lab's processes
// to its supervisor. Destroy is the same loop run on the empty lab.
//
// It knows nothing of flags or terminals: it reports what it does as
// Events, which the CLI turns into a plan, a progress bar or JSON, and
// which a watch stream or a library user can read as they are.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/compose/kernel"
	"github.com/netcompose/netcompose/internal/supervisor"
)

// Target is what a run converges: a lab (or a host's slice of one) under
// its state key. A nil Lab is the empty lab: the run destroys.
type Target struct {
	Key string
	Lab *compose.Lab
}

// Destroying reports whether the target is the empty lab.
func (t Target) Destroying() bool { return t.Lab == nil }

// Options tune a run.
type Options struct {
	// Adopt takes over namespaces with the lab's names that netcompose did
	// not create (or cannot prove it did).
	Adopt bool
	// UnderlayNetns is kernel.ApplyOptions.UnderlayNetns.
	UnderlayNetns string
	// NoWait fails at once when another run holds the lab's lock.
	NoWait bool
	// DryRun stops after the plan.
	DryRun bool
	// ReadyTimeout bounds the wait for new links' carrier (default 5 s).
	ReadyTimeout time.Duration
	// Processes runs the lab's queue consumers and services; nil refuses
	// labs that have any.
	Processes Processes
	// Events receives what the run does, in order; nil drops them.
	Events func(Event)
	// Preflight, if set, checks that the kernel has what the lab needs,
	// and returns notes on what it may miss (Note events). It runs after
	// planning, before the plan is shown, and only when the plan changes
	// something: a lab that is already there needs nothing more of the
	// kernel.
	Preflight func(context.Context) (notes []string, err error)
}

func (o *Options) emit(e Event) {
	if o.Events != nil {
		o.Events(e)
	}
}

// EventKind says what an Event reports.
type EventKind string

const (
	// Waiting: another run holds the lab's lock; this one waits.
	Waiting EventKind = "waiting"
	// Planned: the plan of a pass (Pass 1 is the plan the user sees).
	Planned EventKind = "plan"
	// Stepped: one step of the plan ran (Done of Total).
	Stepped EventKind = "step"
	// Note: something worth saying that is not an error (Message).
	Note EventKind = "note"
	// Finished: the run ended (Result).
	Finished EventKind = "finished"
)

// Event is one thing a run reports.
type Event struct {
	Kind    EventKind     `json:"kind"`
	Time    time.Time     `json:"time"`
	Pass    int           `json:"pass,omitempty"`
	Plan    *compose.Plan `json:"plan,omitempty"`
	Step    *compose.Step `json:"step,omitempty"`
	Done    int           `json:"done,omitempty"`
	Total   int           `json:"total,omitempty"`
	Message string        `json:"message,omitempty"`
	Result  *Result       `json:"result,omitempty"`
}

// Result says what a run did.
type Result struct {
	Key        string        `json:"lab"`
	Destroy    bool          `json:"destroy,omitempty"`
	Added      int           `json:"added"`
	Changed    int           `json:"changed"`
	Destroyed  int           `json:"destroyed"`
	Passes     int           `json:"passes"`
	Duration   time.Duration `json:"duration_ns"`
	NotReady   []compose.End `json:"not_ready,omitempty"`
	RolledBack bool          `json:"rolled_back"`
	Error      string        `json:"error,omitempty"`
}

// Changes is how many resources the run added, changed and destroyed.
func (r *Result) Changes() int { return r.Added + r.Changed + r.Destroyed }

// maxPasses bounds the look-again loop: one pass for the plan, the rest
// for what the kernel removed as a side effect of it.
const maxPasses = 3

const defaultReadyTimeout = 5 * time.Second

// Plan observes the kernel and the lab's processes and diffs them
// against t: what Run would do first.
func Plan(ctx context.Context, t Target, opt Options) (compose.Plan, error) {
	w, err := desiredOf(t)
	if err != nil {
		return compose.Plan{}, err
	}
	return planFor(ctx, t, opt, w)
}

// planFor is Plan with the target already lowered: a run lowers it once,
// then plans as often as it looks again.
func planFor(ctx context.Context, t Target, opt Options, w wanted) (compose.Plan, error) {
	actual, err := observeActual(ctx, t, opt, w.resources)
	if err != nil {
		return compose.Plan{}, err
	}
	return compose.Diff(t.Key, w.resources, actual), nil
}

// observe returns what t wants and what the kernel and the lab's
// processes hold now.
func observe(ctx context.Context, t Target, opt Options) (desired, actual []compose.Resource, err error) {
	w, err := desiredOf(t)
	if err != nil {
		return nil, nil, err
	}
	actual, err = observeActual(ctx, t, opt, w.resources)
	return w.resources, actual, err
}

// observeActual is what the kernel and the lab's processes hold now;
// desired names what is observed (sysctl keys, the processes' nodes).
func observeActual(ctx context.Context, t Target, opt Options, desired []compose.Resource) ([]compose.Resource, error) {
	actual, err := kernel.Observe(ctx, t.Key, desired)
	if err != nil {
		return nil, err
	}
	if opt.Processes != nil {
		held, err := opt.Processes.Observe(ctx, t.Key, desired)
		if err != nil {
			return nil, err
		}
		actual = append(actual, held...)
		compose.Sort(actual)
	}
	return actual, nil
}

// wanted is a target lowered: its resources, the processes' among them,
// and the processes as the supervisor takes them.
type wanted struct {
	resources []compose.Resource
	specs     []supervisor.Spec
}

// desiredOf lowers the target; the empty lab wants nothing.
func desiredOf(t Target) (wanted, error) {
	if t.Destroying() {
		return wanted{}, nil
	}
	specs, held, err := Components(t.Lab)
	if err != nil {
		return wanted{}, err
	}
	rs := append(t.Lab.Resources(), held...)
	compose.Sort(rs)
	return wanted{resources: rs, specs: specs}, nil
}

// Run converges the kernel and the lab's processes to t: lock, plan,
// apply (with rollback), look again, wait for carrier, hand the processes
// to the supervisor. It returns what it did even when it fails.
func Run(ctx context.Context, t Target, opt Options) (*Result, error) {
	start := time.Now()
	res := &Result{Key: t.Key, Destroy: t.Destroying()}
	err := run(ctx, t, opt, res)
	res.Duration = time.Since(start)
	var ae *kernel.ApplyError
	res.RolledBack = errors.As(err, &ae)
	if err != nil {
		res.Error = err.Error()
	}
	opt.emit(Event{Kind: Finished, Time: time.Now(), Result: res})
	return res, err
}

func run(ctx context.Context, t Target, opt Options, res *Result) error {
	if hasProcesses(t) && opt.Processes == nil {
		return errors.New("this lab runs processes (nfqueue, service) and no supervisor is configured")
	}
	if err := CheckUnderlay(t, opt.UnderlayNetns); err != nil {
		return err
	}
	unlock, err := kernel.Lock(ctx, t.Key, !opt.NoWait, func() {
		opt.emit(Event{Kind: Waiting, Time: time.Now(), Message: fmt.Sprintf("waiting for the lock of lab %q (another apply or destroy is running)", t.Key)})
	})
	if err != nil {
		return err
	}
	defer unlock()

	w, err := desiredOf(t)
	if err != nil {
		return err
	}
	p, err := planFor(ctx, t, opt, w)
	if err != nil {
		return err
	}
	if opt.Preflight != nil && !t.Destroying() && !p.Empty() {
		notes, err := opt.Preflight(ctx)
		for _, n := range notes {
			opt.emit(Event{Kind: Note, Time: time.Now(), Message: n})
		}
		if err != nil {
			return err
		}
	}
	opt.emit(Event{Kind: Planned, Time: time.Now(), Pass: 1, Plan: &p})
	if opt.DryRun {
		return nil
	}
	add, change, destroy := p.Counts()
	publish(ctx, opt, t.Key, "apply.started", map[string]any{"add": add, "change": change, "destroy": destroy, "destroying": t.Destroying()})
	defer func() {
		publish(ctx, opt, t.Key, "apply.finished", map[string]any{"added": res.Added, "changed": res.Changed,
			"destroyed": res.Destroyed, "passes": res.Passes})
	}()
	// What a process holds goes before the kernel objects it holds: a
	// socket of a consumer keeps its namespace alive. So processes to
	// stop or restart stop first; new ones start once the kernel is there.
	if opt.Processes != nil && (t.Destroying() || removesHeld(p)) {
		if err := opt.Processes.Converge(ctx, t.Key, unchanged(w.specs, p)); err != nil {
			return err
		}
	}
	linked, waited, err := applyPasses(ctx, t, opt, w, p, res)
	if err != nil {
		return err
	}
	if !t.Destroying() && len(linked) > 0 {
		if !waited {
			res.NotReady = waitReady(ctx, t.Key, linked, opt)
		}
		if err := ctx.Err(); err != nil {
			// Interrupted while waiting: the changes are made, the wait
			// is not; say so rather than exit 0.
			return fmt.Errorf("interrupted while waiting for the links to carry traffic (the changes are applied): %w", err)
		}
	}
	if opt.Processes != nil && !t.Destroying() {
		return opt.Processes.Converge(ctx, t.Key, w.specs)
	}
	return nil
}

// publisher is a Processes that has an event stream to tell.
type publisher interface {
	Publish(ctx context.Context, key, kind string, data map[string]any)
}

func publish(ctx context.Context, opt Options, key, kind string, data map[string]any) {
	if p, ok := opt.Processes.(publisher); ok {
		p.Publish(ctx, key, kind, data)
	}
}

// unchanged keeps the specs whose process p leaves as it is.
func unchanged(specs []supervisor.Spec, p compose.Plan) []supervisor.Spec {
	touched := map[string]bool{}
	for _, c := range p.Changes {
		if r := c.Resource(); r.Kind.Info().Held {
			touched[string(r.Kind)+"/"+r.Name] = true
		}
	}
	var out []supervisor.Spec
	for _, s := range specs {
		if !touched[s.Kind+"/"+s.Name] {
			out = append(out, s)
		}
	}
	return out
}

func planText(p compose.Plan) string {
	var b strings.Builder
	compose.WritePlan(&b, p, false)
	return b.String()
}

// applyPasses applies p, then looks again and applies what the kernel
// took along, up to maxPasses. It returns the veth ends the passes made
// or changed (only their carrier is worth waiting for), and whether it
// has waited for them already: a plan that only creates (a fresh lab)
// is the only pass, and Apply waits in its own session.
func applyPasses(ctx context.Context, t Target, opt Options, w wanted, p compose.Plan, res *Result) (linked []compose.End, waited bool, err error) {
	for pass := 1; ; pass++ {
		res.Passes = pass
		kopt := kernel.ApplyOptions{
			Adopt:         opt.Adopt,
			UnderlayNetns: opt.UnderlayNetns,
			Progress: func(done, total int, s compose.Step) {
				opt.emit(Event{Kind: Stepped, Time: time.Now(), Pass: pass, Step: &s, Done: done, Total: total})
			},
		}
		last := t.Destroying() || onlyCreates(p)
		if last && !t.Destroying() {
			kopt.Ready, kopt.ReadyTimeout = vethEnds(p), opt.readyTimeout()
		}
		// An empty plan still goes to Apply: it forgets recorded
		// namespaces that were deleted by hand, so destroy leaves no
		// state behind.
		kres, err := kernel.Apply(ctx, p, kopt)
		if err != nil {
			return nil, false, err
		}
		a, c, d := p.Counts()
		res.Added, res.Changed, res.Destroyed = res.Added+a, res.Changed+c, res.Destroyed+d
		linked = append(linked, vethEnds(p)...)
		if last {
			if len(kopt.Ready) > 0 {
				res.NotReady = kres.NotReady
				reportReady(ctx, opt, kres.NotReady, kres.ReadyErr)
			}
			return linked, len(kopt.Ready) > 0, nil
		}
		// Level-based: look again. The kernel takes things along as side
		// effects netcompose does not model one by one (removing the last
		// address of a subnet flushes the routes and neighbours through
		// it; deleting a primary address can delete its secondaries).
		if p, err = planFor(ctx, t, opt, w); err != nil {
			return nil, false, err
		}
		if p.Empty() || onlyHeld(p) {
			return linked, false, nil
		}
		if pass == maxPasses {
			return nil, false, fmt.Errorf("lab %s did not converge after %d passes; still planned:\n%s", t.Key, pass, planText(p))
		}
		opt.emit(Event{Kind: Planned, Time: time.Now(), Pass: pass + 1, Plan: &p})
	}
}

func (o *Options) readyTimeout() time.Duration {
	if o.ReadyTimeout == 0 {
		return defaultReadyTimeout
	}
	return o.ReadyTimeout
}

// waitReady waits until the links this run made carry traffic
// (kernel.WaitReady): apply returns a lab that works, not one that works
// a second later. It returns the ends still down when it gives up.
func waitReady(ctx context.Context, key string, ends []compose.End, opt Options) []compose.End {
	wctx, cancel := context.WithTimeout(ctx, opt.readyTimeout())
	defer cancel()
	down, err := kernel.WaitReady(wctx, key, ends)
	reportReady(ctx, opt, down, err)
	return down
}

// reportReady says what a wait for carrier found, unless the user
// interrupted it (not a slow link: say nothing false).
func reportReady(ctx context.Context, opt Options, down []compose.End, err error) {
	switch {
	case ctx.Err() != nil:
	case err != nil:
		opt.emit(Event{Kind: Note, Time: time.Now(), Message: fmt.Sprintf("could not check that the links are up: %v", err)})
	case len(down) > 0:
		opt.emit(Event{Kind: Note, Time: time.Now(), Message: fmt.Sprintf("no carrier after %s on %s", opt.readyTimeout(), kernel.EndsText(down))})
	}
}

// vethEnds lists the ends of veths that p creates or changes: only their
// carrier is worth waiting for.
func vethEnds(p compose.Plan) []compose.End {
	var ends []compose.End
	for _, c := range p.Changes {
		if c.After == nil || c.After.Kind != compose.KindVeth {
			continue
		}
		ends = append(ends, c.After.Ends()...)
	}
	return ends
}

// onlyCreates reports whether p only adds: the kernel's side effects that
// the loop looks again for come from removing and changing things, so a
// plan of creates (a fresh lab) is not worth a second look.
func onlyCreates(p compose.Plan) bool {
	for _, c := range p.Changes {
		if c.Action != compose.Create {
			return false
		}
	}
	return true
}

// onlyHeld reports whether everything p still plans is for the lab's
// processes, which the supervisor converges after the kernel.
func onlyHeld(p compose.Plan) bool {
	for _, c := range p.Changes {
		if !c.Resource().Kind.Info().Held {
			return false
		}
	}
	return true
}

// removesHeld reports whether p deletes or replaces something a process
// holds.
func removesHeld(p compose.Plan) bool {
	for _, c := range p.Changes {
		if c.Before != nil && c.Before.Kind.Info().Held && c.Action != compose.Update {
			return true
		}
	}
	return false
}

func hasProcesses(t Target) bool {
	return t.Lab != nil && (len(t.Lab.NFQueues) > 0 || len(t.Lab.Services) > 0)
}
