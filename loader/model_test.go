package loader

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestValuesOrderPosAndGlobals(t *testing.T) {
	f, errs := loadFiles(t, map[string]string{
		"lab.ini": "[DEFAULT]\nlab = x\n\n[netns:a]\nuse = config:t.ini\nset mtu = 9\nb = own\nget l = lab\n",
		"t.ini":   "[netns:main]\na = 1\nb = 2\nset q = 3\n",
	})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	dir := f.Path[:len(f.Path)-len("/lab.ini")]
	top, tmpl := f.Sections[0].Pos.File, dir+"/t.ini"
	wantValues := []Value{
		{Key: "a", Value: "1", Pos: Pos{File: tmpl, Line: 2}},
		{Key: "b", Value: "own", Pos: Pos{File: top, Line: 7}},
		{Key: "l", Value: "x", Pos: Pos{File: top, Line: 8}},
	}
	if diff := cmp.Diff(wantValues, f.Sections[0].Values); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	wantGlobals := map[string]string{"lab": "x", "mtu": "9", "q": "3", "here": dir, "__file__": f.Path}
	if diff := cmp.Diff(wantGlobals, f.Sections[0].Globals); diff != "" {
		t.Errorf("section globals (-want +got):\n%s", diff)
	}
	wantFile := []Value{{Key: "lab", Value: "x", Pos: Pos{File: top, Line: 2}}}
	if diff := cmp.Diff(wantFile, f.Globals); diff != "" {
		t.Errorf("file globals (-want +got):\n%s", diff)
	}
	if got, ok := f.Sections[0].Lookup("mtu"); !ok || got.Value != "9" {
		t.Errorf("Lookup(mtu) = %v, %v; want the set global 9", got, ok)
	}
}

func TestDialect(t *testing.T) {
	tests := []struct {
		name string
		file string
		want view
		errs []string
	}{
		{
			name: "CRLF and a byte order mark",
			file: "\ufeff[netns:a]\r\nk = v\r\n  w\r\n",
			want: view{"netns:a": {"k": "v\nw"}},
		},
		{
			name: "text after the closing bracket of a header is ignored",
			file: "[netns:a] junk\nk = v\n",
			want: view{"netns:a": {"k": "v"}},
		},
		{
			name: "an indented first key is a key, an indented header after a key is a value line",
			file: "[netns:a]\n  k = v\n    [netns:b]\n",
			want: view{"netns:a": {"k": "v\n[netns:b]"}},
		},
		{
			name: "empty values",
			file: "[netns:a]\nk =\nj:\n",
			want: view{"netns:a": {"k": "", "j": ""}},
		},
		{
			name: "several DEFAULT sections merge",
			file: "[DEFAULT]\na = 1\n[netns:x]\n[DEFAULT]\nb = %(a)s\n",
			want: view{"DEFAULT": {"a": "1", "b": "1"}, "netns:x": {}},
		},
		{
			name: "a same-file template does not see the using section's new globals",
			file: "[netns:t]\nv = %(fresh)s\n[netns:u]\nuse = t\nset fresh = 1\n",
			want: view{"netns:t": {}, "netns:u": {}},
			errs: []string{`$DIR/lab.ini:2: [netns:t]: v: unknown key "fresh" in %(fresh)s`},
		},
		{
			name: "the builtin scheme is case-insensitive and normalised",
			file: "[filter:a]\nuse = BuiltIn:log\n",
			want: view{"filter:a": {"use": "builtin:log"}},
		},
		{
			name: "a pipeline takes no use",
			file: "[pipeline:p]\npipeline = a b\n[pipeline:q]\nuse = p\n",
			want: view{"pipeline:p": {"pipeline": "a b"}, "pipeline:q": {}},
			errs: []string{`$DIR/lab.ini:4: [pipeline:q]: a pipeline takes no use (PasteDeploy would refuse it as an extra setting); list the stages in pipeline =`},
		},
		{
			name: "a failed reference is reported once, at the key it is in, whichever key reads it first",
			file: "[netns:a]\nx = %(y)s\ny = %(nope)s\nz = 1\n",
			want: view{"netns:a": {"z": "1"}},
			errs: []string{
				`$DIR/lab.ini:3: [netns:a]: y: unknown key "nope" in %(nope)s`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, errs := loadFiles(t, map[string]string{"lab.ini": tt.file})
			if diff := cmp.Diff(tt.want, viewOf(f), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.errs, errs, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestYAMLAliases(t *testing.T) {
	f, errs := loadFiles(t, map[string]string{"lab.yaml": "netns:a: &a\n  k: &v value\nnetns:b: *a\nnetns:c:\n  j: *v\n"})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := view{"netns:a": {"k": "value"}, "netns:b": {"k": "value"}, "netns:c": {"j": "value"}}
	if diff := cmp.Diff(want, viewOf(f)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestWrite(t *testing.T) {
	f, errs := loadFiles(t, map[string]string{"lab.ini": `[DEFAULT]
lab = w
pct = 5%%

[filter:log]
use = builtin:log
note = %(pct)s of %(lab)s
set lab = other

[netns:a]
route = default via 10.0.0.1

  198.51.100.0/24 via 10.0.0.2
get pct = lab
`})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	wantINI := `[DEFAULT]
lab = w
pct = 5%%

[filter:log]
use = builtin:log
set lab = other
note = 5%% of w

[netns:a]
set pct = w
route = default via 10.0.0.1

	198.51.100.0/24 via 10.0.0.2
`
	wantYAML := `DEFAULT:
  lab: w
  pct: 5%%
filter:log:
  use: builtin:log
  set lab: other
  note: 5%% of w
netns:a:
  set pct: w
  route:
    - default via 10.0.0.1
    - ""
    - 198.51.100.0/24 via 10.0.0.2
`
	for _, tt := range []struct {
		name  string
		write func(*bytes.Buffer, *File) error
		want  string
	}{
		{"ini", func(b *bytes.Buffer, f *File) error { return WriteINI(b, f) }, wantINI},
		{"yaml", func(b *bytes.Buffer, f *File) error { return WriteYAML(b, f) }, wantYAML},
	} {
		var buf bytes.Buffer
		if err := tt.write(&buf, f); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, buf.String()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestWriteRefusesWhatDoesNotReadBack(t *testing.T) {
	f := &File{Sections: []*Section{{Type: "netns", Name: "a", Values: []Value{{Key: "k", Value: " leading"}}}}}
	if err := WriteINI(&bytes.Buffer{}, f); err == nil {
		t.Error("WriteINI wrote a value with a leading blank")
	}
	f.Sections[0].Values[0] = Value{Key: "k", Value: "a\n# b"}
	if err := WriteYAML(&bytes.Buffer{}, f); err == nil {
		t.Error("WriteYAML wrote a value line that INI reads as a comment")
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/does-not-exist.ini")
	var le *Error
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want a *Error", err)
	}
	if want := "testdata/does-not-exist.ini: no such file or directory"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}
