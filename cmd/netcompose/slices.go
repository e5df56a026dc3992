package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/compose/reconcile"
)

// A multi-host lab is applied per machine (--host), but one machine may
// hold several slices (simulated hosts), or the whole lab. Every command
// that takes a FILE looks at what this machine holds before it plans or
// probes (reconcile.Slices), and when --host does not fit says what is
// here and the command to run.

// checkSlices refuses command (its path, "netcompose diff") on lab (the
// whole file) when host does not fit what this machine holds; rest are
// the command's arguments after FILE, for the suggestion.
func checkSlices(command string, lab *compose.Lab, host, path string, rest ...string) (reconcile.Slices, error) {
	sl, err := reconcile.SlicesOf(lab.Name, reconcile.HostNames(lab))
	if err != nil {
		return sl, err
	}
	err = sl.Check(host)
	var se *reconcile.SliceError
	if !errors.As(err, &se) {
		return sl, err
	}
	return sl, fmt.Errorf("%w; run: %s", err, runLine(command, se.Use, path, rest))
}

// runLine is the command to suggest, "netcompose diff --host m1 lab.ini",
// with the other hosts that would do as well: "(or --host m3)".
func runLine(command string, hosts []string, path string, rest []string) string {
	line := []string{command}
	if len(hosts) > 0 && hosts[0] != "" {
		line = append(line, "--host", hosts[0])
	}
	line = append(line, path)
	for _, a := range rest {
		line = append(line, shellQuote(a))
	}
	s := strings.Join(line, " ")
	if len(hosts) > 1 {
		s += " (or --host " + strings.Join(hosts[1:], ", --host ") + ")"
	}
	return s
}

// notApplied fails, with the apply to run, when host's state key of lab
// has no record here (sl is what this machine holds of lab); commands
// that need the lab applied (test, status, exec) call it after
// checkSlices.
func notApplied(sl reconcile.Slices, lab *compose.Lab, host, path string) error {
	if sl.Has(host) {
		return nil
	}
	key := compose.StateKey(lab.Name, host)
	switch {
	case !sl.MultiHost():
		return fmt.Errorf("lab %s is not applied on this machine: run netcompose apply %s", key, path)
	case host != "":
		return fmt.Errorf("lab %s is not applied on this machine (lab %s: %s): run netcompose apply --host %s %s",
			key, lab.Name, sl.Where(), host, path)
	}
	return fmt.Errorf("lab %s is not applied on this machine: it spans hosts %s; run netcompose apply --host HOST %s on each host's machine "+
		"(or netcompose apply %s to build all of it here)", key, strings.Join(sl.Hosts, ", "), path, path)
}

// checkNode refuses command (exec) on a node of a multi-host lab that is
// not in the slice asked for (host, or the whole lab when "" while only
// slices are applied here), naming the node's host and, when its slice is
// applied here, the command to run.
func checkNode(command string, lab *compose.Lab, host, node, path string, rest []string) error {
	if len(lab.Hosts) == 0 {
		return nil
	}
	sl, err := reconcile.SlicesOf(lab.Name, reconcile.HostNames(lab))
	if err != nil {
		return err
	}
	on := lab.HostOf(node)
	var msg string
	switch {
	case host != "" && host != on:
		msg = fmt.Sprintf("lab %s: node %s is on host %s, not %s", lab.Name, node, on, host)
	case host == "" && !sl.Whole && len(sl.Applied) > 0:
		msg = fmt.Sprintf("lab %s spans hosts %s; slices applied on this machine: %s; node %s is on host %s",
			lab.Name, strings.Join(sl.Hosts, ", "), strings.Join(sl.Applied, ", "), node, on)
	default:
		return nil
	}
	if !sl.Has(on) {
		return fmt.Errorf("%s, whose slice is not applied on this machine (lab %s: %s)", msg, lab.Name, sl.Where())
	}
	return fmt.Errorf("%s; run: %s", msg, runLine(command, []string{on}, path, append([]string{node}, rest...)))
}

// noteWhole says, when a multi-host lab is about to be planned as a
// whole on this machine, that it is: each host's slice is --host.
func noteWhole(w io.Writer, sl reconcile.Slices, host string) {
	if !sl.MultiHost() || host != "" || sl.Whole {
		return
	}
	fmt.Fprintf(w, "note: lab %s spans hosts %s: without --host all of it is built on this machine, cross-host links as veth pairs "+
		"(--host NAME builds one machine's slice)\n", sl.Lab, strings.Join(sl.Hosts, ", "))
}

// shellQuote quotes a word for a shell when it needs it.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"$\\`;&|<>()*?[]#~{}") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
