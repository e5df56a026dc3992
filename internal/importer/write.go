package importer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/loader"
)

// Write writes f as INI ("ini") or YAML ("yaml"), comments before the
// sections they are about, and checks that what it wrote loads as a lab:
// an error then is a bug of the import, and says what the file got wrong.
func Write(w io.Writer, f *File, format string) error {
	var buf bytes.Buffer
	write := loader.WriteINI
	switch format {
	case "ini":
	case "yaml":
		write = loader.WriteYAML
	default:
		return fmt.Errorf("import: unknown output format %q (want ini or yaml)", format)
	}
	comments(&buf, f.Header)
	buf.WriteString("\n")
	// Each piece is written by the loader's own writer, which escapes
	// what needs it; the comments go between the pieces.
	if err := write(&buf, &loader.File{Globals: []loader.Value{{Key: "lab", Value: f.Lab}}}); err != nil {
		return err
	}
	for _, s := range f.Sections {
		buf.WriteString("\n")
		comments(&buf, s.Notes)
		ls := &loader.Section{Type: s.Type, Name: s.Name}
		for _, v := range s.Values {
			ls.Values = append(ls.Values, loader.Value{Key: v.Key, Value: v.Value})
		}
		if err := write(&buf, &loader.File{Sections: []*loader.Section{ls}}); err != nil {
			return fmt.Errorf("import: [%s:%s]: %w", s.Type, s.Name, err)
		}
	}
	if err := check(buf.Bytes(), format); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func comments(buf *bytes.Buffer, lines []string) {
	for _, l := range lines {
		for _, part := range strings.Split(l, "\n") {
			buf.WriteString("# " + part + "\n")
		}
	}
}

// check loads the written file as a lab.
func check(data []byte, format string) error {
	name := "imported." + format
	f, err := loader.Parse(name, data)
	if err == nil {
		_, err = compose.Build(f)
	}
	if err != nil {
		return errors.Join(fmt.Errorf("import: the file written does not load as a lab (a bug of import):\n%s", data), err)
	}
	return nil
}
