package loader

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A file that loads writes back out, as INI and as YAML, and the output
// reads back to what the file did: also when a section inherits from
// another file with use = config: and overrides a global with set.
func TestWriteInheritedAndSet(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
	}{
		{
			name: "a template's get and the using section's set of one global",
			files: map[string]string{
				"lab.ini":  "[DEFAULT]\nmtu = 1400\n[veth:a-b]\nuse = config:base.ini#t\nset mtu = 1300\n",
				"base.ini": "[DEFAULT]\njumbo = 9000\n[veth:t]\nendpoints = a:eth0 b:eth0\nget mtu = jumbo\n",
			},
		},
		{
			name: "get and set of one global in one section",
			files: map[string]string{
				"lab.ini": "[DEFAULT]\nmtu = 1400\njumbo = 9000\n[veth:a-b]\nget mtu = jumbo\nset mtu = 1300\n",
			},
		},
		{
			name: "a template's own set, overridden by the using section's",
			files: map[string]string{
				"lab.ini":  "[DEFAULT]\nmtu = 1400\n[veth:a-b]\nuse = config:base.ini#t\nset mtu = 1300\n",
				"base.ini": "[veth:t]\nendpoints = a:eth0 b:eth0\nset mtu = 1500\nget mtu = mtu\n",
			},
		},
		{
			name: "a template's [DEFAULT] the top file lacks",
			files: map[string]string{
				"lab.yaml":  "DEFAULT: {lab: x}\nveth:a-b: {use: config:base.yaml#t}\n",
				"base.yaml": "DEFAULT: {mtu: 9000}\nveth:t: {endpoints: a:eth0 b:eth0, route: [r1, r2]}\n",
			},
		},
		{
			name: "set globals whose names have blanks",
			files: map[string]string{
				"lab.ini": "[netns:a]\nset a b = 1\nset c\td = 2\n",
			},
		},
	}
	for _, tt := range tests {
		for _, format := range []string{"ini", "yaml"} {
			t.Run(tt.name+"->"+format, func(t *testing.T) {
				f, errs := loadFiles(t, tt.files)
				if len(errs) > 0 {
					t.Fatal(errs)
				}
				write := WriteINI
				if format == "yaml" {
					write = WriteYAML
				}
				var buf bytes.Buffer
				if err := write(&buf, f); err != nil {
					t.Fatal(err)
				}
				back, err := Parse(filepath.Join(filepath.Dir(f.Path), "back."+format), buf.Bytes())
				if err != nil {
					t.Fatalf("reload: %v\n%s", err, buf.String())
				}
				if diff := cmp.Diff(lookupsOf(f, back), lookupsOf(back, f)); diff != "" {
					t.Errorf("(-original +reloaded):\n%s\n%s", diff, buf.String())
				}
			})
		}
	}
}

// What cannot be written is an *Error at the line it comes from, every
// one of them in one run.
func TestWriteErrorsNameTheLine(t *testing.T) {
	f := &File{
		Globals: []Value{{Key: "owner", Value: " me", Pos: Pos{File: "--set owner= me"}}},
		Sections: []*Section{{
			Type: "service", Name: "s", Pos: Pos{File: "lab.yaml", Line: 3},
			Values: []Value{
				{Key: "command", Value: "echo\n# not a comment", Pos: Pos{File: "lab.yaml", Line: 5}},
				{Key: "path", Value: "/", Pos: Pos{File: "lab.yaml", Line: 6}},
				{Key: "note", Value: "x ", Pos: Pos{File: "base.yaml", Line: 9}},
			},
			Globals: map[string]string{"g": "x\n#y"},
		}},
	}
	for _, write := range []func(io.Writer, *File) error{WriteINI, WriteYAML} {
		var buf bytes.Buffer
		err := write(&buf, f)
		if buf.Len() > 0 {
			t.Errorf("wrote %q despite errors", buf.String())
		}
		var lines []string
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			var le *Error
			if !errors.As(e, &le) {
				t.Errorf("not an *Error: %v", e)
			}
			lines = append(lines, e.Error())
		}
		want := []string{
			`--set owner= me: [DEFAULT]: owner: a line of the value starts or ends with white space; not writable`,
			`lab.yaml:3: [service:s]: set g: value line 2 would be a comment; not writable`,
			`lab.yaml:5: [service:s]: command: value line 2 would be a comment; not writable`,
			`base.yaml:9: [service:s]: note: a line of the value starts or ends with white space; not writable`,
		}
		if diff := cmp.Diff(want, lines); diff != "" {
			t.Errorf("errors (-want +got):\n%s", diff)
		}
	}
}
