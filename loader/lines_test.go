package loader

import (
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
