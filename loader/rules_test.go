package loader

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestRules(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  view
		errs  []string
	}{
		{
			name:  "keys keep their case",
			files: map[string]string{"lab.ini": "[netns:a]\nMTU = 1\nmtu = 2\n"},
			want:  view{"netns:a": {"MTU": "1", "mtu": "2"}},
		},
		{
			name:  "colon delimiter and first delimiter wins",
			files: map[string]string{"lab.ini": "[veth:a]\nendpoints: x:eth0 y:eth0\nk = a=b\n"},
			want:  view{"veth:a": {"endpoints": "x:eth0 y:eth0", "k": "a=b"}},
		},
		{
			name:  "name after the colon is stripped, type is case-sensitive",
			files: map[string]string{"lab.ini": "[netns:  a ]\n[Netns:b]\n"},
			want:  view{"netns:a": {}},
			errs:  []string{`$DIR/lab.ini:2: [Netns:b]: unknown section type "Netns" (types: arp bridge check filter host kmod netns nfqueue pipeline portgroup service veth vxlan)`},
		},
		{
			name:  "continuation lines join with newlines, trailing empty lines drop",
			files: map[string]string{"lab.ini": "[netns:a]\nroute = r1\n  r2\n\n  r3\n\n\n[netns:b]\n"},
			want:  view{"netns:a": {"route": "r1\nr2\n\nr3"}, "netns:b": {}},
		},
		{
			name:  "no inline comments, comment lines anywhere",
			files: map[string]string{"lab.ini": "; c\n[netns:a]\n# c\nk = v # not a comment\n  ; c\n"},
			want:  view{"netns:a": {"k": "v # not a comment"}},
		},
		{
			name:  "interpolation from own keys, globals, here, recursively",
			files: map[string]string{"lab.ini": "[DEFAULT]\nd = %(here)s/d\n[netns:a]\nx = %(y)s!\ny = %(d)s %(z)s\nz = 100%%\n"},
			want:  view{"DEFAULT": {"d": "$DIR/d"}, "netns:a": {"x": "$DIR/d 100%!", "y": "$DIR/d 100%", "z": "100%"}},
		},
		{
			name:  "set overrides a global for the section only",
			files: map[string]string{"lab.ini": "[DEFAULT]\nmtu = 1\n[veth:a]\nset mtu = 2\nget m = mtu\n[veth:b]\nget m = mtu\n"},
			want:  view{"DEFAULT": {"mtu": "1"}, "veth:a": {"m": "2"}, "veth:b": {"m": "1"}},
		},
		{
			name: "use: the using section's keys win, template keys come first",
			files: map[string]string{"lab.ini": "[netns:t]\na = 1\nb = 2\n" +
				"[netns:u]\nc = 3\nuse = t\nb = 20\n"},
			want: view{"netns:t": {"a": "1", "b": "2"}, "netns:u": {"a": "1", "b": "20", "c": "3"}},
		},
		{
			name:  "use builtin stays as Use, also through a template",
			files: map[string]string{"lab.ini": "[filter:t]\nuse = builtin:log\nlevel = 1\n[filter:u]\nuse = t\nlevel = 2\n"},
			want:  view{"filter:t": {"use": "builtin:log", "level": "1"}, "filter:u": {"use": "builtin:log", "level": "2"}},
		},
		{
			name: "config: across files, relative path, default name main",
			files: map[string]string{
				"lab.ini":     "[DEFAULT]\nx = outer\n[netns:a]\nuse = config:t/t.ini\n[netns:b]\nuse = config:t/t.ini#other\n",
				"t/t.ini":     "[DEFAULT]\nx = inner\n[netns:main]\nv = %(x)s %(here)s\n[netns:other]\nuse = config:../u/u.yaml#m\n",
				"u/u.yaml":    "netns:m:\n  w: \"%(x)s\"\n",
				"unused.yaml": "",
			},
			// [netns:b] reaches u.yaml through t.ini, which hands down
			// the outer x over its own: u.yaml lacks x, so %(x)s reads it.
			want: view{"DEFAULT": {"x": "outer"}, "netns:a": {"v": "inner $DIR/t"}, "netns:b": {"w": "outer"}},
		},
		{
			name: "globals of the using file fill names a template lacks",
			files: map[string]string{
				"lab.ini": "[DEFAULT]\nsite = s1\n[netns:a]\nuse = config:t.ini\nset site = s2\n",
				"t.ini":   "[netns:main]\nv = %(site)s\nget w = site\n",
			},
			want: view{"DEFAULT": {"site": "s1"}, "netns:a": {"v": "s2", "w": "s2"}},
		},
		{
			name: "a template's get reads the using file's globals over its own DEFAULT",
			files: map[string]string{
				"lab.ini": "[DEFAULT]\nsite = s1\n[netns:a]\nuse = config:t.ini\n",
				"t.ini":   "[DEFAULT]\nsite = t\n[netns:main]\nget w = site\nv = %(site)s\n",
			},
			want: view{"DEFAULT": {"site": "s1"}, "netns:a": {"w": "s1", "v": "t"}},
		},
		{
			name:  "shadowed DEFAULT key is refused with the set hint",
			files: map[string]string{"lab.ini": "[DEFAULT]\nmtu = 1\n[veth:a]\nmtu = 2\n"},
			want:  view{"DEFAULT": {"mtu": "1"}, "veth:a": {}},
			errs:  []string{`$DIR/lab.ini:4: [veth:a]: "mtu" is also a [DEFAULT] key, and PasteDeploy silently ignores it in a section; use "set mtu = 2" to override [DEFAULT]`},
		},
		{
			name:  "every error of a run is reported, in line order",
			files: map[string]string{"lab.ini": "[netns:a]\nx = %(q)s\n[netns:a]\n[netns:b]\nuse = b\n"},
			want:  view{"netns:a": {}, "netns:b": {}},
			errs: []string{
				`$DIR/lab.ini:2: [netns:a]: x: unknown key "q" in %(q)s`,
				`$DIR/lab.ini:3: [netns:a]: duplicate section (first at $DIR/lab.ini:1)`,
				`$DIR/lab.ini:5: [netns:b]: use cycle: [netns:b] -> [netns:b]`,
			},
		},
		{
			name:  "yaml: lists, scalars and null",
			files: map[string]string{"lab.yaml": "DEFAULT:\n  n: 1\nnetns:a:\n  l: [a, b]\n  e: ~\n  s: |\n    x\n      y\n  set n: 2\n  get m: n\nnetns:b:\n"},
			want:  view{"DEFAULT": {"n": "1"}, "netns:a": {"l": "a\nb", "e": "", "s": "x\ny", "m": "2"}, "netns:b": {}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, errs := loadFiles(t, tt.files)
			got := viewOf(f)
			// Paths differ per run: compare them through $DIR.
			for _, m := range got {
				for k, v := range m {
					m[k] = replaceDir(v, f.Path)
				}
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.errs, errs, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}
