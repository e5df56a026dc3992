package loader

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"regexp"
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

// ordered is a list of values keyed by name that keeps the first position
// of a key when a later definition replaces it (Python dict update order).
type ordered struct {
	vals  []Value
	index map[string]int
}

// smallOrdered is the size up to which ordered scans instead of indexing:
// most sections have a handful of keys.
const smallOrdered = 8

func (o *ordered) find(key string) (int, bool) {
	if o.index == nil {
		for i := range o.vals {
			if o.vals[i].Key == key {
				return i, true
			}
		}
		return 0, false
	}
	i, ok := o.index[key]
	return i, ok
}

func (o *ordered) put(v Value) {
	if i, ok := o.find(v.Key); ok {
		o.vals[i] = v
		return
	}
	o.vals = append(o.vals, v)
	switch {
	case o.index != nil:
		o.index[v.Key] = len(o.vals) - 1
	case len(o.vals) > smallOrdered:
		o.index = make(map[string]int, 2*len(o.vals))
		for i := range o.vals {
			o.index[o.vals[i].Key] = i
		}
	}
}

func (o *ordered) lookup(key string) (Value, bool) {
	if i, ok := o.find(key); ok {
		return o.vals[i], true
	}
	return Value{}, false
}

func (o *ordered) take(key string) (Value, bool) {
	i, ok := o.find(key)
	if !ok {
		return Value{}, false
	}
	v := o.vals[i]
	o.vals = append(o.vals[:i:i], o.vals[i+1:]...)
	if o.index != nil {
		delete(o.index, key)
		for j := i; j < len(o.vals); j++ {
			o.index[o.vals[j].Key] = j
		}
	}
	return v, true
}

func (o *ordered) has(key string) bool { _, ok := o.find(key); return ok }

// result is a section resolved through its use chain.
type result struct {
	values ordered // local_conf in PasteDeploy's terms
	sets   ordered // global overrides from set, the using section's winning
	use    string  // builtin:KIND, when the chain ends in one
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
	defs := make(map[string]string, len(f.defaults.opts)+2+len(fill))
	bad := map[string]bool{}
	ip := l.newInterp(func(name string) (entry, bool) {
		if bad[name] {
			return entry{broken: true}, true
		}
		if o, ok := f.defaults.lookup(name); ok {
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
	for _, o := range f.defaults.opts {
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
	if l.keys += len(s.opts); l.keys > maxKeys {
		l.report(f, s.line, s.id, fmt.Errorf("the lab resolves to more than %d keys", maxKeys))
		return &result{}
	}
	ip := l.newInterp(func(name string) (entry, bool) {
		if o, ok := s.lookup(name); ok {
			return entry{raw: o.value}, true
		}
		if bad[name] {
			return entry{broken: true}, true
		}
		v, ok := defs[name]
		return entry{raw: v, literal: true}, ok
	})
	res := &result{}
	var local ordered
	type get struct {
		key, global string
		line        int
	}
	var gets []get
	for _, o := range s.opts {
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
				_, own := f.defaults.lookup(o.key)
				l.report(f, o.line, s.id, shadowed(o.key, o.value, own))
				continue
			}
			local.put(Value{Key: o.key, Value: v, Pos: pos})
		}
	}
	// PasteDeploy's global_conf: the using section's, then this file's
	// [DEFAULT], then this section's sets.
	global := func(name string) (string, bool) {
		if v, ok := res.sets.lookup(name); ok {
			return v.Value, true
		}
		if v, ok := defs[name]; ok {
			return v, true
		}
		v, ok := outer[name]
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
		if ov, ok := outer[g.global]; ok && ov != v && !res.sets.has(g.global) && g.global != "here" && g.global != "__file__" {
			user := chain[len(chain)-1].s.id
			l.report(f, g.line, s.id, fmt.Errorf("get %s = %s: PasteDeploy reads %s = %q from [DEFAULT] of %s here, not %q as [%s] sees it; move the get into [%s]", g.key, g.global, g.global, v, f.path, ov, user, user))
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

// maxUseDepth bounds a use chain. PasteDeploy recurses once per link and
// hits Python's recursion limit long before; the bound keeps a load linear
// in the size of the file.
const maxUseDepth = 100

var schemeRE = regexp.MustCompile(`^[a-zA-Z]+:`)

// use follows use = VALUE of section s in f: builtin:KIND ends the chain,
// config:PATH#NAME continues in another file, any other value names a
// section of the same type in f.
func (l *loader) use(sc *scope, s *rawSection, use Value, gc map[string]string, chain []link) *result {
	f, line := sc.f, use.Pos.Line
	f2, name := f, use.Value
	if schemeRE.MatchString(use.Value) {
		scheme, rest, _ := strings.Cut(use.Value, ":")
		switch strings.ToLower(scheme) {
		case "builtin":
			if rest == "" {
				l.report(f, line, s.id, fmt.Errorf("use = %s: builtin: needs a kind", use.Value))
				return nil
			}
			return &result{use: "builtin:" + rest}
		case "config":
			p, n, found := strings.Cut(rest, "#")
			name = "main"
			if found {
				name = n
			}
			if u, err := url.PathUnescape(p); err == nil {
				p = u
			}
			p = pyTrim(strings.ReplaceAll(p, "\\", "/"))
			if p == "" {
				l.report(f, line, s.id, fmt.Errorf("use = %s: config: needs a file", use.Value))
				return nil
			}
			f2 = l.include(f, p, line, s.id, use.Value)
			if f2 == nil {
				return nil
			}
		default:
			l.report(f, line, s.id, fmt.Errorf("use = %s: unknown scheme %q (want a section name, config:PATH#NAME or builtin:KIND)", use.Value, scheme))
			return nil
		}
	}
	if name == "" {
		l.report(f, line, s.id, errors.New("use is empty"))
		return nil
	}
	s2 := f2.byID[s.typ+":"+name]
	if s2 == nil {
		l.report(f, line, s.id, fmt.Errorf("use = %s: no section [%s:%s] in %s", use.Value, s.typ, name, f2.path))
		return nil
	}
	chain = append(chain, link{f, s})
	for i, c := range chain {
		if c.f == f2 && c.s == s2 {
			l.cycle(chain[i:])
			return nil
		}
	}
	if len(chain) >= maxUseDepth {
		l.report(f, line, s.id, fmt.Errorf("use = %s: more than %d sections deep", use.Value, maxUseDepth))
		return nil
	}
	if f2 != f {
		sc = l.scope(f2, gc)
	}
	return l.resolve(sc, s2, gc, chain)
}

// cycle reports a use cycle once, at the use line of its first section in
// file order, whichever section the resolution started from.
func (l *loader) cycle(nodes []link) {
	first := 0
	for i, n := range nodes {
		a, b := n, nodes[first]
		if a.f.abs < b.f.abs || (a.f.abs == b.f.abs && a.s.line < b.s.line) {
			first = i
		}
	}
	start := nodes[first]
	var b strings.Builder
	b.WriteString("use cycle: ")
	for i := range len(nodes) + 1 {
		n := nodes[(first+i)%len(nodes)]
		if i > 0 {
			b.WriteString(" -> ")
		}
		b.WriteString("[" + n.s.id + "]")
		if n.f != start.f {
			b.WriteString(" (" + n.f.path + ")")
		}
	}
	o, _ := start.s.lookup("use")
	l.report(start.f, o.line, start.s.id, errors.New(b.String()))
}

// include loads the file a use = config:PATH names, relative to f.
func (l *loader) include(f *rawFile, p string, line int, section, use string) *rawFile {
	shown, abs := p, p
	if !filepath.IsAbs(p) {
		shown = filepath.Join(filepath.Dir(f.path), p)
		abs = filepath.Join(f.dir, p)
	}
	if g, ok := l.files[abs]; ok {
		if g == nil {
			l.report(f, line, section, fmt.Errorf("use = %s: cannot read %s", use, shown))
		}
		return g
	}
	data, err := l.read(abs)
	if err != nil {
		l.files[abs] = nil
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		l.report(f, line, section, fmt.Errorf("use = %s: %s: %w", use, shown, err))
		return nil
	}
	return l.parse(shown, abs, data)
}

func (l *loader) parse(shown, abs string, data []byte) *rawFile {
	f := newRawFile(shown, abs, filepath.Dir(abs))
	l.files[abs] = f
	switch strings.ToLower(filepath.Ext(abs)) {
	case ".yaml", ".yml":
		parseYAML(f, data)
	default:
		parseINI(f, data)
	}
	for _, e := range f.errs {
		l.seen[e.Error()] = true
		l.errs = append(l.errs, e)
	}
	return f
}
