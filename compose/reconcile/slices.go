package reconcile

import (
	"fmt"
	"slices"
	"strings"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/compose/kernel"
)

// Slices is what of a lab has a state record on this machine: the whole
// lab (applied without --host), and the slices of the hosts applied with
// --host (compose.StateKey "<lab>@<host>"; one machine holds several when
// it simulates hosts). A command about a multi-host lab looks here before
// it plans: without it, `diff FILE` on a machine that holds `vx@m1` plans
// the whole lab from scratch, and `destroy --lab vx` finds nothing.
type Slices struct {
	Lab string `json:"lab"`
	// Hosts are the file's [host:] sections, in file order (none without
	// a file: destroy --lab).
	Hosts []string `json:"hosts,omitempty"`
	// Whole is set when the lab itself (no host) has a record here.
	Whole bool `json:"whole"`
	// Applied are the hosts whose slice has a record here: the file's
	// order, then hosts the file no longer names, by name.
	Applied []string `json:"applied,omitempty"`
}

// SlicesOf reads which of lab's state keys have a record on this machine;
// hosts are the file's [host:] names (nil when there is no file).
func SlicesOf(lab string, hosts []string) (Slices, error) {
	s := Slices{Lab: lab, Hosts: hosts}
	keys, err := kernel.Keys()
	if err != nil {
		return s, err
	}
	var others []string
	for _, key := range keys {
		name, host := compose.SplitStateKey(key)
		switch {
		case name != lab:
		case host == "":
			s.Whole = true
		case slices.Contains(hosts, host):
		default:
			others = append(others, host)
		}
	}
	for _, h := range hosts {
		if slices.Contains(keys, compose.StateKey(lab, h)) {
			s.Applied = append(s.Applied, h)
		}
	}
	slices.Sort(others)
	s.Applied = append(s.Applied, others...)
	return s, nil
}

// HostNames lists the lab's [host:] sections by name, in file order.
func HostNames(lab *compose.Lab) []string {
	var out []string
	for _, h := range lab.Hosts {
		out = append(out, h.Name)
	}
	return out
}

// MultiHost reports whether the lab has [host:] sections.
func (s Slices) MultiHost() bool { return len(s.Hosts) > 0 }

// Keys are the state keys with a record here: the whole lab's first.
func (s Slices) Keys() []string {
	var keys []string
	if s.Whole {
		keys = append(keys, s.Lab)
	}
	for _, h := range s.Applied {
		keys = append(keys, compose.StateKey(s.Lab, h))
	}
	return keys
}

// Has reports whether the state key for host ("" for the whole lab) has a
// record here.
func (s Slices) Has(host string) bool {
	if host == "" {
		return s.Whole
	}
	return slices.Contains(s.Applied, host)
}

// Check refuses to work on host's key ("" for the whole lab) when this
// machine holds the lab in another shape: the whole lab asked for while
// host slices are applied here, or a slice while the whole lab is. Either
// way the plan would be made against the wrong state record, and would
// create what is already there. It returns a *SliceError.
func (s Slices) Check(host string) error {
	switch {
	case !s.MultiHost():
		return nil
	case host == "" && len(s.Applied) > 0 && !s.Whole:
		return &SliceError{Slices: s, Host: host, Use: s.Applied}
	case host != "" && s.Whole && !s.Has(host):
		return &SliceError{Slices: s, Host: host, Use: []string{""}}
	}
	return nil
}

// SliceError is a command about a multi-host lab that names a shape of
// it (whole, or one host's slice) this machine does not hold, while it
// holds another.
type SliceError struct {
	Slices
	Host string // the --host given, "" for none
	// Use are the --host values that work here ("" for none), the first
	// one best.
	Use []string
}

func (e *SliceError) Error() string {
	if e.Host != "" {
		return fmt.Sprintf("lab %s is applied on this machine as a whole (without --host), not as host %s's slice", e.Lab, e.Host)
	}
	return fmt.Sprintf("lab %s spans hosts %s; slices applied on this machine: %s",
		e.Lab, strings.Join(e.Hosts, ", "), strings.Join(e.Applied, ", "))
}

// Where says what of the lab this machine holds, for messages: "slices
// applied on this machine: m1, m3", "nothing of it is applied on this
// machine".
func (s Slices) Where() string {
	var parts []string
	if s.Whole {
		parts = append(parts, "the whole lab is applied on this machine")
	}
	if len(s.Applied) > 0 {
		parts = append(parts, "slices applied on this machine: "+strings.Join(s.Applied, ", "))
	}
	if len(parts) == 0 {
		return "nothing of it is applied on this machine"
	}
	return strings.Join(parts, "; ")
}
