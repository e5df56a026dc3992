package compose

import (
	"strings"
	"testing"

	"github.com/netcompose/netcompose/loader"
)

// parseINI is a minimal INI reader for unit tests: sections, DEFAULT,
// continuation lines and use = builtin:..., without interpolation, set,
// get or use of other sections. It lets the typed graph be tested
// independently of the loader.
func parseINI(t testing.TB, name, text string) *loader.File {
	t.Helper()
	f := &loader.File{Path: name}
	var cur *loader.Section
	var last *loader.Value
	globals := map[string]string{}
	for i, line := range strings.Split(text, "\n") {
		pos := loader.Pos{File: name, Line: i + 1}
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || trimmed[0] == '#' || trimmed[0] == ';':
			continue
		case line[0] == ' ' || line[0] == '\t':
			if last == nil {
				t.Fatalf("%s:%d: continuation without a key", name, i+1)
			}
			last.Value += "\n" + trimmed
		case trimmed[0] == '[':
			h := strings.Trim(trimmed, "[]")
			last = nil
			if h == "DEFAULT" {
				cur = nil
				continue
			}
			typ, n, _ := strings.Cut(h, ":")
			cur = &loader.Section{Type: typ, Name: strings.TrimSpace(n), Pos: pos, Globals: globals}
			f.Sections = append(f.Sections, cur)
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s:%d: no = in %q", name, i+1, line)
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if cur == nil {
				f.Globals = append(f.Globals, loader.Value{Key: k, Value: v, Pos: pos})
				last = &f.Globals[len(f.Globals)-1]
				globals[k] = v
				continue
			}
			if k == "use" && strings.HasPrefix(v, "builtin:") {
				cur.Use = v
				last = nil
				continue
			}
			cur.Values = append(cur.Values, loader.Value{Key: k, Value: v, Pos: pos})
			last = &cur.Values[len(cur.Values)-1]
		}
	}
	// globals were captured by value while being filled; refresh them.
	for _, g := range f.Globals {
		globals[g.Key] = g.Value
	}
	return f
}
