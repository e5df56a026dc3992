package compose

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/netcompose/netcompose/loader"
)

// Meta is where a typed object came from: its section and the line of each
// key it read, so later errors (validation, apply) can point at the file.
type Meta struct {
	Section string                // "veth:r1-r2"
	Pos     loader.Pos            // the section header
	Keys    map[string]loader.Pos // key -> line of its winning definition
}

// At is the position of key, or of the section header when the key was not
// written.
func (m Meta) At(key string) loader.Pos {
	if p, ok := m.Keys[key]; ok {
		return p
	}
	return m.Pos
}

// errorf builds a *loader.Error at key's line.
func (m Meta) errorf(key, format string, args ...any) error {
	return &loader.Error{Pos: m.At(key), Section: m.Section, Err: fmt.Errorf(format, args...)}
}

// reader reads the keys of one section, records their positions, and
// collects every problem. Keys the kind does not read are reported as
// unknown by done.
type reader struct {
	s       *loader.Section
	globals map[string]loader.Value // DEFAULT key -> its value and lines
	meta    Meta
	known   []string // keys this kind reads, for "did you mean"
	prefix  []string // key families like "sysctl." and "address."
	errs    []error
}

func newReader(s *loader.Section, globals map[string]loader.Value) *reader {
	return &reader{s: s, globals: globals, meta: Meta{
		Section: s.Type + ":" + s.Name,
		Pos:     s.Pos,
		Keys:    map[string]loader.Pos{},
	}}
}

func (r *reader) errorf(key, format string, args ...any) {
	if r.s.Partial && key != "" {
		if _, ok := r.s.Lookup(key); !ok {
			// The loader reported why the section lacks keys (a failed
			// use, a value that did not resolve): this would only echo it.
			return
		}
	}
	r.errs = append(r.errs, r.meta.errorf(key, format, args...))
}

// errorAt records a problem at pos: one line of a multi-line value.
func (r *reader) errorAt(pos loader.Pos, format string, args ...any) {
	r.errs = append(r.errs, &loader.Error{Pos: pos, Section: r.meta.Section, Err: fmt.Errorf(format, args...)})
}

// value returns the section's value for key, else the global of that
// name (the kind reads it, as PasteDeploy passes globals to every
// section), as the loader has it, and records where it was written.
func (r *reader) value(key string) (loader.Value, bool) {
	r.known = append(r.known, key)
	v, ok := r.s.Lookup(key)
	if !ok {
		return loader.Value{}, false
	}
	if !r.own(key) {
		if g, ok := r.globals[key]; ok {
			v.Pos, v.Lines = g.Pos, nil
			if g.Value == v.Value {
				v.Lines = g.Lines
			}
		}
	}
	r.meta.Keys[key] = v.Pos
	return v, true
}

// lookup is value's text, trimmed.
func (r *reader) lookup(key string) (string, bool) {
	v, ok := r.value(key)
	return strings.TrimSpace(v.Value), ok
}

func (r *reader) own(key string) bool {
	for _, v := range r.s.Values {
		if v.Key == key {
			return true
		}
	}
	return false
}

// str is a single-word value.
func (r *reader) str(key, def string) string {
	v, ok := r.lookup(key)
	if !ok || v == "" {
		return def
	}
	if strings.ContainsAny(v, " \t\n") {
		r.errorf(key, "%s: want one value, got %q", key, v)
	}
	return v
}

// list splits on whitespace and newlines.
func (r *reader) list(key string) []string {
	v, _ := r.lookup(key)
	return strings.Fields(v)
}

// entry is one line of a key with one entry per line (route, rule,
// neighbors): its words and where it was written.
type entry struct {
	words []string
	pos   loader.Pos
}

// text is the entry as written, its words joined by single spaces.
func (e entry) text() string { return strings.Join(e.words, " ") }

// lines returns the non-empty lines of a multi-line value, each with its
// words and its own line in the file, for keys such as route and
// neighbors (one entry per line).
func (r *reader) lines(key string) []entry {
	v, _ := r.value(key)
	var out []entry
	for i, l := range strings.Split(v.Value, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			out = append(out, entry{words: f, pos: v.Line(i)})
		}
	}
	return out
}

// boolean accepts on/off, yes/no, true/false, 1/0.
func (r *reader) boolean(key string, def bool) bool {
	v, ok := r.lookup(key)
	if !ok || v == "" {
		return def
	}
	b, err := parseBool(v)
	if err != nil {
		r.errorf(key, "%s: %v", key, err)
	}
	return b
}

// optBool is a boolean that may be left unset (the kernel default stays).
func (r *reader) optBool(key string) *bool {
	v, ok := r.lookup(key)
	if !ok || v == "" {
		return nil
	}
	b, err := parseBool(v)
	if err != nil {
		r.errorf(key, "%s: %v", key, err)
		return nil
	}
	return &b
}

// integer in [lo, hi]; def when unset.
func (r *reader) integer(key string, lo, hi, def int) int {
	v, ok := r.lookup(key)
	if !ok || v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.errorf(key, "%s: %q is not a number in %d..%d", key, v, lo, hi)
		return def
	}
	return n
}

// oneOf is an enumerated value.
func (r *reader) oneOf(key, def string, allowed ...string) string {
	v := r.str(key, def)
	if v != "" && !slices.Contains(allowed, v) {
		r.errorf(key, "%s: %q is not one of %s", key, v, strings.Join(allowed, ", "))
	}
	return v
}

// family returns the section's own keys starting with prefix, sorted,
// with the prefix cut off.
func (r *reader) family(prefix string) []loader.Value {
	r.prefix = append(r.prefix, prefix)
	var out []loader.Value
	for _, v := range r.s.Values {
		if rest, ok := strings.CutPrefix(v.Key, prefix); ok {
			r.meta.Keys[v.Key] = v.Pos
			out = append(out, loader.Value{Key: rest, Value: strings.TrimSpace(v.Value), Pos: v.Pos})
		}
	}
	slices.SortStableFunc(out, func(a, b loader.Value) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// done reports the section's keys this kind did not read, and returns
// every error found in the section.
func (r *reader) done() error {
	for _, v := range r.s.Values {
		if slices.Contains(r.known, v.Key) || v.Key == "use" {
			continue
		}
		if slices.ContainsFunc(r.prefix, func(p string) bool { return strings.HasPrefix(v.Key, p) }) {
			continue
		}
		msg := fmt.Sprintf("unknown key %q", v.Key)
		if s := r.suggest(v.Key); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		r.errs = append(r.errs, &loader.Error{Pos: v.Pos, Section: r.meta.Section, Err: errors.New(msg)})
	}
	return errors.Join(r.errs...)
}

// suggest finds the key the user probably meant: a known key, or for a
// dotted key ("adress.eth0") the same key in the closest family
// ("address.eth0").
func (r *reader) suggest(key string) string {
	if head, rest, ok := strings.Cut(key, "."); ok && len(r.prefix) > 0 {
		if p := suggest(head+".", r.prefix); p != "" {
			return p + rest
		}
	}
	return suggest(key, append(slices.Clone(r.known), r.prefix...))
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "on", "yes", "true", "1":
		return true, nil
	case "off", "no", "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not on or off", v)
}

// suggest returns the candidate closest to key by edit distance, if it is
// close enough to be a likely typo.
func suggest(key string, cands []string) string {
	best, bestD := "", 0
	for _, c := range cands {
		d := editDistance(key, c)
		if best == "" || d < bestD {
			best, bestD = c, d
		}
	}
	// A one-letter name is one edit from every other one: no suggestion
	// unless something of the key survives.
	if best == "" || bestD > max(2, len(key)/3) || bestD >= len(key) || bestD >= len(best) {
		return ""
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
