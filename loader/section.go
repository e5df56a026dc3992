// Package loader reads PasteDeploy-style INI and YAML topology files into
// resolved sections. It knows the file formats and PasteDeploy's rules
// (DEFAULT, set, get, use, interpolation) and nothing about networks.
package loader

import "strconv"

// Pos is a place in a source file. Line is 1-based; 0 means unknown.
type Pos struct {
	File string // path as given (relative paths stay relative)
	Line int
}

// Value is one resolved key of a section.
type Value struct {
	Key   string
	Value string // after interpolation; list values keep their newlines
	Pos   Pos    // where the winning definition was written
	// Lines is where each line of Value was written (a continuation line,
	// a YAML list item), so that a problem with one entry of a list such
	// as route can be reported on its own line. It is nil when that is not
	// known: for a value get copied from a global, or one whose
	// interpolation added lines; Pos is the place then. A one-line value
	// has none: Pos is its line.
	Lines []Pos
}

// Line is where line i of the value was written: Lines[i] when known,
// else Pos.
func (v Value) Line(i int) Pos {
	if i >= 0 && i < len(v.Lines) {
		return v.Lines[i]
	}
	return v.Pos
}

// Section is one resolved [type:name] section.
type Section struct {
	Type string
	Name string
	Pos  Pos // the section header
	// Values in the order they were first defined, after use, set, get and
	// interpolation. Globals are not copied in unless set/get put them here.
	Values []Value
	// Use is the builtin reference ("builtin:KIND") when the section says
	// use = builtin:..., else "" (same-file and config: uses are resolved
	// away into Values).
	Use string
	// Globals seen by this section, PasteDeploy's global_conf: [DEFAULT]
	// of the top-level file (with here and __file__), overridden by the
	// globals given WithGlobals; the [DEFAULT] keys of templates it
	// reaches through use = config:... for names not already there; and
	// every `set` on its use chain, the using section's winning.
	Globals map[string]string
	// Partial is true when a problem was reported while resolving the
	// section (in it or in a template it uses): keys may be missing, so a
	// reader should not also complain that they are.
	Partial bool
}

// File is a loaded topology file: only the sections of the top-level file
// become resources; sections reached through use = config:... are templates
// and are not listed.
type File struct {
	Path string // absolute path of the top-level file
	// Globals is [DEFAULT], without the implicit here and __file__, with
	// the values given WithGlobals (at their Pos) in place of the file's,
	// and after them those [DEFAULT] lacks.
	Globals  []Value
	Sections []*Section // in file order
}

// Error is a problem in a topology file, at a place and in a section.
// One run reports every Error it finds, joined with errors.Join.
type Error struct {
	Pos     Pos
	Section string // "veth:r1-r2", "DEFAULT", or "" for file-level errors
	Err     error
}

func (e *Error) Error() string {
	s := e.Pos.File
	if e.Pos.Line > 0 {
		s += ":" + strconv.Itoa(e.Pos.Line)
	}
	s += ": "
	if e.Section != "" {
		s += "[" + e.Section + "]: "
	}
	return s + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }
