package loader

import (
	"errors"
	"fmt"
	"strings"
)

// maxValue bounds an interpolated value, so that a file of nested
// references (a = %(b)s%(b)s, b = %(c)s%(c)s, ...) fails instead of
// filling memory.
const maxValue = 1 << 20

// maxOutput bounds all interpolation of one load.
const maxOutput = 64 << 20

// errBroken marks a reference to a key whose own resolution already failed
// and was reported; it is not reported again.
var errBroken = errors.New("broken reference")

// entry is one name an interpolation can reach.
type entry struct {
	raw     string
	literal bool // already resolved: no further interpolation
	broken  bool // its resolution failed and was reported
}

// interp resolves %(name)s references as configparser.BasicInterpolation
// does, against one section's map (its own raw keys, then the globals).
// Unlike Python it has no depth limit of 10 but finds loops, and it
// resolves each name once per section.
type interp struct {
	lookup func(name string) (entry, bool)
	done   map[string]string
	failed map[string]error // names that failed, with their error
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

// value resolves the key name of the map as a reference: a key that
// failed before gives errBroken, which is not reported again.
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
			return "", fmt.Errorf("interpolation loop: %s", strings.Join(chain, " -> "))
		}
	}
	e, ok := ip.lookup(name)
	switch {
	case !ok:
		return "", fmt.Errorf("unknown key %q in %%(%s)s", name, name)
	case e.broken:
		return "", errBroken
	case e.literal || !strings.Contains(e.raw, "%"):
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

func (ip *interp) expand(rest string, b *strings.Builder) error {
	for rest != "" {
		p := strings.IndexByte(rest, '%')
		if p < 0 {
			b.WriteString(rest)
			break
		}
		b.WriteString(rest[:p])
		rest = rest[p:]
		switch {
		case strings.HasPrefix(rest, "%%"):
			b.WriteByte('%')
			rest = rest[2:]
		case strings.HasPrefix(rest, "%("):
			end := strings.IndexByte(rest, ')')
			if end < 3 || !strings.HasPrefix(rest[end:], ")s") {
				return fmt.Errorf("bad interpolation %q: want %%(name)s, or %%%% for a literal %%", clip(rest))
			}
			v, err := ip.value(rest[2:end])
			if err != nil {
				return err
			}
			b.WriteString(v)
			rest = rest[end+2:]
		default:
			return fmt.Errorf("bad interpolation %q: '%%' must be followed by '%%' or '(' (write %%%% for a literal %%)", clip(rest))
		}
		if b.Len() > maxValue {
			return fmt.Errorf("interpolated value longer than %d bytes", maxValue)
		}
	}
	if b.Len() > maxValue {
		return fmt.Errorf("interpolated value longer than %d bytes", maxValue)
	}
	return nil
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
