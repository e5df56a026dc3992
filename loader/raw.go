package loader

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// KnownTypes are the section types of language v1, sorted.
var KnownTypes = []string{
	"arp", "bridge", "check", "filter", "host", "kmod", "netns",
	"nfqueue", "pipeline", "portgroup", "service", "veth", "vxlan",
}

func knownType(t string) bool {
	i := sort.SearchStrings(KnownTypes, t)
	return i < len(KnownTypes) && KnownTypes[i] == t
}

// rawOpt is one key as written, before interpolation. value holds the
// continuation lines joined with "\n", as ConfigParser joins them; lines
// holds the line each of them is on (in INI the first is the key's), so
// that a problem on a continuation line is reported on that line.
type rawOpt struct {
	key   string
	value string
	line  int
	lines []int
}

// lineOf is the line of o's value that err, an interpolation error of
// the value, is on: the key's line unless err knows its place.
func (o rawOpt) lineOf(err error) int {
	var at *atOffset
	if errors.As(err, &at) && at.off <= len(o.value) {
		if i := strings.Count(o.value[:at.off], "\n"); i < len(o.lines) {
			return o.lines[i]
		}
	}
	return o.line
}

// linesOf is where each line of v, o's value after interpolation, was
// written in the file at path: o's lines, unless interpolation put in
// lines of its own (a multi-line global), which leaves the lines unknown.
// A one-line value needs none: its Pos is its line.
func (o rawOpt) linesOf(path, v string) []Pos {
	if len(o.lines) < 2 || len(o.lines) != strings.Count(v, "\n")+1 {
		return nil
	}
	out := make([]Pos, len(o.lines))
	for i, n := range o.lines {
		out[i] = Pos{File: path, Line: n}
	}
	return out
}

// rawSection is a section as written in one file.
type rawSection struct {
	id   string // "type:name", or the header as written when invalid
	typ  string
	name string
	line int
	opts ordered[rawOpt]
	// partial: a key of the section was refused while parsing (reported),
	// so the section lacks keys it was written with.
	partial bool
}

// rawFile is one parsed file, INI or YAML, before resolution.
type rawFile struct {
	path     string // as given, for positions
	abs      string // absolute, for identity and __file__
	dir      string // absolute directory, for here
	defaults *rawSection
	sections []*rawSection          // valid sections in file order
	byID     map[string]*rawSection // "type:name" -> section
	top      *scope                 // the file loaded at the top level or by a same-file use
	errs     []*Error               // parse errors
	yamlKeys int                    // keys read from YAML, aliases expanded
}

func newRawFile(path, abs, dir string) *rawFile {
	return &rawFile{
		path:     path,
		abs:      abs,
		dir:      dir,
		defaults: &rawSection{id: "DEFAULT"},
		byID:     map[string]*rawSection{},
	}
}

func (f *rawFile) errorf(line int, section, format string, args ...any) {
	f.errs = append(f.errs, &Error{
		Pos:     Pos{File: f.path, Line: line},
		Section: section,
		Err:     fmt.Errorf(format, args...),
	})
}

// openSection starts the section named by header at line and returns where
// its keys go: the [DEFAULT] section, a new section, or a detached section
// when the header is invalid (its keys are then parsed and dropped; the
// error is already reported).
func (f *rawFile) openSection(header string, line int) *rawSection {
	if header == "DEFAULT" {
		return f.defaults
	}
	colon := strings.IndexByte(header, ':')
	if colon < 0 {
		f.errorf(line, header, "section has no type (want [type:name], types: %s)", strings.Join(KnownTypes, " "))
		return detached(header)
	}
	typ, name := header[:colon], pyTrim(header[colon+1:])
	switch {
	case typ == "":
		f.errorf(line, header, "section has no type (want [type:name], types: %s)", strings.Join(KnownTypes, " "))
		return detached(header)
	case !knownType(typ):
		f.errorf(line, header, "unknown section type %q (types: %s)", typ, strings.Join(KnownTypes, " "))
		return detached(header)
	case name == "":
		f.errorf(line, header, "section has no name (want [%s:name])", typ)
		return detached(header)
	}
	id := typ + ":" + name
	if first, ok := f.byID[id]; ok {
		f.errorf(line, id, "duplicate section (first at %s:%d)", f.path, first.line)
		return detached(id)
	}
	s := &rawSection{id: id, typ: typ, name: name, line: line}
	f.byID[id] = s
	f.sections = append(f.sections, s)
	return s
}

// addOpt records key in s, refusing duplicates as ConfigParser's strict
// mode does. It reports false when the key was refused. lines are the
// lines of value's lines, when known.
func (f *rawFile) addOpt(s *rawSection, key, value string, line int, lines []int) bool {
	if first, ok := s.opts.find(key); ok {
		f.errorf(line, s.id, "duplicate key %q (first at line %d)", key, s.opts.vals[first].line)
		return false
	}
	if s == f.defaults {
		switch {
		case key == "here" || key == "__file__":
			f.errorf(line, s.id, "%q is set by netcompose to the file's %s; choose another name", key, map[string]string{"here": "directory", "__file__": "path"}[key])
			return false
		case strings.HasPrefix(key, "set ") || strings.HasPrefix(key, "get "):
			f.errorf(line, s.id, "%q: set and get belong in sections; in [DEFAULT] write %s = ...", key, pyTrim(key[4:]))
			return false
		}
	}
	s.opts.put(rawOpt{key: key, value: value, line: line, lines: lines})
	return true
}

func detached(id string) *rawSection {
	return &rawSection{id: id}
}
