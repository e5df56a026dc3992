package loader

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// entryOut is one key = value line of a written section.
type entryOut struct {
	key, value string
}

// resolvedSections is the written form of f shared by WriteINI and
// WriteYAML: [DEFAULT], then each section as use (builtin), the set
// overrides of its globals, and its values. What cannot be written so
// that it reads back the same is an *Error at the line it comes from,
// every one of them.
func resolvedSections(f *File) (defaults []entryOut, sections [][]entryOut, err error) {
	defaults, globals, errs := writtenDefaults(f)
	for _, s := range f.Sections {
		out, serrs := writtenSection(s, globals)
		sections = append(sections, out)
		errs = append(errs, serrs...)
	}
	return defaults, sections, errors.Join(errs...)
}

// writtenDefaults is f's [DEFAULT] as written, and the globals every
// section sees from it (here and __file__ among them).
func writtenDefaults(f *File) ([]entryOut, map[string]string, []error) {
	globals := map[string]string{"here": "", "__file__": ""}
	var out []entryOut
	var errs []error
	for _, g := range f.Globals {
		if err := writable(g.Key, g.Value); err != nil {
			errs = append(errs, &Error{Pos: g.Pos, Section: "DEFAULT", Err: err})
		}
		globals[g.Key] = g.Value
		out = append(out, entryOut{g.Key, g.Value})
	}
	return out, globals, errs
}

// writtenSection is section s as written: use = builtin:..., then a
// set line for each global that differs from globals, then its values.
func writtenSection(s *Section, globals map[string]string) ([]entryOut, []error) {
	id := s.Type + ":" + s.Name
	var out []entryOut
	var errs []error
	if s.Use != "" {
		out = append(out, entryOut{"use", s.Use})
	}
	sets, pos := setGlobals(s, globals)
	for _, k := range slices.Sorted(maps.Keys(sets)) {
		if err := writable("set "+k, sets[k]); err != nil {
			errs = append(errs, &Error{Pos: pos[k], Section: id, Err: err})
		}
		out = append(out, entryOut{"set " + k, sets[k]})
	}
	for _, v := range s.Values {
		if _, ok := globals[v.Key]; ok {
			continue // written as set above
		}
		err := writable(v.Key, v.Value)
		if v.Key == "use" || strings.HasPrefix(v.Key, "set ") || strings.HasPrefix(v.Key, "get ") {
			err = fmt.Errorf("key %q: not writable", v.Key)
		}
		if err != nil {
			errs = append(errs, &Error{Pos: v.Pos, Section: id, Err: err})
		}
		out = append(out, entryOut{v.Key, v.Value})
	}
	return out, errs
}

// setGlobals is what s writes as set lines, by global name, and where
// each comes from: the globals it sees with another value than globals
// (the file's [DEFAULT]) has, at the section's header; and each of its
// values whose key is one of globals, at the value's line, since a plain
// key of that name would be refused as shadowing it. Such a value wins
// over a global of its name that the section sees too: every reader of
// the section (Lookup) gets the value, never that global, so the
// written file reads back the same.
func setGlobals(s *Section, globals map[string]string) (map[string]string, map[string]Pos) {
	sets := map[string]string{}
	pos := map[string]Pos{}
	for k, v := range s.Globals {
		if k == "here" || k == "__file__" {
			continue
		}
		if d, ok := globals[k]; !ok || d != v {
			sets[k], pos[k] = v, s.Pos
		}
	}
	for _, v := range s.Values {
		if _, ok := globals[v.Key]; ok {
			sets[v.Key], pos[v.Key] = v.Value, v.Pos
		}
	}
	return sets, pos
}

// writable reports whether key = value can be written so that
// ConfigParser reads it back unchanged.
func writable(key, value string) error {
	if err := iniKey(key); err != nil {
		return err
	}
	if err := iniValue(value); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// iniValue reports whether ConfigParser reads value back unchanged when
// written as a value with continuation lines.
func iniValue(value string) error {
	lines := strings.Split(value, "\n")
	for i, l := range lines {
		if pyTrim(l) != l {
			return errors.New("a line of the value starts or ends with white space; not writable")
		}
		if i > 0 && l != "" && (l[0] == '#' || l[0] == ';') {
			return fmt.Errorf("value line %d would be a comment; not writable", i+1)
		}
	}
	if i := len(lines) - 1; i > 0 && lines[i] == "" {
		return errors.New("the value ends with an empty line; not writable")
	}
	return nil
}

// WriteINI writes f fully resolved as INI: loading the output again gives
// the same values (% is escaped as %%).
func WriteINI(w io.Writer, f *File) error {
	defaults, sections, err := resolvedSections(f)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	write := func(header string, entries []entryOut) error {
		fmt.Fprintf(bw, "[%s]\n", header)
		for _, e := range entries {
			lines := strings.Split(strings.ReplaceAll(e.value, "%", "%%"), "\n")
			fmt.Fprintf(bw, "%s = %s\n", e.key, lines[0])
			for _, l := range lines[1:] {
				if l == "" {
					bw.WriteString("\n")
				} else {
					fmt.Fprintf(bw, "\t%s\n", l)
				}
			}
		}
		return nil
	}
	if len(defaults) > 0 {
		if err := write("DEFAULT", defaults); err != nil {
			return err
		}
	}
	for i, s := range f.Sections {
		if i > 0 || len(defaults) > 0 {
			bw.WriteString("\n")
		}
		if err := write(s.Type+":"+s.Name, sections[i]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// WriteYAML writes f fully resolved as YAML, in the same model as
// WriteINI: multi-line values become lists of lines.
func WriteYAML(w io.Writer, f *File) error {
	defaults, sections, err := resolvedSections(f)
	if err != nil {
		return err
	}
	str := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }
	mapping := func(entries []entryOut) *yaml.Node {
		m := &yaml.Node{Kind: yaml.MappingNode}
		for _, e := range entries {
			v := strings.ReplaceAll(e.value, "%", "%%")
			val := str(v)
			if strings.Contains(v, "\n") {
				val = &yaml.Node{Kind: yaml.SequenceNode}
				for _, l := range strings.Split(v, "\n") {
					val.Content = append(val.Content, str(l))
				}
			}
			m.Content = append(m.Content, str(e.key), val)
		}
		return m
	}
	top := &yaml.Node{Kind: yaml.MappingNode}
	if len(defaults) > 0 {
		top.Content = append(top.Content, str("DEFAULT"), mapping(defaults))
	}
	for i, s := range f.Sections {
		top.Content = append(top.Content, str(s.Type+":"+s.Name), mapping(sections[i]))
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{top}}); err != nil {
		return err
	}
	return enc.Close()
}
