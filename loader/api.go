package loader

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// Lookup returns the section's own value for key, else the global of that
// name as this section sees it (with its `set` overrides), else false.
func (s *Section) Lookup(key string) (Value, bool) {
	for _, v := range s.Values {
		if v.Key == key {
			return v, true
		}
	}
	if g, ok := s.Globals[key]; ok {
		return Value{Key: key, Value: g, Pos: s.Pos}, true
	}
	return Value{}, false
}

// maxFile bounds what the loader reads from one file.
const maxFile = 16 << 20

// ErrNotRegular is the error for a topology file, or a use = config:
// target, that is not a regular file (a directory, a named pipe, a
// device): the loader never opens such a file for reading.
var ErrNotRegular = errors.New("not a regular file")

// Option changes how Load and Parse read a file.
type Option func(*options)

type options struct {
	globals []Value
}

// WithGlobals hands the file globals from outside, as PasteDeploy's
// loadapp(uri, global_conf=...) does, with PasteDeploy's precedence:
//
//   - A section's globals (get, Section.Globals, File.Globals, and what a
//     use = config: template is handed) take them over the file's
//     [DEFAULT]; a section's set overrides them in turn.
//   - %(name)s reads the file's own [DEFAULT] first: they fill only the
//     names [DEFAULT] lacks. Where PasteDeploy would thus silently read
//     the file's value of a name given here with another value, the
//     loader reports an error instead.
//   - A plain section key of the same name is refused, as for [DEFAULT].
//
// Each Value's Pos says where the value comes from, for messages (a
// command line flag: Pos{File: "--set lab=demo"}). The keys follow the
// rules of [DEFAULT] keys; "here" and "__file__" are refused, and so is a
// value with "%" (PasteDeploy would interpolate it in some places and not
// in others). A later Value of the same key wins.
func WithGlobals(globals ...Value) Option {
	return func(o *options) { o.globals = append(o.globals, globals...) }
}

// Load reads the topology file at path (INI, or YAML for .yaml/.yml) and
// resolves every section. The error, if any, joins one *Error per problem;
// the File is then partial (sections that failed miss values, and say so
// in Section.Partial) or nil when path could not be read.
func Load(path string, opts ...Option) (*File, error) {
	data, err := readFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &Error{Pos: Pos{File: path}, Err: err}
	}
	return Parse(path, data, opts...)
}

// Parse resolves data as the file name (its extension chooses INI or
// YAML); use = config:PATH is read from disk relative to name's directory.
func Parse(name string, data []byte, opts ...Option) (*File, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return parse(name, data, readFile, o)
}

func parse(name string, data []byte, read func(string) ([]byte, error), o options) (*File, error) {
	abs, err := filepath.Abs(name)
	if err != nil {
		return nil, &Error{Pos: Pos{File: name}, Err: err}
	}
	l := &loader{read: read, files: map[string]*rawFile{}, seen: map[string]bool{}, budget: maxOutput}
	caller, order := l.callerGlobals(o.globals)
	top := l.parse(name, abs, data)
	outer := make(map[string]string, len(caller))
	for k, v := range caller {
		outer[k] = v.Value
	}
	sc := l.scope(top, outer, caller, nil)
	file := &File{Path: abs}
	for _, o := range top.defaults.opts.vals {
		if g := caller[o.key]; g != nil {
			file.Globals = append(file.Globals, *g)
		} else if v, ok := sc.defs[o.key]; ok {
			file.Globals = append(file.Globals, Value{Key: o.key, Value: v, Pos: Pos{File: name, Line: o.line}, Lines: o.linesOf(name, v)})
		}
	}
	for _, k := range order {
		if !top.defaults.opts.has(k) {
			file.Globals = append(file.Globals, *caller[k])
		}
	}
	for _, s := range top.sections {
		l.partial = false
		res := l.resolve(sc, s, outer, nil)
		file.Sections = append(file.Sections, &Section{
			Type:    s.typ,
			Name:    s.name,
			Pos:     Pos{File: name, Line: s.line},
			Values:  res.values.vals,
			Use:     res.use,
			Globals: res.globals,
			Partial: l.partial,
		})
	}
	return file, errors.Join(l.sortedErrs()...)
}

// callerGlobals checks the globals given WithGlobals and indexes the
// valid ones, the last of a key winning; order is the keys in the order
// first given.
func (l *loader) callerGlobals(globals []Value) (map[string]*Value, []string) {
	out := map[string]*Value{}
	var order []string
	for _, g := range globals {
		var err error
		switch {
		case iniKey(g.Key) != nil:
			err = iniKey(g.Key)
		case g.Key == "here" || g.Key == "__file__":
			err = fmt.Errorf("%q is set by netcompose to the file's %s; choose another name", g.Key, map[string]string{"here": "directory", "__file__": "path"}[g.Key])
		case strings.HasPrefix(g.Key, "set ") || strings.HasPrefix(g.Key, "get "):
			err = fmt.Errorf("%q: set and get belong in sections, not in globals", g.Key)
		case strings.Contains(g.Value, "%"):
			err = fmt.Errorf("%s: the value may not contain %%: PasteDeploy would interpolate it where %%(...)s reads it, and not where get does", g.Key)
		}
		if err != nil {
			l.errs = append(l.errs, &Error{Pos: g.Pos, Err: err})
			continue
		}
		if out[g.Key] == nil {
			order = append(order, g.Key)
		}
		out[g.Key] = &g
	}
	return out, order
}

// callerName is how messages name a global given WithGlobals.
func callerName(g *Value) string {
	if g.Pos.File != "" {
		return g.Pos.File
	}
	return fmt.Sprintf("%s = %s", g.Key, g.Value)
}

// sortedErrs orders the errors by line within each file, files in the
// order their first error was found (the top-level file first, if it has
// any).
func (l *loader) sortedErrs() []error {
	rank := map[string]int{}
	for _, e := range l.errs {
		p := e.(*Error).Pos.File
		if _, ok := rank[p]; !ok {
			rank[p] = len(rank)
		}
	}
	errs := slices.Clone(l.errs)
	slices.SortStableFunc(errs, func(a, b error) int {
		pa, pb := a.(*Error).Pos, b.(*Error).Pos
		if c := cmp.Compare(rank[pa.File], rank[pb.File]); c != 0 {
			return c
		}
		return cmp.Compare(pa.Line, pb.Line)
	})
	return errs
}

// readFile reads a regular file of at most maxFile bytes. Anything else is
// refused before it is opened for reading, so that neither a named pipe
// (whose open waits for a writer) nor a device (use = config:/dev/zero)
// can hang the loader.
func readFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := regular(st.Mode()); err != nil {
		return nil, err
	}
	// O_NONBLOCK: should the file be replaced by a named pipe after the
	// Stat, opening it still does not wait; the Stat of the open file
	// then refuses it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := regular(st.Mode()); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFile {
		return nil, fmt.Errorf("larger than %d bytes", maxFile)
	}
	return data, nil
}

// regular is nil for a regular file's mode, else ErrNotRegular saying
// what it is.
func regular(m fs.FileMode) error {
	var what string
	switch {
	case m.IsRegular():
		return nil
	case m.IsDir():
		what = "a directory"
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	case m&fs.ModeDevice != 0:
		what = "a device"
	default:
		what = "mode " + m.Type().String()
	}
	return fmt.Errorf("%w (%s)", ErrNotRegular, what)
}
