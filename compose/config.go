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
		metas = lab.metas()
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

// metas indexes the Meta of every typed object by "type:name".
func (l *Lab) metas() map[string]Meta {
	m := map[string]Meta{}
	add := func(x Meta) { m[x.Section] = x }
	for _, x := range l.Nodes {
		add(x.Meta)
	}
	for _, x := range l.Veths {
		add(x.Meta)
	}
	for _, x := range l.Bridges {
		add(x.Meta)
	}
	for _, x := range l.Vxlans {
		add(x.Meta)
	}
	for _, x := range l.ARPs {
		add(x.Meta)
	}
	for _, x := range l.NFQueues {
		add(x.Meta)
	}
	for _, x := range l.Filters {
		add(x.Meta)
	}
	for _, x := range l.Pipelines {
		add(x.Meta)
	}
	for _, x := range l.Services {
		add(x.Meta)
	}
	for _, x := range l.Kmods {
		add(x.Meta)
	}
	for _, x := range l.Checks {
		add(x.Meta)
	}
	for _, x := range l.Hosts {
		add(x.Meta)
	}
	return m
}
