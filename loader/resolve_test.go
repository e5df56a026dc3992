package loader

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// values is an ordered list of key = value pairs, in the order given.
func values(kv ...string) ordered[Value] {
	var o ordered[Value]
	for i := 0; i+1 < len(kv); i += 2 {
		o.put(Value{Key: kv[i], Value: kv[i+1]})
	}
	return o
}

// TestGlobalConf builds a section's global_conf as ConfigLoader.get_context
// does: [DEFAULT], then what the using section hands down, then the sets.
func TestGlobalConf(t *testing.T) {
	type m = map[string]string
	for _, tc := range []struct {
		name        string
		defs, outer m
		sets        ordered[Value]
		want        m
	}{
		{"the file's [DEFAULT] alone", m{"a": "1", "here": "/d"}, nil, values(),
			m{"a": "1", "here": "/d"}},
		{"a handed-down global overrides [DEFAULT]", m{"a": "1", "b": "2"}, m{"a": "outer", "c": "3"}, values(),
			m{"a": "outer", "b": "2", "c": "3"}},
		{"a set overrides [DEFAULT] and a handed-down global", m{"a": "1", "b": "2"}, m{"a": "outer", "c": "3"}, values("a", "set", "c", "set", "d", "new"),
			m{"a": "set", "b": "2", "c": "set", "d": "new"}},
		{"a later set of a name wins", m{}, nil, values("a", "first", "a", "second"),
			m{"a": "second"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defs := make(m, len(tc.defs))
			for k, v := range tc.defs {
				defs[k] = v
			}
			got := globalConf(tc.defs, tc.outer, tc.sets)
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("global_conf (-want +got):\n%s", d)
			}
			if d := cmp.Diff(defs, tc.defs); d != "" {
				t.Errorf("[DEFAULT] changed (-before +after):\n%s", d)
			}
		})
	}
}

// TestResultExtend lays a using section over its template's result, as
// ConfigLoader._context_from_use does.
func TestResultExtend(t *testing.T) {
	type m = map[string]string
	for _, tc := range []struct {
		name       string
		template   result
		sv         sectionValues
		gc         m
		wantValues []Value
		wantGlobal m
	}{
		{
			name:       "a builtin takes the using section's global_conf",
			template:   result{use: "builtin:netns"},
			sv:         sectionValues{local: values("mtu", "1400")},
			gc:         m{"__file__": "/labs/lab.ini", "a": "1"},
			wantValues: []Value{{Key: "mtu", Value: "1400"}},
			wantGlobal: m{"__file__": "/labs/lab.ini", "a": "1"},
		},
		{
			name:       "the using section's values win, in the template's order",
			template:   result{values: values("a", "t", "b", "t"), globals: m{"__file__": "/labs/t.ini"}},
			sv:         sectionValues{local: values("c", "u", "a", "u")},
			gc:         m{"__file__": "/labs/lab.ini"},
			wantValues: []Value{{Key: "a", Value: "u"}, {Key: "b", Value: "t"}, {Key: "c", Value: "u"}},
			wantGlobal: m{"__file__": "/labs/lab.ini"},
		},
		{
			name:       "the template's global_conf, updated by the sets only, keeps the user's __file__",
			template:   result{globals: m{"__file__": "/labs/t.ini", "here": "/labs", "x": "t", "y": "t"}},
			sv:         sectionValues{sets: values("x", "set")},
			gc:         m{"__file__": "/labs/lab.ini", "here": "/other", "y": "user's", "z": "user's"},
			wantGlobal: m{"__file__": "/labs/lab.ini", "here": "/labs", "x": "set", "y": "t"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.template
			r.extend(tc.sv, tc.gc)
			if d := cmp.Diff(tc.wantValues, r.values.vals, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("values (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantGlobal, r.globals); d != "" {
				t.Errorf("globals (-want +got):\n%s", d)
			}
		})
	}
}
