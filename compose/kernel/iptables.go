package kernel

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/nfqueue"
)

// iptablesDriver manages the iptables rules that queue a node's packets
// to user space ([nfqueue:] sections), through package nfqueue: one rule
// per IP family, in the lab's chain, marked with the comment
// netcompose:<lab>:<name>. Rules without the lab's comment are never
// seen, so never touched. Every attribute forces a replace (the kinds
// table), so update is never asked for.
type iptablesDriver struct{}

// labName is the lab part of the session's state key: rules and chains
// carry the lab's name, as the consumers' configuration does.
func (s *session) labName() string {
	lab, _ := compose.SplitStateKey(s.lab)
	return lab
}

// dump reads the lab's queue rules in the node, both families.
func (iptablesDriver) dump(s *session, sn *snapshot) (any, error) {
	return nfqueue.ObserveRules(namespacePath(s.lab, sn.node), s.labName())
}

func (iptablesDriver) observe(s *session, snaps []*snapshot, _ []compose.Resource) ([]compose.Resource, error) {
	var out []compose.Resource
	for _, sn := range snaps {
		rules, _ := sn.dumps[compose.KindIPTables].([]nfqueue.Rule)
		byName := map[string][]nfqueue.Rule{}
		var names []string
		for _, r := range rules {
			if _, ok := byName[r.Name]; !ok {
				names = append(names, r.Name)
			}
			byName[r.Name] = append(byName[r.Name], r)
		}
		for _, name := range names {
			out = append(out, queueRuleResource(sn.node, byName[name]))
		}
	}
	return out, nil
}

// queueRuleResource is the resource the rules of one name stand for. Rules of
// the two families that differ (one edited by hand) show as the first's
// attributes with a families attribute no file asks for: a replace.
func queueRuleResource(node string, rs []nfqueue.Rule) compose.Resource {
	r := rs[0]
	queue := strconv.Itoa(int(r.QueueFirst))
	if r.QueueLast != r.QueueFirst {
		queue += "-" + strconv.Itoa(int(r.QueueLast))
	}
	prefix := func(p netip.Prefix) string {
		if p.IsValid() {
			return p.String()
		}
		return ""
	}
	var fams []string
	for _, x := range rs {
		same := x.Unparsed == "" && r.Unparsed == "" && x.Chain == r.Chain && x.Protocol == r.Protocol &&
			x.Sport == r.Sport && x.Dport == r.Dport && x.In == r.In && x.Out == r.Out &&
			x.QueueFirst == r.QueueFirst && x.QueueLast == r.QueueLast && x.Bypass == r.Bypass
		f := strconv.Itoa(x.Family)
		if !same {
			f += "(differs)"
		}
		fams = append(fams, f)
	}
	slices.Sort(fams)
	attrs := map[string]string{
		"chain": r.Chain, "protocol": r.Protocol, "sport": r.Sport, "dport": r.Dport,
		"in": r.In, "out": r.Out, "queue": queue, "bypass": strconv.FormatBool(r.Bypass),
		"source": prefix(r.Source), "destination": prefix(r.Destination),
		"families": strings.Join(fams, ","),
	}
	if r.Unparsed != "" {
		attrs["families"] += " (changed by hand: " + r.Unparsed + ")"
	}
	return compose.Resource{Kind: compose.KindIPTables, Node: node, Name: r.Name, Attrs: attrs}
}

// rules turns the resource back into the rules it stands for.
func (s *session) queueRules(r compose.Resource) ([]nfqueue.Rule, error) {
	a := r.Attrs
	q := &compose.NFQueue{Name: r.Name, Netns: r.Node, Chain: a["chain"], Protocol: a["protocol"],
		Sport: a["sport"], Dport: a["dport"], In: a["in"], Out: a["out"]}
	if a["bypass"] == "true" {
		q.Fail = "open"
	}
	first, last, ok := strings.Cut(a["queue"], "-")
	var err error
	if q.QueueFirst, err = strconv.Atoi(first); err != nil {
		return nil, fmt.Errorf("iptables %s: bad queue %q", r.Name, a["queue"])
	}
	q.QueueLast = q.QueueFirst
	if ok {
		if q.QueueLast, err = strconv.Atoi(last); err != nil {
			return nil, fmt.Errorf("iptables %s: bad queue %q", r.Name, a["queue"])
		}
	}
	for key, p := range map[string]*netip.Prefix{"source": &q.Source, "destination": &q.Destination} {
		if v := a[key]; v != "" {
			if *p, err = netip.ParsePrefix(v); err != nil {
				return nil, fmt.Errorf("iptables %s: bad %s %q", r.Name, key, v)
			}
		}
	}
	return nfqueue.RulesFor(s.labName(), q)
}

func (iptablesDriver) create(s *session, r compose.Resource) error {
	rules, err := s.queueRules(r)
	if err != nil {
		return err
	}
	if err := s.announceDump(compose.KindIPTables, r.Node); err != nil {
		return err
	}
	s.rec.addDump(compose.KindIPTables, r.Node)
	for _, ru := range rules {
		if err := nfqueue.AddRule(namespacePath(s.lab, r.Node), ru); err != nil {
			return fmt.Errorf("iptables %s in %s: %w", r.Name, r.Node, err)
		}
	}
	return nil
}

func (d iptablesDriver) update(s *session, before, after compose.Resource) error {
	if err := d.delete(s, before); err != nil {
		return err
	}
	return d.create(s, after)
}

func (iptablesDriver) delete(s *session, r compose.Resource) error {
	for _, fam := range []int{4, 6} {
		ru := nfqueue.Rule{Lab: s.labName(), Name: r.Name, Family: fam}
		if err := nfqueue.DeleteRule(namespacePath(s.lab, r.Node), ru); err != nil {
			return fmt.Errorf("iptables %s in %s: delete: %w", r.Name, r.Node, err)
		}
	}
	return nil
}
