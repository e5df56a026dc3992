package compose

import (
	"github.com/netcompose/netcompose/loader"
)

// Config is the fully resolved lab for `netcompose config -o json`: an
// object keyed by "type:name", each the string values its section resolved
// to (own keys after use, set, get and interpolation, plus use =
// builtin:... where given), plus, for the keys that kind reads, the global
// value the section sees where it sets none; and "DEFAULT" with the
// globals (without here and __file__). lab may be nil (an invalid file):
// then only the sections' own values are listed.
func Config(f *loader.File, lab *Lab) map[string]map[string]string {
	out := map[string]map[string]string{}
	def := map[string]string{}
	for _, g := range f.Globals {
		if g.Key != "here" && g.Key != "__file__" {
			def[g.Key] = g.Value
		}
	}
	out["DEFAULT"] = def
	var metas map[string]Meta
	if lab != nil {
		metas = lab.metaIndex()
	}
	for _, s := range f.Sections {
		id := s.Type + ":" + s.Name
		m := map[string]string{}
		for _, v := range s.Values {
			m[v.Key] = v.Value
		}
		if s.Use != "" {
			m["use"] = s.Use
		}
		for key := range metas[id].Keys {
			if _, own := m[key]; own {
				continue
			}
			if g, ok := s.Globals[key]; ok {
				m[key] = g
			}
		}
		out[id] = m
	}
	return out
}

// metaIndex indexes the Meta of every section by "type:name".
func (l *Lab) metaIndex() map[string]Meta {
	m := make(map[string]Meta, len(l.metas))
	for _, x := range l.metas {
		m[x.Section] = x
	}
	return m
}
