package loader

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"
)

// parseYAML reads the YAML form of the model: a top-level mapping whose
// keys are DEFAULT and type:name, each a mapping of keys to a scalar or a
// list of scalars. Values are normalised as ConfigParser would read their
// INI translation (each line stripped, trailing empty lines dropped, a list
// joined with newlines), and keys must be writable as INI keys, so that a
// YAML file and its INI translation resolve identically.
func parseYAML(f *rawFile, data []byte) {
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return // an empty file is an empty lab
		}
		f.errorf(yamlErrLine(err), "", "yaml: %s", yamlErrText(err))
		return
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		f.errorf(extra.Line, "", "yaml: more than one document")
	} else if !errors.Is(err, io.EOF) {
		f.errorf(yamlErrLine(err), "", "yaml: %s", yamlErrText(err))
	}
	top := deref(&doc)
	if top.Kind == yaml.DocumentNode {
		if len(top.Content) == 0 {
			return
		}
		top = deref(top.Content[0])
	}
	if top.Kind == yaml.ScalarNode && top.Tag == "!!null" {
		return
	}
	if top.Kind != yaml.MappingNode {
		f.errorf(top.Line, "", "yaml: the top level must be a mapping of DEFAULT and type:name sections")
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := deref(top.Content[i]), deref(top.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			f.errorf(k.Line, "", "yaml: a section name must be a string")
			continue
		}
		header := k.Value
		if strings.ContainsAny(header, "\n\r") || header == "" {
			f.errorf(k.Line, "", "yaml: invalid section name %q", header)
			continue
		}
		if first, ok := seen[header]; ok && header == "DEFAULT" {
			f.errorf(k.Line, header, "duplicate section (first at %s:%d)", f.path, first)
			continue
		}
		seen[header] = k.Line
		s := f.openSection(header, k.Line)
		yamlSection(f, s, v)
	}
}

func yamlSection(f *rawFile, s *rawSection, v *yaml.Node) {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return
	}
	if v.Kind != yaml.MappingNode {
		f.errorf(v.Line, s.id, "yaml: a section must be a mapping of keys")
		s.partial = true
		return
	}
	if f.yamlKeys += len(v.Content) / 2; f.yamlKeys > maxKeys {
		f.errorf(v.Line, s.id, "yaml: more than %d keys (through aliases?)", maxKeys)
		s.partial = true
		return
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := deref(v.Content[i]), deref(v.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			f.errorf(k.Line, s.id, "yaml: a key must be a string")
			s.partial = true
			continue
		}
		if k.Tag == "!!merge" {
			f.errorf(k.Line, s.id, "yaml: merge keys (<<) are not supported; use \"use\"")
			s.partial = true
			continue
		}
		if err := iniKey(k.Value); err != nil {
			f.errorf(k.Line, s.id, "yaml: %v", err)
			s.partial = true
			continue
		}
		text, lines, ok := yamlValue(f, s, val, k.Line)
		if !ok {
			s.partial = true
			continue
		}
		f.addOpt(s, k.Value, text, k.Line, lines)
	}
}

// yamlValue is the INI form of the value of the key at line, and the line
// each of its lines comes from: a list item's own line, a line of a
// literal block (|) its line in the block, else the value's line.
func yamlValue(f *rawFile, s *rawSection, v *yaml.Node, line int) (string, []int, bool) {
	var (
		lines   []string
		linenos []int
	)
	add := func(n *yaml.Node) {
		if n.Tag == "!!null" {
			lines, linenos = append(lines, ""), append(linenos, n.Line)
			return
		}
		for j, l := range strings.Split(n.Value, "\n") {
			lines = append(lines, l)
			if n.Style&yaml.LiteralStyle != 0 {
				linenos = append(linenos, n.Line+1+j)
			} else {
				linenos = append(linenos, n.Line)
			}
		}
	}
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Tag != "!!null" {
			add(v)
		}
	case yaml.SequenceNode:
		for _, item := range v.Content {
			item = deref(item)
			if item.Kind != yaml.ScalarNode {
				f.errorf(item.Line, s.id, "yaml: list items must be scalars")
				return "", nil, false
			}
			add(item)
		}
	default:
		f.errorf(line, s.id, "yaml: a value must be a scalar or a list of scalars")
		return "", nil, false
	}
	for i, l := range lines {
		lines[i] = pyTrim(l)
		if i > 0 && lines[i] != "" && (lines[i][0] == '#' || lines[i][0] == ';') {
			f.errorf(linenos[i], s.id, "yaml: value line %q would be a comment in INI", lines[i])
			return "", nil, false
		}
	}
	text := strings.TrimRightFunc(strings.Join(lines, "\n"), pySpace)
	if len(lines) == 0 {
		return text, []int{line}, true
	}
	return text, linenos[:strings.Count(text, "\n")+1], true
}

// iniKey reports whether key can be written as an INI key that
// ConfigParser reads back unchanged.
func iniKey(key string) error {
	switch {
	case key == "":
		return errors.New("empty key")
	case strings.ContainsAny(key, "=:\n\r"):
		return fmt.Errorf("key %q contains \"=\", \":\" or a newline", key)
	case pyTrim(key) != key:
		return fmt.Errorf("key %q starts or ends with white space", key)
	case strings.ContainsRune("#;[", rune(key[0])):
		return fmt.Errorf("key %q starts with %q", key, key[:1])
	}
	return nil
}

// deref follows YAML aliases (bounded, in case of a pathological chain).
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; i < 64 && n.Kind == yaml.AliasNode && n.Alias != nil; i++ {
		n = n.Alias
	}
	return n
}

func yamlErrLine(err error) int {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return 0
	}
	// yaml.v3 messages read "yaml: line N: ..."
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "yaml: line "); ok {
		n := 0
		for _, r := range rest {
			if r < '0' || r > '9' {
				break
			}
			n = n*10 + int(r-'0')
			if n > 1<<30 {
				return 0
			}
		}
		return n
	}
	return 0
}

func yamlErrText(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.Index(rest, ": "); i >= 0 {
			return rest[i+2:]
		}
	}
	return msg
}
