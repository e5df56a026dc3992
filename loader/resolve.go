package loader

import (
	"errors"
	"fmt"
	"strings"
)

// loader resolves one top-level file and the files it reaches through
// use = config:....
type loader struct {
	read  func(path string) ([]byte, error)
	files map[string]*rawFile // by absolute path; nil value: unreadable
	errs  []error             // each one an *Error
	seen  map[string]bool     // reported error texts, so each is reported once
	// budget is how many bytes interpolation may still produce in this
	// load, so that nested references cannot blow up time or memory.
	budget int
	// keys counts the values resolved so far: use = BIG in many sections
	// multiplies them, so the count is bounded by maxKeys.
	keys int
}

// maxKeys bounds the values one load resolves (in all its sections) and
// the keys a YAML file may expand to through aliases.
const maxKeys = 1 << 18

// link is one section on the current use chain.
type link struct {
	f *rawFile
	s *rawSection
}

// result is a section resolved through its use chain.
type result struct {
	values ordered[Value] // local_conf in PasteDeploy's terms
	sets   ordered[Value] // global overrides from set, the using section's winning
	use    string         // builtin:KIND, when the chain ends in one
}

func (l *loader) report(f *rawFile, line int, section string, err error) {
	if errors.Is(err, errBroken) {
		return
	}
	e := &Error{Pos: Pos{File: f.path, Line: line}, Section: section, Err: err}
	key := e.Error()
	if l.seen[key] {
		return
	}
	l.seen[key] = true
	l.errs = append(l.errs, e)
}

// scope is one loaded instance of a file, as a PasteDeploy ConfigLoader
// is: its [DEFAULT] resolved as NicerConfigParser.defaults does, each
// value interpolated against [DEFAULT] itself plus here and __file__ of the
// file. A file reached through use = config:... is a fresh instance whose
// [DEFAULT] is filled with the using section's globals for the names it
// lacks (ConfigLoader.update_defaults with overwrite=False); those are
// taken as already resolved. A same-file use stays in its scope.
type scope struct {
	f    *rawFile
	defs map[string]string
	bad  map[string]bool // [DEFAULT] keys that failed to resolve (reported)
}

func (l *loader) scope(f *rawFile, fill map[string]string) *scope {
	if fill == nil && f.top != nil {
		return f.top
	}
	defs := make(map[string]string, len(f.defaults.opts.vals)+2+len(fill))
	bad := map[string]bool{}
	ip := l.newInterp(func(name string) (entry, bool) {
		if bad[name] {
			return entry{broken: true}, true
		}
		if o, ok := f.defaults.opts.lookup(name); ok {
			return entry{raw: o.value}, true
		}
		switch name {
		case "here":
			return entry{raw: f.dir, literal: true}, true
		case "__file__":
			return entry{raw: f.abs, literal: true}, true
		}
		v, ok := fill[name]
		return entry{raw: v, literal: true}, ok
	})
	for _, o := range f.defaults.opts.vals {
		v, err := ip.option(o.key)
		if err != nil {
			l.report(f, o.line, "DEFAULT", fmt.Errorf("%s: %w", o.key, err))
			bad[o.key] = true
			continue
		}
		if v == "" && o.value != "" {
			// NicerConfigParser.defaults keeps `get(...) or raw`, so an
			// empty result silently turns back into the raw text.
			l.report(f, o.line, "DEFAULT", fmt.Errorf("%s: %q resolves to an empty value, which PasteDeploy replaces with the raw text; write %s = (empty) instead", o.key, o.value, o.key))
		}
		defs[o.key] = v
	}
	for k, v := range fill {
		if _, ok := defs[k]; !ok && !bad[k] {
			defs[k] = v
		}
	}
	defs["here"] = f.dir
	defs["__file__"] = f.abs
	sc := &scope{f: f, defs: defs, bad: bad}
	if fill == nil {
		f.top = sc
	}
	return sc
}

// resolve is PasteDeploy's ConfigLoader.get_context for section s of f,
// with outer the global_conf handed down by a using section (nil at the
// top level), plus the checks where PasteDeploy silently goes wrong.
func (l *loader) resolve(sc *scope, s *rawSection, outer map[string]string, chain []link) *result {
	f, defs, bad := sc.f, sc.defs, sc.bad
	if l.keys += len(s.opts.vals); l.keys > maxKeys {
		l.report(f, s.line, s.id, fmt.Errorf("the lab resolves to more than %d keys", maxKeys))
		return &result{}
	}
	ip := l.newInterp(func(name string) (entry, bool) {
		if o, ok := s.opts.lookup(name); ok {
			return entry{raw: o.value}, true
		}
		if bad[name] {
			return entry{broken: true}, true
		}
		v, ok := defs[name]
		return entry{raw: v, literal: true}, ok
	})
	res := &result{}
	var local ordered[Value]
	type get struct {
		key, global string
		line        int
	}
	var gets []get
	for _, o := range s.opts.vals {
		v, err := ip.option(o.key)
		if err != nil {
			l.report(f, o.line, s.id, fmt.Errorf("%s: %w", o.key, err))
			continue
		}
		pos := Pos{File: f.path, Line: o.line}
		switch {
		case strings.HasPrefix(o.key, "set "), strings.HasPrefix(o.key, "get "):
			name := pyTrim(o.key[4:])
			if name == "" {
				l.report(f, o.line, s.id, fmt.Errorf("%q names no global", o.key))
				continue
			}
			if o.key[0] == 's' {
				res.sets.put(Value{Key: name, Value: v, Pos: pos})
			} else {
				gets = append(gets, get{key: name, global: v, line: o.line})
			}
		default:
			if _, ok := defs[o.key]; ok {
				_, own := f.defaults.opts.lookup(o.key)
				l.report(f, o.line, s.id, shadowed(o.key, o.value, own))
				continue
			}
			local.put(Value{Key: o.key, Value: v, Pos: pos})
		}
	}
	// PasteDeploy's global_conf, which get reads: this file's [DEFAULT],
	// overridden by the global_conf the using section hands down
	// (ConfigLoader.get_context: defaults.copy().update(global_conf)), then
	// by this section's sets. Interpolation is another matter: it reads
	// this file's own [DEFAULT] first (update_defaults without overwrite).
	global := func(name string) (string, bool) {
		if v, ok := res.sets.lookup(name); ok {
			return v.Value, true
		}
		if v, ok := outer[name]; ok {
			return v, true
		}
		v, ok := defs[name]
		return v, ok
	}
	for _, g := range gets {
		v, ok := global(g.global)
		if !ok {
			if !bad[g.global] {
				l.report(f, g.line, s.id, fmt.Errorf("get %s = %s: no global %q", g.key, g.global, g.global))
			}
			continue
		}
		local.put(Value{Key: g.key, Value: v, Pos: Pos{File: f.path, Line: g.line}})
	}
	use, ok := local.take("use")
	if !ok {
		res.values = local
		return res
	}
	if s.typ == "pipeline" {
		// PasteDeploy's _pipeline_app_context never looks at use.
		l.report(f, use.Pos.Line, s.id, errors.New("a pipeline takes no use (PasteDeploy would refuse it as an extra setting); list the stages in pipeline ="))
		res.values = local
		return res
	}
	gc := make(map[string]string, len(outer)+len(defs)+len(res.sets.vals))
	for k, v := range outer {
		gc[k] = v
	}
	for k, v := range defs {
		gc[k] = v
	}
	for _, v := range res.sets.vals {
		gc[v.Key] = v.Value
	}
	inner := l.use(sc, s, use, gc, chain)
	if inner == nil {
		res.values = local
		return res
	}
	for _, v := range local.vals {
		inner.values.put(v)
	}
	for _, v := range res.sets.vals {
		inner.sets.put(v)
	}
	return inner
}

// shadowed is the error for a plain key that is also a global; own tells
// whether the global is in this file's [DEFAULT] (else a template file
// got it from the file that uses it).
func shadowed(key, raw string, own bool) error {
	v := raw
	if v == "" || strings.ContainsRune(v, '\n') || len(v) > 40 {
		v = "v"
	}
	switch {
	case key == "here" || key == "__file__":
		return fmt.Errorf("%q is a global set by the loader, and PasteDeploy silently ignores it in a section; use \"set %s = %s\" to override it, or choose another name", key, key, v)
	case !own:
		return fmt.Errorf("%q is a global of the file using this template, and PasteDeploy silently ignores it here; use \"set %s = %s\" to override it, or choose another name", key, key, v)
	}
	return fmt.Errorf("%q is also a [DEFAULT] key, and PasteDeploy silently ignores it in a section; use \"set %s = %s\" to override [DEFAULT]", key, key, v)
}
