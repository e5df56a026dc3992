package loader

import (
	"errors"
	"fmt"
	"maps"
	"slices"
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
	// partial is set when a problem was found (or met again) while
	// resolving the current top-level section.
	partial bool
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
	// globals is PasteDeploy's global_conf for the section as its
	// factory would get it: the globals handed down, those of the
	// templates it reaches, and every set, the using section's winning.
	globals map[string]string
	use     string // builtin:KIND, when the chain ends in one
}

func (l *loader) report(f *rawFile, line int, section string, err error) {
	l.partial = true
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
// file, and fill for the names it lacks (ConfigLoader.update_defaults with
// overwrite=False): for a file reached through use = config:..., the
// globals of the using section; for the top-level file, the caller's
// globals (PasteDeploy's global_conf of loadapp). A same-file use stays in
// its scope.
type scope struct {
	f    *rawFile
	defs map[string]string
	bad  map[string]bool // [DEFAULT] keys that failed to resolve (reported)
	// caller holds the caller's globals, in the top-level scope only.
	caller map[string]*Value
}

// site is where a scope's fill comes from: the use line that reached the
// file.
type site struct {
	f       *rawFile
	line    int
	section string
	use     string
}

func (l *loader) scope(f *rawFile, fill map[string]string, caller map[string]*Value, at *site) *scope {
	defs := make(map[string]string, len(f.defaults.opts.vals)+2+len(fill))
	bad := map[string]bool{}
	ip := l.newInterp(func(name string) (entry, bool) {
		if bad[name] {
			return entry{broken: true}, true
		}
		if o, ok := f.defaults.opts.lookup(name); ok {
			return entry{raw: o.value, hidden: caller[name]}, true
		}
		switch name {
		case "here":
			return entry{raw: f.dir, literal: true}, true
		case "__file__":
			return entry{raw: f.abs, literal: true}, true
		}
		// Filled values are interpolated again, as ConfigParser does
		// with whatever is in its defaults: a "%%" that resolved to "%"
		// in the using file is a "%" here.
		v, ok := fill[name]
		return entry{raw: v}, ok
	})
	for _, o := range f.defaults.opts.vals {
		v, err := ip.option(o.key)
		if err != nil {
			l.report(f, o.lineOf(err), "DEFAULT", fmt.Errorf("%s: %w", o.key, err))
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
	for _, k := range slices.Sorted(maps.Keys(fill)) {
		if _, ok := defs[k]; ok || bad[k] || k == "here" || k == "__file__" {
			continue
		}
		raw := fill[k]
		v, err := ip.option(k)
		if err != nil {
			// NicerConfigParser.defaults interpolates every default, so
			// PasteDeploy fails on such a value even if nothing reads it.
			if at != nil {
				l.report(at.f, at.line, at.section, fmt.Errorf("use = %s: the global %s = %q is interpolated again in %s, as PasteDeploy does: %w", at.use, k, raw, f.path, err))
			}
			bad[k] = true
			continue
		}
		defs[k] = v
	}
	defs["here"] = f.dir
	defs["__file__"] = f.abs
	return &scope{f: f, defs: defs, bad: bad, caller: caller}
}

// resolve is PasteDeploy's ConfigLoader.get_context for section s of f,
// with outer the global_conf handed down by a using section (at the top
// level, the caller's globals), plus the checks where PasteDeploy silently
// goes wrong.
func (l *loader) resolve(sc *scope, s *rawSection, outer map[string]string, chain []link) *result {
	if s.partial {
		l.partial = true
	}
	if l.keys += len(s.opts.vals); l.keys > maxKeys {
		l.report(sc.f, s.line, s.id, fmt.Errorf("the lab resolves to more than %d keys", maxKeys))
		return &result{globals: maps.Clone(sc.defs)}
	}
	sv := l.sectionValues(sc, s)
	gc := globalConf(sc.defs, outer, sv.sets)
	l.readGets(sc, s, gc, &sv)
	return l.follow(sc, s, sv, gc, chain)
}

// sectionValues is a section's options, interpolated: its plain values
// and what its "set NAME = ..." and "get NAME = GLOBAL" lines say.
type sectionValues struct {
	local ordered[Value] // local_conf in PasteDeploy's terms
	sets  ordered[Value] // by the global's name
	gets  []getLine
}

// getLine is one "get key = global" line of a section.
type getLine struct {
	key, global string
	line        int
}

// sectionValues interpolates the options of section s in scope sc and
// sorts them into plain values, sets and gets, reporting those that fail
// and the plain keys PasteDeploy would ignore as globals.
func (l *loader) sectionValues(sc *scope, s *rawSection) sectionValues {
	ip := l.sectionInterp(sc, s)
	var sv sectionValues
	for _, o := range s.opts.vals {
		v, err := ip.option(o.key)
		if err != nil {
			l.report(sc.f, o.lineOf(err), s.id, fmt.Errorf("%s: %w", o.key, err))
			continue
		}
		pos := Pos{File: sc.f.path, Line: o.line}
		switch {
		case strings.HasPrefix(o.key, "set "), strings.HasPrefix(o.key, "get "):
			name := pyTrim(o.key[4:])
			if name == "" {
				l.report(sc.f, o.line, s.id, fmt.Errorf("%q names no global", o.key))
				continue
			}
			if o.key[0] == 's' {
				sv.sets.put(Value{Key: name, Value: v, Pos: pos})
			} else {
				sv.gets = append(sv.gets, getLine{key: name, global: v, line: o.line})
			}
		default:
			if _, ok := sc.defs[o.key]; ok {
				l.report(sc.f, o.line, s.id, sc.shadowed(o.key, o.value))
				continue
			}
			sv.local.put(Value{Key: o.key, Value: v, Pos: pos, Lines: o.linesOf(sc.f.path, v)})
		}
	}
	return sv
}

// sectionInterp interpolates the options of section s: a name is the
// section's own key first, then one of the scope's globals (already
// resolved). Reading a [DEFAULT] key that hides a caller's global of the
// same name is checked as the scope's own interpolation does.
func (l *loader) sectionInterp(sc *scope, s *rawSection) *interp {
	return l.newInterp(func(name string) (entry, bool) {
		if o, ok := s.opts.lookup(name); ok {
			return entry{raw: o.value}, true
		}
		if sc.bad[name] {
			return entry{broken: true}, true
		}
		v, ok := sc.defs[name]
		e := entry{raw: v, literal: true}
		if _, own := sc.f.defaults.opts.lookup(name); own {
			e.hidden = sc.caller[name]
		}
		return e, ok
	})
}

// globalConf is PasteDeploy's global_conf, which get reads and a template
// is handed: this file's [DEFAULT] (defs), overridden by the global_conf
// the using section hands down (ConfigLoader.get_context:
// defaults.copy().update(global_conf)), then by this section's sets.
// Interpolation is another matter: it reads this file's own [DEFAULT]
// first (update_defaults without overwrite).
func globalConf(defs, outer map[string]string, sets ordered[Value]) map[string]string {
	gc := maps.Clone(defs)
	for k, v := range outer {
		gc[k] = v
	}
	for _, v := range sets.vals {
		gc[v.Key] = v.Value
	}
	return gc
}

// readGets adds to sv's values what its gets read from the global_conf
// gc, reporting a global that does not exist (unless it failed to
// resolve, which was reported where it is).
func (l *loader) readGets(sc *scope, s *rawSection, gc map[string]string, sv *sectionValues) {
	for _, g := range sv.gets {
		v, ok := gc[g.global]
		if !ok {
			if !sc.bad[g.global] {
				l.report(sc.f, g.line, s.id, fmt.Errorf("get %s = %s: no global %q", g.key, g.global, g.global))
			} else {
				l.partial = true
			}
			continue
		}
		sv.local.put(Value{Key: g.key, Value: v, Pos: Pos{File: sc.f.path, Line: g.line}})
	}
}

// follow ends the resolution of section s: without a use, its values and
// gc are the result; with one, the template's result under s's values.
func (l *loader) follow(sc *scope, s *rawSection, sv sectionValues, gc map[string]string, chain []link) *result {
	use, ok := sv.local.take("use")
	if !ok {
		return &result{values: sv.local, globals: gc}
	}
	if s.typ == "pipeline" {
		// PasteDeploy's _pipeline_app_context never looks at use.
		l.report(sc.f, use.Pos.Line, s.id, errors.New("a pipeline takes no use (PasteDeploy would refuse it as an extra setting); list the stages in pipeline ="))
		return &result{values: sv.local, globals: gc}
	}
	inner := l.use(sc, s, use, gc, chain)
	if inner == nil {
		return &result{values: sv.local, globals: gc}
	}
	inner.extend(sv, gc)
	return inner
}

// extend lays the using section's values sv, with its global_conf gc,
// over r, the result of its template.
func (r *result) extend(sv sectionValues, gc map[string]string) {
	if r.globals == nil {
		r.globals = gc // builtin: ends the chain here
	} else {
		// ConfigLoader._context_from_use: the template's global_conf,
		// updated with this section's sets, keeping this file's __file__.
		for _, v := range sv.sets.vals {
			r.globals[v.Key] = v.Value
		}
		r.globals["__file__"] = gc["__file__"]
	}
	for _, v := range sv.local.vals {
		r.values.put(v)
	}
}

// shadowed is the error for a plain key that is also a global of sc:
// one of its file's [DEFAULT], one the caller gave, or one the file using
// this template hands down.
func (sc *scope) shadowed(key, raw string) error {
	v := raw
	if v == "" || strings.ContainsRune(v, '\n') || len(v) > 40 {
		v = "v"
	}
	_, own := sc.f.defaults.opts.lookup(key)
	switch {
	case key == "here" || key == "__file__":
		return fmt.Errorf("%q is a global set by the loader, and PasteDeploy silently ignores it in a section; use \"set %s = %s\" to override it, or choose another name", key, key, v)
	case own:
		return fmt.Errorf("%q is also a [DEFAULT] key, and PasteDeploy silently ignores it in a section; use \"set %s = %s\" to override [DEFAULT]", key, key, v)
	case sc.caller[key] != nil:
		return fmt.Errorf("%q is also a global given from outside (%s), and PasteDeploy silently ignores it in a section; use \"set %s = %s\" to override it, or choose another name", key, callerName(sc.caller[key]), key, v)
	}
	return fmt.Errorf("%q is a global of the file using this template, and PasteDeploy silently ignores it here; use \"set %s = %s\" to override it, or choose another name", key, key, v)
}
