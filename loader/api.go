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

// Load reads the topology file at path (INI, or YAML for .yaml/.yml) and
// resolves every section. The error, if any, joins one *Error per problem;
// the File is then partial (sections that failed miss values) or nil when
// path could not be read.
func Load(path string) (*File, error) {
	data, err := readFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &Error{Pos: Pos{File: path}, Err: err}
	}
	return Parse(path, data)
}

// Parse resolves data as the file name (its extension chooses INI or
// YAML); use = config:PATH is read from disk relative to name's directory.
func Parse(name string, data []byte) (*File, error) {
	return parse(name, data, readFile)
}

func parse(name string, data []byte, read func(string) ([]byte, error)) (*File, error) {
	abs, err := filepath.Abs(name)
	if err != nil {
		return nil, &Error{Pos: Pos{File: name}, Err: err}
	}
	l := &loader{read: read, files: map[string]*rawFile{}, seen: map[string]bool{}, budget: maxOutput}
	top := l.parse(name, abs, data)
	file := &File{Path: abs}
	sc := l.scope(top, nil)
	defs := sc.defs
	for _, o := range top.defaults.opts.vals {
		if v, ok := defs[o.key]; ok {
			file.Globals = append(file.Globals, Value{Key: o.key, Value: v, Pos: Pos{File: name, Line: o.line}})
		}
	}
	for _, s := range top.sections {
		res := l.resolve(sc, s, nil, nil)
		globals := make(map[string]string, len(defs)+len(res.sets.vals))
		for k, v := range defs {
			globals[k] = v
		}
		for _, v := range res.sets.vals {
			globals[v.Key] = v.Value
		}
		file.Sections = append(file.Sections, &Section{
			Type:    s.typ,
			Name:    s.name,
			Pos:     Pos{File: name, Line: s.line},
			Values:  res.values.vals,
			Use:     res.use,
			Globals: globals,
		})
	}
	return file, errors.Join(l.sortedErrs()...)
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

// readFile reads a regular file of at most maxFile bytes, so that a
// use = config:/dev/zero cannot hang the loader.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
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
