package loader

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// maxValue bounds an interpolated value, so that a file of nested
// references (a = %(b)s%(b)s, b = %(c)s%(c)s, ...) fails instead of
// filling memory.
const maxValue = 1 << 20

// maxOutput bounds all interpolation of one load.
const maxOutput = 64 << 20

// errBroken marks a reference to a key whose own resolution failed and is
// reported at that key; it is not reported again at the reference.
var errBroken = errors.New("broken reference")

// atOffset is an interpolation error at byte off of the raw value, so that
// it is reported on the line of the value it is on.
type atOffset struct {
	off int
	err error
}

func (e *atOffset) Error() string { return e.err.Error() }
func (e *atOffset) Unwrap() error { return e.err }

// loopError is an interpolation loop: every key on it fails with it.
type loopError struct{ chain []string }

func (e *loopError) Error() string {
	return "interpolation loop: " + strings.Join(e.chain, " -> ")
}

// entry is one name an interpolation can reach.
type entry struct {
	raw     string
	literal bool // already resolved: no further interpolation
	broken  bool // its resolution failed and was reported
	// hidden is a global the caller gave under the same name, which
	// interpolation does not see (PasteDeploy interpolates with the
	// file's [DEFAULT] first): reading the name is an error when the
	// values differ, so that the caller's value is never silently ignored.
	hidden *Value
}

// interp resolves %(name)s references as configparser.BasicInterpolation
// does, against one section's map (its own raw keys, then the globals).
// Unlike Python it has no depth limit of 10 but finds loops, and it
// resolves each name once per section.
type interp struct {
	lookup func(name string) (entry, bool)
	done   map[string]string
	failed map[string]error  // names that failed, with their error
	hidden map[string]*Value // entry.hidden of the names looked up
	stack  []string
	budget *int
}

func (l *loader) newInterp(lookup func(string) (entry, bool)) *interp {
	return &interp{lookup: lookup, budget: &l.budget}
}

// option resolves the key name of the map for itself: a key whose
// resolution failed before, through a reference, gives its own error again.
func (ip *interp) option(name string) (string, error) {
	if err, ok := ip.failed[name]; ok {
		return "", err
	}
	return ip.value(name)
}

// value resolves the key name of the map. An error of name's own is
// returned (and kept for option); one that a key it refers to has of its
// own becomes errBroken, so that each problem is reported once, at its
// key, whichever key refers to it first. A loop is every member's own.
func (ip *interp) value(name string) (string, error) {
	if v, ok := ip.done[name]; ok {
		return v, nil
	}
	if _, ok := ip.failed[name]; ok {
		return "", errBroken
	}
	for i, n := range ip.stack {
		if n == name {
			chain := append(append([]string(nil), ip.stack[i:]...), name)
			return "", &loopError{chain: chain}
		}
	}
	e, ok := ip.lookup(name)
	switch {
	case !ok:
		return "", fmt.Errorf("unknown key %q in %%(%s)s", name, name)
	case e.broken:
		return "", errBroken
	}
	if e.hidden != nil {
		if ip.hidden == nil {
			ip.hidden = map[string]*Value{}
		}
		ip.hidden[name] = e.hidden
	}
	if e.literal || !strings.Contains(e.raw, "%") {
		return e.raw, nil
	}
	ip.stack = append(ip.stack, name)
	var b strings.Builder
	err := ip.expand(e.raw, &b)
	ip.stack = ip.stack[:len(ip.stack)-1]
	if err == nil && b.Len() > *ip.budget {
		err = fmt.Errorf("interpolation produces more than %d bytes in this file", maxOutput)
	}
	if err != nil {
		if ip.failed == nil {
			ip.failed = map[string]error{}
		}
		ip.failed[name] = err
		return "", err
	}
	*ip.budget -= b.Len()
	if ip.done == nil {
		ip.done = map[string]string{}
	}
	v := b.String()
	ip.done[name] = v
	return v, nil
}

// expand interpolates raw into b. Its errors are *atOffset, at the %
// they are about.
func (ip *interp) expand(raw string, b *strings.Builder) error {
	at := func(p int, err error) error { return &atOffset{off: p, err: err} }
	p := 0
	for p < len(raw) {
		q := strings.IndexByte(raw[p:], '%')
		if q < 0 {
			b.WriteString(raw[p:])
			break
		}
		b.WriteString(raw[p : p+q])
		p += q
		rest := raw[p:]
		switch {
		case strings.HasPrefix(rest, "%%"):
			b.WriteByte('%')
			p += 2
		case strings.HasPrefix(rest, "%("):
			end := strings.IndexByte(rest, ')')
			if end < 3 || !strings.HasPrefix(rest[end:], ")s") {
				return at(p, fmt.Errorf("bad interpolation %q: want %%(name)s, or %%%% for a literal %%", clip(rest)))
			}
			name := rest[2:end]
			v, err := ip.value(name)
			if err != nil {
				var loop *loopError
				_, itsOwn := ip.failed[name]
				switch {
				case errors.As(err, &loop) && slices.Contains(loop.chain, ip.stack[len(ip.stack)-1]):
					return at(p, loop) // this key is on the loop
				case itsOwn || errors.Is(err, errBroken) || errors.As(err, &loop):
					return errBroken // reported at name (or at the loop's keys)
				}
				return at(p, err) // an unknown name: this reference's problem
			}
			if h := ip.hidden[name]; h != nil && h.Value != v {
				return at(p, hiddenError(name, v, h))
			}
			b.WriteString(v)
			p += end + 2
		default:
			return at(p, fmt.Errorf("bad interpolation %q: '%%' must be followed by '%%' or '(' (write %%%% for a literal %%)", clip(rest)))
		}
		if b.Len() > maxValue {
			return at(p, fmt.Errorf("interpolated value longer than %d bytes", maxValue))
		}
	}
	if b.Len() > maxValue {
		return fmt.Errorf("interpolated value longer than %d bytes", maxValue)
	}
	return nil
}

// hiddenError is the error for %(name)s reading the file's [DEFAULT] name
// = v where the caller gave name another value, h.
func hiddenError(name, v string, h *Value) error {
	from := h.Pos.File
	if from == "" {
		from = fmt.Sprintf("the caller's %s = %s", name, h.Value)
	}
	return fmt.Errorf("%%(%s)s reads [DEFAULT] %s = %q, not %s: PasteDeploy interpolates with the file's own [DEFAULT] first; leave %s out of [DEFAULT] to give it from outside", name, name, v, from, name)
}

func clip(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 20 {
		s = s[:20] + "..."
	}
	return s
}
