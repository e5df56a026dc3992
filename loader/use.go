package loader

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// maxUseDepth bounds a use chain. PasteDeploy recurses once per link and
// hits Python's recursion limit long before; the bound keeps a load linear
// in the size of the file.
const maxUseDepth = 100

var schemeRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z]+:`) })

// use follows use = VALUE of section s in f: builtin:KIND ends the chain,
// config:PATH#NAME continues in another file, any other value names a
// section of the same type in f.
func (l *loader) use(sc *scope, s *rawSection, use Value, gc map[string]string, chain []link) *result {
	f, line := sc.f, use.Pos.Line
	f2, name := f, use.Value
	if schemeRE().MatchString(use.Value) {
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
		sc = l.scope(f2, gc, nil, &site{f: f, line: line, section: s.id, use: use.Value})
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
	o, _ := start.s.opts.lookup("use")
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
		// One problem can show up more than once (YAML items of one line,
		// aliases): report each text once.
		if !l.seen[e.Error()] {
			l.seen[e.Error()] = true
			l.errs = append(l.errs, e)
		}
	}
	return f
}
