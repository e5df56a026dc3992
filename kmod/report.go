package kmod

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Report is the outcome of a Check: one Result per feature, then one per
// extra module, in the order asked.
type Report struct {
	Results    []Result
	ConfigFrom string   // the kernel config that was read, "" if none was found
	Notes      []string // files that exist but could not be read
}

// Result is one feature or [kmod:NAME] module.
type Result struct {
	Name     string // feature name, or "kmod:NAME"
	Why      string // what netcompose needs it for
	Optional bool
	Present  bool
	// Needs are the pieces that decided: the feature's Needs, or its Else
	// when that is what satisfied it.
	Needs []NeedResult
	Err   error    // a *MissingError when not Present
	Notes []string // things worth saying even though it is present
}

// NeedResult is one piece of the kernel and how it was found.
type NeedResult struct {
	Need
	Found Source // "" when missing
	Err   error  // what each way of finding it said, when missing
}

// Found says how the result was found: the sources of its pieces, joined
// with "+" when they differ ("config+probed"); "" when missing.
func (r Result) Found() string {
	if !r.Present {
		return ""
	}
	var out []string
	for _, n := range r.Needs {
		if n.Found != "" && !contains(out, string(n.Found)) {
			out = append(out, string(n.Found))
		}
	}
	return strings.Join(out, "+")
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// Err is nil when every required feature and module is present, else every
// missing one, joined (each a *MissingError). Missing optional modules are
// Warnings, not errors.
func (r Report) Err() error {
	var errs []error
	for _, res := range r.Results {
		if !res.Present && !res.Optional {
			errs = append(errs, res.Err)
		}
	}
	return errors.Join(errs...)
}

// Warnings are the missing optional modules and anything else worth saying.
func (r Report) Warnings() []string {
	var out []string
	for _, res := range r.Results {
		if !res.Present && res.Optional {
			out = append(out, "optional "+res.Err.Error())
		}
		for _, n := range res.Notes {
			out = append(out, res.Name+": "+n)
		}
	}
	return append(out, r.Notes...)
}

// Write prints the report as a table for `netcompose doctor`, then what is
// missing and the warnings.
func (r Report) Write(w io.Writer) {
	if r.ConfigFrom != "" {
		fmt.Fprintf(w, "kernel config: %s\n", r.ConfigFrom)
	} else {
		fmt.Fprintf(w, "kernel config: none found, probing instead\n")
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "FEATURE\tSTATUS\tFOUND\tFOR\tNEEDS")
	for _, res := range r.Results {
		status, found := "ok", res.Found()
		switch {
		case !res.Present && res.Optional:
			status, found = "warning", "-"
		case !res.Present:
			status, found = "MISSING", "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", res.Name, status, found, res.Why, needList(res.Needs))
	}
	tw.Flush()
	if err := r.Err(); err != nil {
		fmt.Fprintln(w, "\nmissing:")
		for _, res := range r.Results {
			if !res.Present && !res.Optional {
				fmt.Fprintf(w, "  %v\n", res.Err)
			}
		}
	}
	if ws := r.Warnings(); len(ws) > 0 {
		fmt.Fprintln(w, "\nwarnings:")
		for _, s := range ws {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
}

func needList(ns []NeedResult) string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Need.String())
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, ", ")
}

// String names the piece: "CONFIG_VETH (veth)", "CONFIG_NET_NS", "veth".
func (n Need) String() string {
	switch {
	case n.Config != "" && n.Module != "":
		return n.Config + " (" + n.Module + ")"
	case n.Config != "":
		return n.Config
	case n.Module != "":
		return n.Module
	}
	return n.What
}

// MissingError is a feature or module the kernel does not have.
type MissingError struct {
	Feature string       // "veth", or "kmod:NAME"
	Unknown bool         // the feature name is not in Features
	Missing []NeedResult // the pieces that are missing
	Else    []NeedResult // and those of the alternative, when there is one
}

func (e *MissingError) Error() string {
	if e.Unknown {
		return fmt.Sprintf("kernel feature %q: unknown (known: %s)", e.Feature, strings.Join(Known(), ", "))
	}
	what := "kernel feature " + e.Feature
	if m, ok := strings.CutPrefix(e.Feature, "kmod:"); ok {
		what = "kernel module " + m
	}
	s := what + " is missing: " + pieces(e.Missing)
	if len(e.Else) > 0 {
		s += "; nor " + pieces(e.Else)
	}
	return s
}

func pieces(ns []NeedResult) string {
	var out []string
	for _, n := range ns {
		p := n.Need.String()
		if n.Config != "" && n.Module != "" {
			p = n.Config + " (module " + n.Module + ")"
		} else if n.Config == "" && n.Module != "" {
			p = "module " + n.Module
		}
		out = append(out, p+": "+n.Err.Error())
	}
	return strings.Join(out, ", and ")
}

// Unwrap gives the errors from loading and probing, so callers can test
// errors.Is(err, kmod.ErrModuleNotFound) and the like.
func (e *MissingError) Unwrap() []error {
	var out []error
	for _, ns := range [][]NeedResult{e.Missing, e.Else} {
		for _, n := range ns {
			if n.Err != nil {
				out = append(out, n.Err)
			}
		}
	}
	return out
}

// reasons is what each way of finding a piece said, with the underlying
// errors kept for errors.Is.
type reasons struct {
	msg  string
	errs []error
}

func (r *reasons) Error() string   { return r.msg }
func (r *reasons) Unwrap() []error { return r.errs }
