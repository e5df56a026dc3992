package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/compose/kernel"
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

// testRun is what one test works on.
type testRun struct {
	lab    *compose.Lab // the whole lab: addresses of every node
	checks []*compose.Check
	key    string // the state record: the lab, or its slice for one host
	host   string
	path   string
}

func loadTestRun(path, host string, only []string) (*testRun, error) {
	lab, err := loadLab(path)
	if err != nil {
		return nil, err
	}
	tr := &testRun{lab: lab, checks: lab.Checks, key: lab.Name, host: host, path: path}
	if host != "" {
		slice, err := lab.ForHost(host)
		if err != nil {
			return nil, err
		}
		tr.checks, tr.key = slice.Checks, compose.StateKey(lab.Name, host)
	}
	if tr.checks, err = onlyChecks(lab.Name, tr.checks, only); err != nil {
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
	lab := tr.lab
	if len(tr.checks) == 0 && tf.output != "json" {
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
	nodes, err := appliedNodes(ctx, tr)
	if err != nil {
		return err
	}
	macNodes, err := withOtherSlices(ctx, tr, nodes)
	if err != nil {
		return err
	}
	plans := planChecks(lab, tr.checks, nodes, macNodes)
	specs := make([]check.Spec, len(plans))
	for i, p := range plans {
		specs[i] = p.spec
	}
	if tf.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, tf.timeout)
		defer cancel()
	}
	results := check.Run(ctx, specs, tf.parallel)
	for i, p := range plans {
		p.judge(&results[i])
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

// appliedNodes inspects the applied lab. It fails with a message a user
// can act on when the lab has no state record or a node a check needs has
// no namespace, instead of letting every probe time out.
func appliedNodes(ctx context.Context, tr *testRun) (map[string]kernel.NodeStatus, error) {
	notApplied := func(why string) error {
		if tr.host != "" {
			return fmt.Errorf("lab %s is not applied on host %s (%s): run netcompose apply --host %s %s", tr.lab.Name, tr.host, why, tr.host, tr.path)
		}
		return fmt.Errorf("lab %s is not applied (%s): run netcompose apply %s", tr.lab.Name, why, tr.path)
	}
	labs, err := kernel.Labs()
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(labs, func(l kernel.LabInfo) bool { return l.Name == tr.key })
	if i < 0 {
		return nil, notApplied("no state record")
	}
	status, err := kernel.Inspect(ctx, tr.key)
	if err != nil {
		return nil, err
	}
	nodes := map[string]kernel.NodeStatus{}
	for _, n := range status {
		nodes[n.Node] = n
	}
	var missing []string
	for _, c := range tr.checks {
		need := []string{c.From}
		if tr.host == "" {
			// on one machine every node is here; across hosts a target
			// node may live elsewhere, reached at its address
			need = append(need, c.ToNode)
		}
		for _, n := range need {
			if _, ok := nodes[n]; n != "" && !ok && !slices.Contains(missing, n) {
				missing = append(missing, n)
			}
		}
	}
	if len(missing) > 0 {
		return nil, notApplied("no namespace for node " + strings.Join(missing, ", "))
	}
	return nodes, nil
}

// withOtherSlices adds to nodes the nodes of the lab's other host slices
// applied on this machine (hosts simulated on one machine), so that an arp
// check's answer = NODE:IF can name a node of another host.
func withOtherSlices(ctx context.Context, tr *testRun, nodes map[string]kernel.NodeStatus) (map[string]kernel.NodeStatus, error) {
	if tr.host == "" {
		return nodes, nil
	}
	labs, err := kernel.Labs()
	if err != nil {
		return nil, err
	}
	all := maps.Clone(nodes)
	for _, h := range tr.lab.Hosts {
		key := compose.StateKey(tr.lab.Name, h.Name)
		if key == tr.key || !slices.ContainsFunc(labs, func(l kernel.LabInfo) bool { return l.Name == key }) {
			continue
		}
		status, err := kernel.Inspect(ctx, key)
		if err != nil {
			return nil, err
		}
		for _, n := range status {
			if _, ok := all[n.Node]; !ok {
				all[n.Node] = n
			}
		}
	}
	return all, nil
}

// checkPlan is one check ready to run: its spec, or why it cannot run.
type checkPlan struct {
	spec check.Spec
	err  string // the check cannot run: this is its failure
}

// planChecks maps every [check:] of lab to a probe spec:
//
//   - from: the node's namespace, compose.NamespaceName(lab, node);
//   - to = NODE[:PORT]: the node's first address (see targetAddr), and the
//     node's namespace as TargetNetns;
//   - to = IP[:PORT]: TargetNetns is the lab node holding IP, if any;
//   - a target node whose namespace is not on this machine (another host
//     of a multi-host lab) gets no TargetNetns;
//   - answer = NODE:IF...: the MACs of those interfaces as the kernel
//     reports them; every lab interface's MAC is labelled NODE:IF so
//     reasons read "02:...(firewall:cli)". MACs come from macNodes: nodes
//     plus the nodes of other host slices applied on this machine.
func planChecks(lab *compose.Lab, checks []*compose.Check, nodes, macNodes map[string]kernel.NodeStatus) []checkPlan {
	macs := map[string]string{}
	for _, n := range macNodes {
		for _, ifc := range n.Interfaces {
			if hw, err := net.ParseMAC(ifc.MAC); err == nil && len(hw) == 6 && ifc.Name != "lo" {
				macs[hw.String()] = n.Node + ":" + ifc.Name
			}
		}
	}
	plans := make([]checkPlan, 0, len(checks))
	for _, c := range checks {
		plans = append(plans, planCheck(lab, c, nodes, macNodes, macs))
	}
	return plans
}

func planCheck(lab *compose.Lab, c *compose.Check, nodes, macNodes map[string]kernel.NodeStatus, macs map[string]string) checkPlan {
	var p checkPlan
	s := check.Spec{
		Name:      c.Name,
		FromNetns: compose.NamespaceName(lab.Name, c.From),
		Protocol:  c.Protocol,
		Port:      uint16(c.Port),
		Expect:    c.Expect,
		Count:     c.Count,
		MaxLoss:   float64(c.MaxLoss) / 100,
		Timeout:   c.Timeout,
		Interface: c.Interface,
		TTL:       c.TTL,
		Target:    c.ToAddr,
		// websocket and http
		Path:        c.Path,
		Send:        c.Send,
		ExpectReply: c.Reply,
		Origin:      c.Origin,
		Status:      c.Status,
		ReplyNetns:  replyNetns(lab, c),
		Body:        c.Body,
	}
	if c.ToNode != "" {
		n, _ := lab.Node(c.ToNode)
		s.Target = targetAddr(n, c.Protocol == check.ARP)
		if !s.Target.IsValid() {
			p.err = fmt.Sprintf("node %s has no address to send to (give to = IP)", c.ToNode)
		}
	}
	owner := c.ToNode
	if owner == "" {
		owner = addressOwner(lab, c.ToAddr)
	}
	if _, here := nodes[owner]; owner != "" && here && !serviceListens(lab, owner, c) {
		// Nothing of the lab should listen there: the check may open its
		// own listener, and its report says so. Where a service should
		// listen, the check tests that service, running or not.
		s.TargetNetns = compose.NamespaceName(lab.Name, owner)
	}
	if c.Protocol == check.ARP {
		s.Labels = macs
		for _, a := range c.Answer {
			node, _, _ := strings.Cut(a, ":")
			if _, ok := macNodes[node]; !ok && p.err == "" {
				// Another machine's MACs cannot be seen from here:
				// say so rather than "did not answer".
				p.err = fmt.Sprintf("answer = %s: node %s is not on this machine, so its MACs are unknown here (run this check where %s is applied)", a, node, node)
			}
			s.Answer = append(s.Answer, answerFor(a, macNodes))
		}
	}
	p.spec = s
	return p
}

// targetAddr is the address a check to NODE goes to: the node's first
// address in file order that is not on lo (lo's when it has no other),
// IPv4 only for arp.
func targetAddr(n *compose.Node, v4 bool) netip.Addr {
	var lo netip.Addr
	if n == nil {
		return lo
	}
	for _, a := range n.Addresses {
		ip := a.Prefix.Addr()
		if v4 && !ip.Is4() {
			continue
		}
		if a.Ifname == "lo" {
			if !lo.IsValid() {
				lo = ip
			}
			continue
		}
		return ip
	}
	return lo
}

// addressOwner is the node of lab that has ip, "" if none.
func addressOwner(lab *compose.Lab, ip netip.Addr) string {
	for _, n := range lab.Nodes {
		for _, a := range n.Addresses {
			if a.Prefix.Addr() == ip {
				return n.Name
			}
		}
	}
	return ""
}

// answerFor resolves NODE or NODE:IF to the MACs the kernel reports.
func answerFor(a string, nodes map[string]kernel.NodeStatus) check.AnswerSet {
	node, ifname, hasIf := strings.Cut(a, ":")
	set := check.AnswerSet{Name: a}
	for _, ifc := range nodes[node].Interfaces {
		hw, err := net.ParseMAC(ifc.MAC)
		if err != nil || len(hw) != 6 || ifc.Name == "lo" || (hasIf && ifc.Name != ifname) {
			continue
		}
		set.MACs = append(set.MACs, hw)
	}
	return set
}

// judge fails the checks that could not be planned.
func (p checkPlan) judge(r *check.Result) {
	if p.err != "" {
		r.Pass, r.Reason = false, p.err
	}
}

// replyNetns is the namespace of a websocket check's reply_from node.
func replyNetns(lab *compose.Lab, c *compose.Check) string {
	if c.ReplyFrom == "" {
		return ""
	}
	return compose.NamespaceName(lab.Name, c.ReplyFrom)
}

// serviceListens reports whether a [service:] of the lab should be what
// answers the check in node: one that listens on its port, or a command
// that does not say where it listens.
func serviceListens(lab *compose.Lab, node string, c *compose.Check) bool {
	if c.Protocol != check.TCP && c.Protocol != check.UDP {
		return false
	}
	for _, sv := range lab.Services {
		if sv.Netns == node && (!sv.Listen.IsValid() || int(sv.Listen.Port()) == c.Port) {
			return true
		}
	}
	return false
}
