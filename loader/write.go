package loader

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// entryOut is one key = value line of a written section.
type entryOut struct {
	key, value string
}

// resolvedSections is the written form of f shared by WriteINI and
// WriteYAML: [DEFAULT], then each section as use (builtin), the set
// overrides of its globals, and its values. A value whose key is also a
// global is written as set k = v (PasteDeploy would drop a plain key).
func resolvedSections(f *File) (defaults []entryOut, sections [][]entryOut, err error) {
	globals := map[string]string{"here": "", "__file__": ""}
	for _, g := range f.Globals {
		if err := iniKey(g.Key); err != nil {
			return nil, nil, fmt.Errorf("[DEFAULT]: %w", err)
		}
		if err := iniValue(g.Value); err != nil {
			return nil, nil, fmt.Errorf("[DEFAULT]: %s: %w", g.Key, err)
		}
		globals[g.Key] = g.Value
		defaults = append(defaults, entryOut{g.Key, g.Value})
	}
	for _, s := range f.Sections {
		id := s.Type + ":" + s.Name
		var out []entryOut
		if s.Use != "" {
			out = append(out, entryOut{"use", s.Use})
		}
		sets := map[string]string{}
		var names []string
		for k, v := range s.Globals {
			if k == "here" || k == "__file__" {
				continue
			}
			if d, ok := globals[k]; !ok || d != v {
				sets[k] = v
				names = append(names, k)
			}
		}
		for _, v := range s.Values {
			if _, ok := globals[v.Key]; !ok {
				continue
			}
			if d, ok := sets[v.Key]; ok && d != v.Value {
				return nil, nil, fmt.Errorf("[%s]: %q is both a value (%q) and a set global (%q); not writable", id, v.Key, v.Value, d)
			}
			if _, ok := sets[v.Key]; !ok {
				sets[v.Key] = v.Value
				names = append(names, v.Key)
			}
		}
		sort.Strings(names)
		for _, k := range names {
			if err := iniKey(k); err != nil || strings.ContainsAny(k, " \t") {
				return nil, nil, fmt.Errorf("[%s]: set global %q: not writable", id, k)
			}
			if err := iniValue(sets[k]); err != nil {
				return nil, nil, fmt.Errorf("[%s]: set %s: %w", id, k, err)
			}
			out = append(out, entryOut{"set " + k, sets[k]})
		}
		for _, v := range s.Values {
			if _, ok := globals[v.Key]; ok {
				continue
			}
			if err := iniKey(v.Key); err != nil {
				return nil, nil, fmt.Errorf("[%s]: %w", id, err)
			}
			if v.Key == "use" || strings.HasPrefix(v.Key, "set ") || strings.HasPrefix(v.Key, "get ") {
				return nil, nil, fmt.Errorf("[%s]: key %q: not writable", id, v.Key)
			}
			if err := iniValue(v.Value); err != nil {
				return nil, nil, fmt.Errorf("[%s]: %s: %w", id, v.Key, err)
			}
			out = append(out, entryOut{v.Key, v.Value})
		}
		sections = append(sections, out)
	}
	return defaults, sections, nil
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
