package nfqueue

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/coreos/go-iptables/iptables"

	"github.com/netcompose/netcompose/internal/nsrun"
)

// Tables runs iptables commands inside a node's namespace: go-iptables
// forks the command from a thread that nsrun.Do has moved into the
// namespace, and a forked child starts in its parent thread's namespace
// (as CNI plugins rely on). Every rule it writes lives in the filter
// table.
type Tables struct {
	// IPv4 and IPv6 are the commands, by name or path: iptables and
	// ip6tables (whichever backend the system's alternatives pick), or
	// iptables-legacy and ip6tables-legacy, or the -nft ones.
	IPv4, IPv6 string
}

// DefaultTables uses the system's iptables and ip6tables.
var DefaultTables = Tables{IPv4: "iptables", IPv6: "ip6tables"}

const table = "filter"

// ObserveRules returns the queue rules of lab installed in the namespace
// at nsPath, in both families. A rule counts only where the built-in
// chain still jumps to the lab's chain (a rule no packet reaches is as
// good as missing, and AddRule restores the jump). Rules without the
// lab's comment are not returned, whatever chain they are in.
func ObserveRules(nsPath, lab string) ([]Rule, error) {
	return DefaultTables.ObserveRules(nsPath, lab)
}

// AddRule makes r the one rule of its lab, family and name: it creates
// the lab's chain and the jump to it when missing, removes the rules of
// that name that differ (at any hook: a rule moved from forward to input
// is replaced), and appends r unless it is already there. Adding twice is
// adding once.
func AddRule(nsPath string, r Rule) error { return DefaultTables.AddRule(nsPath, r) }

// DeleteRule removes every rule of r's lab, family and name, at every
// hook (only those three fields of r are read); a lab chain left empty
// goes too, with its jump.
func DeleteRule(nsPath string, r Rule) error { return DefaultTables.DeleteRule(nsPath, r) }

var (
	iptMu    sync.Mutex
	iptCache = map[string]*iptables.IPTables{}
)

// ipt returns the go-iptables handle for a family. Its construction runs
// `iptables --version`, so it is made once per command and reused: it
// holds no namespace of its own, each command runs where it is called.
func (t Tables) ipt(family int) (*iptables.IPTables, error) {
	cmd, proto := t.IPv4, iptables.ProtocolIPv4
	if family == 6 {
		cmd, proto = t.IPv6, iptables.ProtocolIPv6
	}
	iptMu.Lock()
	defer iptMu.Unlock()
	if h, ok := iptCache[cmd]; ok {
		return h, nil
	}
	h, err := iptables.New(iptables.IPFamily(proto), iptables.Path(cmd))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cmd, err)
	}
	iptCache[cmd] = h
	return h, nil
}

// in runs fn with the family's iptables inside the namespace.
func (t Tables) in(nsPath string, family int, fn func(*iptables.IPTables) error) error {
	h, err := t.ipt(family)
	if err != nil {
		return err
	}
	return nsrun.Do(nsPath, func() error { return fn(h) })
}

func (t Tables) ObserveRules(nsPath, lab string) ([]Rule, error) {
	var out []Rule
	for _, family := range []int{4, 6} {
		err := t.in(nsPath, family, func(h *iptables.IPTables) error {
			rules, err := observe(h, lab, family)
			out = append(out, rules...)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("nfqueue rules of %s in %s: observe ipv%d: %w", lab, nsPath, family, err)
		}
	}
	return out, nil
}

func observe(h *iptables.IPTables, lab string, family int) ([]Rule, error) {
	chains, err := h.ListChains(table)
	if err != nil {
		return nil, fmt.Errorf("list chains: %w", err)
	}
	var out []Rule
	for _, hook := range []string{"input", "forward", "output"} {
		chain := LabChain(lab, hook)
		if !slices.Contains(chains, chain) {
			continue
		}
		jumped, err := hasJump(h, lab, hook)
		if err != nil {
			return nil, err
		}
		if !jumped {
			continue
		}
		lines, err := h.List(table, chain)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", chain, err)
		}
		for _, s := range lines {
			l, ok := readLine(s)
			name, ours := strings.CutPrefix(l.comment, commentPrefix(lab))
			if !ok || !ours {
				continue
			}
			r := Rule{Lab: lab, Name: name, Family: family, Chain: hook}
			if err := parseRule(l.args, &r); err != nil {
				r = Rule{Lab: lab, Name: name, Family: family, Chain: hook, Unparsed: s}
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// ruleLines returns the lines of chain carrying comment; none when the
// chain does not exist.
func ruleLines(h *iptables.IPTables, chain, comment string) ([]line, error) {
	ok, err := h.ChainExists(table, chain)
	if err != nil || !ok {
		return nil, err
	}
	lines, err := h.List(table, chain)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", chain, err)
	}
	var out []line
	for _, s := range lines {
		if l, ok := readLine(s); ok && l.comment == comment {
			out = append(out, l)
		}
	}
	return out, nil
}

func hasJump(h *iptables.IPTables, lab, hook string) (bool, error) {
	lines, err := ruleLines(h, hooks[hook], jumpComment(lab))
	if err != nil {
		return false, err
	}
	target := LabChain(lab, hook)
	return slices.ContainsFunc(lines, func(l line) bool { return l.target == target }), nil
}

func (t Tables) AddRule(nsPath string, r Rule) error {
	if err := r.validate(); err != nil {
		return err
	}
	err := t.in(nsPath, r.Family, func(h *iptables.IPTables) error {
		chains, err := h.ListChains(table)
		if err != nil {
			return fmt.Errorf("list chains: %w", err)
		}
		// A rule of this name at another hook is the same rule moved.
		for hook := range hooks {
			if other := LabChain(r.Lab, hook); hook != r.Chain && slices.Contains(chains, other) {
				if err := deleteNamed(h, other, r.Comment(), nil); err != nil {
					return err
				}
				if err := removeIfEmpty(h, r.Lab, hook); err != nil {
					return err
				}
			}
		}
		chain := LabChain(r.Lab, r.Chain)
		if !slices.Contains(chains, chain) {
			if err := h.NewChain(table, chain); err != nil {
				return fmt.Errorf("create chain %s: %w", chain, err)
			}
		}
		// The jump goes first in the built-in chain: the lab's queue sees
		// the packets before any rule that would accept them.
		jump := []string{"-m", "comment", "--comment", jumpComment(r.Lab), "-j", chain}
		if err := h.InsertUnique(table, hooks[r.Chain], 1, jump...); err != nil {
			return fmt.Errorf("jump from %s to %s: %w", hooks[r.Chain], chain, err)
		}
		present := false
		keep := func(l line) bool {
			got := Rule{Lab: r.Lab, Name: r.Name, Family: r.Family, Chain: r.Chain}
			if !present && parseRule(l.args, &got) == nil && got == r {
				present = true // the first identical one stays; others go
				return true
			}
			return false
		}
		if err := deleteNamed(h, chain, r.Comment(), keep); err != nil {
			return err
		}
		if present {
			return nil
		}
		return h.Append(table, chain, r.Spec()...)
	})
	if err != nil {
		return fmt.Errorf("nfqueue rule %s in %s: add: %w", r, nsPath, err)
	}
	return nil
}

// deleteNamed deletes the rules of chain carrying comment, except those
// keep (when not nil) says to keep.
func deleteNamed(h *iptables.IPTables, chain, comment string, keep func(line) bool) error {
	lines, err := ruleLines(h, chain, comment)
	if err != nil {
		return err
	}
	for _, l := range lines {
		if keep != nil && keep(l) {
			continue
		}
		if err := h.Delete(table, chain, l.args...); err != nil {
			return fmt.Errorf("delete %q from %s: %w", strings.Join(l.args, " "), chain, err)
		}
	}
	return nil
}

func (t Tables) DeleteRule(nsPath string, r Rule) error {
	err := t.in(nsPath, r.Family, func(h *iptables.IPTables) error {
		chains, err := h.ListChains(table)
		if err != nil {
			return fmt.Errorf("list chains: %w", err)
		}
		for _, hook := range []string{"input", "forward", "output"} {
			if chain := LabChain(r.Lab, hook); slices.Contains(chains, chain) {
				if err := deleteNamed(h, chain, r.Comment(), nil); err != nil {
					return err
				}
				if err := removeIfEmpty(h, r.Lab, hook); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("nfqueue rule %s in %s: delete: %w", r.Comment(), nsPath, err)
	}
	return nil
}

// errForeign says a lab chain holds rules netcompose did not make.
var errForeign = errors.New("holds rules without the lab's comment; kept")

// removeIfEmpty removes the lab's chain for hook, and the jump to it, once
// the chain holds no rule; one holding others' rules is left alone.
func removeIfEmpty(h *iptables.IPTables, lab, hook string) error {
	chain := LabChain(lab, hook)
	ok, err := h.ChainExists(table, chain)
	if err != nil || !ok {
		return err
	}
	lines, err := h.List(table, chain)
	if err != nil {
		return fmt.Errorf("list %s: %w", chain, err)
	}
	for _, s := range lines {
		if strings.HasPrefix(s, "-A ") {
			return nil // still in use
		}
	}
	return removeLabChain(h, lab, hook)
}

// removeLabChain deletes the jumps to the lab's chain for hook, the lab's
// rules in it, and the chain when nothing else is left in it.
func removeLabChain(h *iptables.IPTables, lab, hook string) error {
	chain := LabChain(lab, hook)
	jumps, err := ruleLines(h, hooks[hook], jumpComment(lab))
	if err != nil {
		return err
	}
	for _, l := range jumps {
		if err := h.Delete(table, hooks[hook], l.args...); err != nil {
			return fmt.Errorf("delete jump from %s: %w", hooks[hook], err)
		}
	}
	ok, err := h.ChainExists(table, chain)
	if err != nil || !ok {
		return err
	}
	lines, err := h.List(table, chain)
	if err != nil {
		return fmt.Errorf("list %s: %w", chain, err)
	}
	foreign := 0
	for _, s := range lines {
		l, ok := readLine(s)
		if !ok {
			continue // -N CHAIN
		}
		if !strings.HasPrefix(l.comment, commentPrefix(lab)) {
			foreign++
			continue
		}
		if err := h.Delete(table, chain, l.args...); err != nil {
			return fmt.Errorf("delete %q from %s: %w", strings.Join(l.args, " "), chain, err)
		}
	}
	if foreign > 0 {
		return fmt.Errorf("chain %s: %d rules: %w", chain, foreign, errForeign)
	}
	if err := h.DeleteChain(table, chain); err != nil {
		return fmt.Errorf("delete chain %s: %w", chain, err)
	}
	return nil
}

func (t Tables) RemoveChain(nsPath, lab string) error {
	var errs []error
	for _, family := range []int{4, 6} {
		err := t.in(nsPath, family, func(h *iptables.IPTables) error {
			var errs []error
			for _, hook := range []string{"input", "forward", "output"} {
				errs = append(errs, removeLabChain(h, lab, hook))
			}
			return errors.Join(errs...)
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("ipv%d: %w", family, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("nfqueue chains of %s in %s: remove: %w", lab, nsPath, err)
	}
	return nil
}
