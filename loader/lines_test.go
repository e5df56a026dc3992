package loader

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// A problem is reported on the line it is on, also when that is a
// continuation line or a YAML list item, and once.
func TestErrorLines(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		errs  []string
	}{
		{
			name:  "bad % on a continuation line",
			files: map[string]string{"lab.ini": "[netns:a]\nroute = r1\n  r2 50% off\n  r3\n"},
			errs:  []string{`$DIR/lab.ini:3: [netns:a]: route: bad interpolation "% off": '%' must be followed by '%' or '(' (write %% for a literal %)`},
		},
		{
			name:  "unknown name on a continuation line after an empty line and a comment",
			files: map[string]string{"lab.ini": "[netns:a]\nroute = r1\n\n# c\n  %(nope)s\n"},
			errs:  []string{`$DIR/lab.ini:5: [netns:a]: route: unknown key "nope" in %(nope)s`},
		},
		{
			name:  "a [DEFAULT] value's continuation line",
			files: map[string]string{"lab.ini": "[DEFAULT]\nd = a\n  %(d)s\n"},
			errs:  []string{`$DIR/lab.ini:3: [DEFAULT]: d: interpolation loop: d -> d`},
		},
		{
			name:  "a loop is reported at each key on it, at the reference",
			files: map[string]string{"lab.ini": "[netns:a]\nx = 1\n  %(y)s\ny = %(x)s\nz = %(x)s\n"},
			errs: []string{
				`$DIR/lab.ini:3: [netns:a]: x: interpolation loop: x -> y -> x`,
				`$DIR/lab.ini:4: [netns:a]: y: interpolation loop: x -> y -> x`,
			},
		},
		{
			name:  "yaml: a flow list's bad item",
			files: map[string]string{"lab.yaml": "netns:a:\n  l: [a,\n      \"%q\"]\n"},
			errs:  []string{`$DIR/lab.yaml:3: [netns:a]: l: bad interpolation "%q": '%' must be followed by '%' or '(' (write %% for a literal %)`},
		},
		{
			name:  "yaml: a block list's item that would be a comment",
			files: map[string]string{"lab.yaml": "netns:a:\n  l:\n    - a\n    - \"# b\"\n"},
			errs:  []string{`$DIR/lab.yaml:4: [netns:a]: yaml: value line "# b" would be a comment in INI`},
		},
		{
			name:  "yaml: a line of a literal block",
			files: map[string]string{"lab.yaml": "netns:a:\n  s: |\n    a\n\n    b %(nope)s\n"},
			errs:  []string{`$DIR/lab.yaml:5: [netns:a]: s: unknown key "nope" in %(nope)s`},
		},
		{
			name:  "yaml: a nested list item",
			files: map[string]string{"lab.yaml": "netns:a:\n  l:\n    - a\n    - [b]\n"},
			errs:  []string{`$DIR/lab.yaml:4: [netns:a]: yaml: list items must be scalars`},
		},
		{
			name:  "yaml: a flow list reading a bad flow list reports once",
			files: map[string]string{"lab.yaml": "netns:a:\n  l: [a, \"%(m)s\"]\n  m: [b, \"%q\"]\n"},
			errs:  []string{`$DIR/lab.yaml:3: [netns:a]: m: bad interpolation "%q": '%' must be followed by '%' or '(' (write %% for a literal %)`},
		},
		{
			name:  "yaml: the same problem twice on one line reports once",
			files: map[string]string{"lab.yaml": "netns:a: {l: [a, [b]], m: [c, [d]]}\n"},
			errs:  []string{`$DIR/lab.yaml:1: [netns:a]: yaml: list items must be scalars`},
		},
		{
			name:  "a reference to a bad [DEFAULT] value is not reported again",
			files: map[string]string{"lab.ini": "[DEFAULT]\nd = %(e)s\ne = 5%\n[netns:a]\nx = %(d)s\n"},
			errs:  []string{`$DIR/lab.ini:3: [DEFAULT]: e: bad interpolation "%": '%' must be followed by '%' or '(' (write %% for a literal %)`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := loadFiles(t, tt.files)
			if diff := cmp.Diff(tt.errs, errs, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// Each line of a multi-line value knows where it was written, so that
// compose can report an entry of a list (a route, a neighbour) on its
// own line; where that is not known, the value's Pos stands for it.
func TestValueLines(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		key   string
		want  []int // the line of each line of the value
	}{
		{
			name:  "ini continuation lines, an empty line and a comment between",
			files: map[string]string{"lab.ini": "[netns:a]\nroute = r1\n  r2\n\n# c\n  r3\n"},
			key:   "route",
			want:  []int{2, 3, 4, 6},
		},
		{
			name:  "ini value starting on the next line",
			files: map[string]string{"lab.ini": "[netns:a]\nroute =\n  r1\n  r2\n"},
			key:   "route",
			want:  []int{2, 3, 4},
		},
		{
			name:  "yaml list items",
			files: map[string]string{"lab.yaml": "netns:a:\n  route:\n    - r1\n\n    - r2\n"},
			key:   "route",
			want:  []int{3, 5},
		},
		{
			name:  "yaml literal block",
			files: map[string]string{"lab.yaml": "netns:a:\n  route: |\n    r1\n    r2\n"},
			key:   "route",
			want:  []int{3, 4},
		},
		{
			name: "a template's lines are in the template's file",
			files: map[string]string{
				"lab.ini":  "[netns:a]\nuse = config:base.ini#t\n",
				"base.ini": "[netns:t]\n\nroute = r1\n  r2\n",
			},
			key:  "route",
			want: []int{3, 4},
		},
		{
			name:  "one line: Pos is its line",
			files: map[string]string{"lab.ini": "[netns:a]\n\nroute = r1\n"},
			key:   "route",
			want:  []int{3},
		},
		{
			name:  "interpolation that adds lines: unknown, Pos for each",
			files: map[string]string{"lab.ini": "[DEFAULT]\nmore = r2\n  r3\n[netns:a]\nroute = r1\n  %(more)s\n"},
			key:   "route",
			want:  []int{5, 5, 5},
		},
		{
			name:  "get copies a global: its lines are the get's",
			files: map[string]string{"lab.ini": "[DEFAULT]\nrs = r1\n  r2\n[netns:a]\nget route = rs\n"},
			key:   "route",
			want:  []int{5, 5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, errs := loadFiles(t, tt.files)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			v, ok := f.Sections[0].Lookup(tt.key)
			if !ok {
				t.Fatalf("no %s", tt.key)
			}
			var got []int
			for i := range strings.Split(v.Value, "\n") {
				got = append(got, v.Line(i).Line)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
		})
	}
}

// The [DEFAULT] values of the file know their lines too.
func TestGlobalLines(t *testing.T) {
	f, errs := loadFiles(t, map[string]string{"lab.ini": "[DEFAULT]\nrs = r1\n  r2\n[netns:a]\n"})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := []Pos{{File: f.Globals[0].Pos.File, Line: 2}, {File: f.Globals[0].Pos.File, Line: 3}}
	if diff := cmp.Diff(want, f.Globals[0].Lines); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}
