package loader

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// sectionGlobals is each section's Globals, without here and __file__.
func sectionGlobals(f *File) map[string]map[string]string {
	out := map[string]map[string]string{}
	if f == nil {
		return out
	}
	for _, s := range f.Sections {
		g := map[string]string{}
		for k, v := range s.Globals {
			if k != "here" && k != "__file__" {
				g[k] = v
			}
		}
		out[s.Type+":"+s.Name] = g
	}
	return out
}

// Section.Globals is PasteDeploy's global_conf of the section.
func TestSectionGlobals(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		globals map[string]map[string]string
	}{
		{
			name: "a template's [DEFAULT] keys reach the using section, the using file's win (test_foreign_config)",
			files: map[string]string{
				"lab.ini": "[DEFAULT]\ndef1 = a\ndef2 = b\n[netns:a]\nuse = config:t.ini\nset glob = override\n",
				"t.ini":   "[DEFAULT]\ndef2 = from include\ndef3 = c\n[netns:main]\nset glob = orig\nset tset = t\n",
			},
			globals: map[string]map[string]string{"netns:a": {"def1": "a", "def2": "b", "def3": "c", "glob": "override", "tset": "t"}},
		},
		{
			name: "through two hops, the nearer file wins",
			files: map[string]string{
				"lab.ini": "[DEFAULT]\nx = outer\n[netns:a]\nuse = config:t.ini\n",
				"t.ini":   "[DEFAULT]\nx = t\ny = t\n[netns:main]\nuse = config:u.ini\n",
				"u.ini":   "[DEFAULT]\nx = u\ny = u\nz = u\n[netns:main]\nset s = u\n",
			},
			globals: map[string]map[string]string{"netns:a": {"x": "outer", "y": "t", "z": "u", "s": "u"}},
		},
		{
			name: "a same-file template's sets reach the using section, its own win",
			files: map[string]string{
				"lab.ini": "[DEFAULT]\nx = d\n[netns:t]\nset x = t\nset y = t\n[netns:u]\nuse = t\nset y = u\n",
			},
			globals: map[string]map[string]string{"netns:t": {"x": "t", "y": "t"}, "netns:u": {"x": "t", "y": "u"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, errs := loadFiles(t, tt.files)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if diff := cmp.Diff(tt.globals, sectionGlobals(f)); diff != "" {
				t.Errorf("globals (-want +got):\n%s", diff)
			}
			dir := replaceDir(f.Sections[0].Globals["here"], f.Path)
			if file := replaceDir(f.Sections[0].Globals["__file__"], f.Path); dir != "$DIR" || file != "$DIR/lab.ini" {
				t.Errorf("here, __file__ = %s, %s; want those of the using file", dir, file)
			}
		})
	}
}

// WithGlobals gives globals as PasteDeploy's global_conf of loadapp.
func TestWithGlobals(t *testing.T) {
	set := func(kv ...string) []Value {
		var out []Value
		for i := 0; i+1 < len(kv); i += 2 {
			out = append(out, Value{Key: kv[i], Value: kv[i+1], Pos: Pos{File: "--set " + kv[i] + "=" + kv[i+1]}})
		}
		return out
	}
	tests := []struct {
		name    string
		files   map[string]string
		set     []Value
		want    view
		globals map[string]map[string]string
		errs    []string
	}{
		{
			name:    "they win over [DEFAULT] for get and the globals, set wins over them",
			files:   map[string]string{"lab.ini": "[DEFAULT]\nlab = file\n[netns:a]\nget l = lab\n[netns:b]\nset lab = b\nget l = lab\n"},
			set:     set("lab", "cli"),
			want:    view{"DEFAULT": {"lab": "cli"}, "netns:a": {"l": "cli"}, "netns:b": {"l": "b"}},
			globals: map[string]map[string]string{"netns:a": {"lab": "cli"}, "netns:b": {"lab": "b"}},
		},
		{
			name:    "they fill the names [DEFAULT] lacks for %(...)s, and come after [DEFAULT]",
			files:   map[string]string{"lab.ini": "[DEFAULT]\nlab = x\n[netns:a]\naddress = %(net)s.1\n"},
			set:     set("net", "10.1.0"),
			want:    view{"DEFAULT": {"lab": "x", "net": "10.1.0"}, "netns:a": {"address": "10.1.0.1"}},
			globals: map[string]map[string]string{"netns:a": {"lab": "x", "net": "10.1.0"}},
		},
		{
			name:    "%(...)s may read a [DEFAULT] key they give the same value",
			files:   map[string]string{"lab.ini": "[DEFAULT]\nnet = 10.0.0\n[netns:a]\naddress = %(net)s.1\n"},
			set:     set("net", "10.0.0"),
			want:    view{"DEFAULT": {"net": "10.0.0"}, "netns:a": {"address": "10.0.0.1"}},
			globals: map[string]map[string]string{"netns:a": {"net": "10.0.0"}},
		},
		{
			name:    "%(...)s reading a [DEFAULT] key they give another value is an error, in a section and in [DEFAULT]",
			files:   map[string]string{"lab.ini": "[DEFAULT]\nnet = 10.0.0\ngw = %(net)s.254\n[netns:a]\naddress = %(net)s.1\n"},
			set:     set("net", "10.1.0"),
			want:    view{"DEFAULT": {"net": "10.1.0"}, "netns:a": {}},
			globals: map[string]map[string]string{"netns:a": {"net": "10.1.0"}},
			errs: []string{
				`$DIR/lab.ini:3: [DEFAULT]: gw: %(net)s reads [DEFAULT] net = "10.0.0", not --set net=10.1.0: PasteDeploy interpolates with the file's own [DEFAULT] first; leave net out of [DEFAULT] to give it from outside`,
				`$DIR/lab.ini:5: [netns:a]: address: %(net)s reads [DEFAULT] net = "10.0.0", not --set net=10.1.0: PasteDeploy interpolates with the file's own [DEFAULT] first; leave net out of [DEFAULT] to give it from outside`,
			},
		},
		{
			name: "a template is handed them, its own [DEFAULT] winning for its %(...)s only",
			files: map[string]string{
				"lab.ini": "[netns:a]\nuse = config:t.ini\n",
				"t.ini":   "[DEFAULT]\nmtu = 1500\n[netns:main]\nlabel = %(lab)s-%(mtu)s\nget m = mtu\n",
			},
			set:     set("lab", "cli", "mtu", "9000"),
			want:    view{"DEFAULT": {"lab": "cli", "mtu": "9000"}, "netns:a": {"label": "cli-1500", "m": "9000"}},
			globals: map[string]map[string]string{"netns:a": {"lab": "cli", "mtu": "9000"}},
		},
		{
			name:    "a plain key of the same name is refused",
			files:   map[string]string{"lab.ini": "[netns:a]\nmtu = 1500\n"},
			set:     set("mtu", "9000"),
			want:    view{"DEFAULT": {"mtu": "9000"}, "netns:a": {}},
			globals: map[string]map[string]string{"netns:a": {"mtu": "9000"}},
			errs:    []string{`$DIR/lab.ini:2: [netns:a]: "mtu" is also a global given from outside (--set mtu=9000), and PasteDeploy silently ignores it in a section; use "set mtu = 1500" to override it, or choose another name`},
		},
		{
			name:    "the last of a key wins",
			files:   map[string]string{"lab.ini": "[netns:a]\n"},
			set:     set("lab", "one", "lab", "two"),
			want:    view{"DEFAULT": {"lab": "two"}, "netns:a": {}},
			globals: map[string]map[string]string{"netns:a": {"lab": "two"}},
		},
		{
			name:    "here, __file__, set, get, bad keys and % are refused",
			files:   map[string]string{"lab.ini": "[netns:a]\n"},
			set:     set("here", "/x", "__file__", "/y", "set a", "1", "a=b", "1", " a", "1", "pct", "5%", "ok", "1"),
			want:    view{"DEFAULT": {"ok": "1"}, "netns:a": {}},
			globals: map[string]map[string]string{"netns:a": {"ok": "1"}},
			errs: []string{
				`--set here=/x: "here" is set by netcompose to the file's directory; choose another name`,
				`--set __file__=/y: "__file__" is set by netcompose to the file's path; choose another name`,
				`--set set a=1: "set a": set and get belong in sections, not in globals`,
				`--set a=b=1: key "a=b" contains "=", ":" or a newline`,
				`--set  a=1: key " a" starts or ends with white space`,
				`--set pct=5%: pct: the value may not contain %: PasteDeploy would interpolate it where %(...)s reads it, and not where get does`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, errs := loadFiles(t, tt.files, WithGlobals(tt.set...))
			if diff := cmp.Diff(tt.want, viewOf(f), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.globals, sectionGlobals(f)); diff != "" {
				t.Errorf("globals (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.errs, errs, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// File.Globals carries each given global at its Pos, in [DEFAULT]'s
// order, the others after it.
func TestWithGlobalsPositions(t *testing.T) {
	f, errs := loadFiles(t, map[string]string{"lab.ini": "[DEFAULT]\na = 1\nlab = file\n"},
		WithGlobals(Value{Key: "z", Value: "9", Pos: Pos{File: "--set z=9"}}, Value{Key: "lab", Value: "cli", Pos: Pos{File: "--set lab=cli"}}))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := []Value{
		{Key: "a", Value: "1", Pos: Pos{File: f.Globals[0].Pos.File, Line: 2}},
		{Key: "lab", Value: "cli", Pos: Pos{File: "--set lab=cli"}},
		{Key: "z", Value: "9", Pos: Pos{File: "--set z=9"}},
	}
	if diff := cmp.Diff(want, f.Globals); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// A global handed to a template is interpolated again there, as
// PasteDeploy's ConfigParser does with all its defaults: a "%" that came
// from "%%" fails the use, as it fails PasteDeploy's whole load.
func TestPercentHandedToTemplate(t *testing.T) {
	_, errs := loadFiles(t, map[string]string{
		"lab.ini": "[DEFAULT]\nnote = 100%%\n[netns:a]\nuse = config:t.ini\n",
		"t.ini":   "[netns:main]\nv = 1\n",
	})
	want := []string{`$DIR/lab.ini:4: [netns:a]: use = config:t.ini: the global note = "100%" is interpolated again in $DIR/t.ini, as PasteDeploy does: bad interpolation "%": '%' must be followed by '%' or '(' (write %% for a literal %)`}
	if diff := cmp.Diff(want, errs); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}
