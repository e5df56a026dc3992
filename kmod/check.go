package kmod

import (
	"context"
	"fmt"
	"strings"
)

// Source is how a piece of the kernel was found.
type Source string

const (
	Builtin   Source = "builtin"    // in modules.builtin, or built-in code listed in /sys/module
	Config    Source = "config"     // =y in the kernel config
	Loaded    Source = "loaded"     // a loaded module (/sys/module/NAME with initstate)
	LoadedNow Source = "loaded-now" // loaded by this check
	Probed    Source = "probed"     // nothing said so, but a real probe worked
)

// Checker decides which kernel features are present. Every place it looks
// is a field, so tests can point it at fake files and functions; System
// returns the one for the running kernel.
type Checker struct {
	// ModulesDir is /lib/modules/<release>; its modules.builtin lists the
	// built-in modules. "" skips it.
	ModulesDir string
	// ConfigFiles are kernel configs (.gz means gzip); the first that
	// exists is read.
	ConfigFiles []string
	// ConfigCache, if set, is a file that keeps the config read for the
	// boot BootID, so that later checks of that boot need not read it
	// again. "" (or no BootID) caches nothing.
	ConfigCache, BootID string
	// SysModule is /sys/module. "" skips it.
	SysModule string
	// Load loads a module with parameters. nil never loads.
	Load func(name, params string) error
	// Probe tries a feature for real (Need.Probe names it) and undoes what
	// it did. nil never probes.
	Probe func(ctx context.Context, name string) error
}

// Check is System().Check.
func Check(ctx context.Context, features []string, extra []Module) Report {
	return System().Check(ctx, features, extra)
}

// Check reports on each named feature and each extra module, loading what
// is loadable and probing what no file mentions. Modules of extra are
// loaded with their parameters, also when a feature needs them.
func (c *Checker) Check(ctx context.Context, features []string, extra []Module) Report {
	s := &session{c: c, ctx: ctx, facts: c.readFacts(),
		params: map[string]string{}, loads: map[string]error{}, probes: map[string]error{}}
	for _, m := range extra {
		if m.Params != "" {
			s.params[moduleName(m.Name)] = m.Params
		}
	}
	rep := Report{ConfigFrom: s.facts.configFrom, Notes: s.facts.notes}
	seen := map[string]bool{}
	for _, name := range features {
		if seen[name] {
			continue
		}
		seen[name] = true
		f, ok := Features[name]
		if !ok {
			rep.Results = append(rep.Results, Result{Name: name,
				Err: &MissingError{Feature: name, Unknown: true}})
			continue
		}
		rep.Results = append(rep.Results, s.feature(f))
	}
	for _, m := range extra {
		name := "kmod:" + moduleName(m.Name)
		if seen[name] {
			continue
		}
		seen[name] = true
		rep.Results = append(rep.Results, s.module(m))
	}
	return rep
}

// session is one Check: the files are read once, and each module is
// loaded and each probe run at most once.
type session struct {
	c      *Checker
	ctx    context.Context
	facts  facts
	params map[string]string // module -> parameters from [kmod:NAME]
	loads  map[string]error
	probes map[string]error
}

func (s *session) feature(f Feature) Result {
	r := Result{Name: f.Name, Why: f.Why}
	r.Needs, r.Present = s.needs(f.Needs)
	if r.Present || len(f.Else) == 0 {
		if !r.Present {
			r.Err = &MissingError{Feature: f.Name, Missing: missing(r.Needs)}
		}
		return r
	}
	alt, ok := s.needs(f.Else)
	if ok {
		r.Needs, r.Present = alt, true
		return r
	}
	r.Err = &MissingError{Feature: f.Name, Missing: missing(r.Needs), Else: missing(alt)}
	return r
}

func (s *session) module(m Module) Result {
	name := moduleName(m.Name)
	r := Result{Name: "kmod:" + name, Why: "[kmod:" + m.Name + "]", Optional: m.Optional}
	nr := s.need(Need{Module: name})
	r.Needs, r.Present = []NeedResult{nr}, nr.Err == nil
	if !r.Present {
		r.Err = &MissingError{Feature: r.Name, Missing: r.Needs}
		return r
	}
	if m.Params != "" && nr.Found != LoadedNow {
		r.Notes = append(r.Notes, fmt.Sprintf("parameters %q not applied: module %s was already present (%s)", m.Params, name, nr.Found))
	}
	return r
}

func (s *session) needs(ns []Need) ([]NeedResult, bool) {
	out := make([]NeedResult, 0, len(ns))
	ok := true
	for _, n := range ns {
		nr := s.need(n)
		ok = ok && nr.Err == nil
		out = append(out, nr)
	}
	return out, ok
}

// need looks for one piece in order: modules.builtin, the kernel config,
// /sys/module, loading it, probing it. It stops at the first that says
// yes; when none does, Err lists what each said.
func (s *session) need(n Need) NeedResult {
	nr := NeedResult{Need: n}
	var why []string
	var errs []error // from loading and probing, for errors.Is
	if n.Module != "" && s.facts.builtin[n.Module] {
		nr.Found = Builtin
		return nr
	}
	if n.Config != "" {
		switch v := s.facts.config.get(n.Config); v {
		case "y":
			nr.Found = Config
			return nr
		case "m":
			why = append(why, n.Config+"=m")
		case "n":
			why = append(why, n.Config+" is not set")
		case "":
			if s.facts.configFrom != "" {
				why = append(why, n.Config+" not in "+s.facts.configFrom)
			}
		default:
			why = append(why, n.Config+"="+v)
		}
	}
	if n.Module != "" {
		st, err := sysfsState(s.c.SysModule, n.Module)
		if st != "" {
			nr.Found = st
			return nr
		}
		if err != nil {
			why = append(why, fmt.Sprintf("sysfs: %v", err))
		} else {
			why = append(why, "not built in or loaded")
		}
		if s.c.Load != nil {
			err, done := s.loads[n.Module]
			if !done {
				err = s.c.Load(n.Module, s.params[n.Module])
				s.loads[n.Module] = err
			}
			if err == nil {
				nr.Found = LoadedNow
				return nr
			}
			why = append(why, fmt.Sprintf("load %s: %v", n.Module, err))
			errs = append(errs, err)
		}
	}
	if n.Probe != "" && s.c.Probe != nil {
		err, done := s.probes[n.Probe]
		if !done {
			if err = s.ctx.Err(); err == nil {
				err = s.c.Probe(s.ctx, n.Probe)
			}
			s.probes[n.Probe] = err
		}
		if err == nil {
			nr.Found = Probed
			return nr
		}
		why = append(why, fmt.Sprintf("probe %s: %v", n.Probe, err))
		errs = append(errs, err)
	}
	if len(why) == 0 {
		why = append(why, "nothing to check it with")
	}
	nr.Err = &reasons{msg: strings.Join(why, "; "), errs: errs}
	return nr
}

func missing(rs []NeedResult) []NeedResult {
	var out []NeedResult
	for _, r := range rs {
		if r.Err != nil {
			out = append(out, r)
		}
	}
	return out
}
