package reconcile

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/compose/kernel"
	"github.com/netcompose/netcompose/internal/check"
)

// CheckRun is the [check:] sections of a lab to run on this machine: the
// whole lab's (to reach any node's address) and the checks of the slice
// applied under Key.
type CheckRun struct {
	Lab    *compose.Lab // the whole lab: addresses of every node
	Checks []*compose.Check
	Key    string // the state record: the lab, or its slice for one host
	Host   string
	Path   string // the lab file, for the commands an error suggests
}

// Plan maps the checks to probes against what is applied here: each
// CheckPlan is a check.Spec, or why the check cannot run.
func (tr *CheckRun) Plan(ctx context.Context) ([]CheckPlan, error) {
	nodes, err := tr.appliedNodes(ctx)
	if err != nil {
		return nil, err
	}
	macNodes, err := tr.withOtherSlices(ctx, nodes)
	if err != nil {
		return nil, err
	}
	return planChecks(tr.Lab, tr.Checks, nodes, macNodes), nil
}

// appliedNodes inspects the applied lab. It fails with a message a user
// can act on when the lab has no state record or a node a check needs has
// no namespace, instead of letting every probe time out.
func (tr *CheckRun) appliedNodes(ctx context.Context) (map[string]kernel.NodeStatus, error) {
	notApplied := func(why string) error {
		if tr.Host != "" {
			return fmt.Errorf("lab %s is not applied on host %s (%s): run netcompose apply --host %s %s", tr.Lab.Name, tr.Host, why, tr.Host, tr.Path)
		}
		return fmt.Errorf("lab %s is not applied (%s): run netcompose apply %s", tr.Lab.Name, why, tr.Path)
	}
	keys, err := kernel.Keys()
	if err != nil {
		return nil, err
	}
	if !slices.Contains(keys, tr.Key) {
		return nil, notApplied("no state record")
	}
	status, err := kernel.Inspect(ctx, tr.Key)
	if err != nil {
		return nil, err
	}
	nodes := map[string]kernel.NodeStatus{}
	for _, n := range status {
		nodes[n.Node] = n
	}
	var missing []string
	for _, c := range tr.Checks {
		need := []string{c.From}
		if tr.Host == "" {
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
func (tr *CheckRun) withOtherSlices(ctx context.Context, nodes map[string]kernel.NodeStatus) (map[string]kernel.NodeStatus, error) {
	if tr.Host == "" {
		return nodes, nil
	}
	keys, err := kernel.Keys()
	if err != nil {
		return nil, err
	}
	all := maps.Clone(nodes)
	for _, h := range tr.Lab.Hosts {
		key := compose.StateKey(tr.Lab.Name, h.Name)
		if key == tr.Key || !slices.Contains(keys, key) {
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

// CheckPlan is one check ready to run: its spec, or why it cannot run.
type CheckPlan struct {
	Spec check.Spec
	Err  string // the check cannot run: this is its failure
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
func planChecks(lab *compose.Lab, checks []*compose.Check, nodes, macNodes map[string]kernel.NodeStatus) []CheckPlan {
	macs := map[string]string{}
	for _, n := range macNodes {
		for _, ifc := range n.Interfaces {
			if hw, err := net.ParseMAC(ifc.MAC); err == nil && len(hw) == 6 && ifc.Name != "lo" {
				macs[hw.String()] = n.Node + ":" + ifc.Name
			}
		}
	}
	plans := make([]CheckPlan, 0, len(checks))
	for _, c := range checks {
		plans = append(plans, planCheck(lab, c, nodes, macNodes, macs))
	}
	return plans
}

func planCheck(lab *compose.Lab, c *compose.Check, nodes, macNodes map[string]kernel.NodeStatus, macs map[string]string) CheckPlan {
	var p CheckPlan
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
		MinRTT:    c.MinRTT,
		MaxRTT:    c.MaxRTT,
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
	if c.Capture != (compose.End{}) {
		s.CaptureNetns = compose.NamespaceName(lab.Name, c.Capture.Node)
		s.CaptureIface, s.CaptureWant = c.Capture.Ifname, c.Captured
		s.CaptureName = c.Capture.Node + ":" + c.Capture.Ifname
		if _, here := nodes[c.Capture.Node]; !here {
			p.Err = fmt.Sprintf("capture = %s: node %s is not applied on this machine", s.CaptureName, c.Capture.Node)
		}
	}
	if c.ToNode != "" {
		n, _ := lab.Node(c.ToNode)
		s.Target = targetAddr(n, c.Protocol == check.ARP)
		if !s.Target.IsValid() {
			p.Err = fmt.Sprintf("node %s has no address to send to (give to = IP)", c.ToNode)
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
			if _, ok := macNodes[node]; !ok && p.Err == "" {
				// Another machine's MACs cannot be seen from here:
				// say so rather than "did not answer".
				p.Err = fmt.Sprintf("answer = %s: node %s is not on this machine, so its MACs are unknown here (run this check where %s is applied)", a, node, node)
			}
			s.Answer = append(s.Answer, answerFor(a, macNodes))
		}
	}
	p.Spec = s
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

// Judge fails the checks that could not be planned.
func (p CheckPlan) Judge(r *check.Result) {
	if p.Err != "" {
		r.Pass, r.Reason = false, p.Err
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
