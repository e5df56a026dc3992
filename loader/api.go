package loader

import "errors"

// Lookup returns the section's own value for key, else the global of that
// name as this section sees it (with its `set` overrides), else false.
func (s *Section) Lookup(key string) (Value, bool) {
	for _, v := range s.Values {
		if v.Key == key {
			return v, true
		}
	}
	if g, ok := s.Globals[key]; ok {
		return Value{Key: key, Value: g, Pos: s.Pos}, true
	}
	return Value{}, false
}

// Load reads the topology file at path (INI, or YAML for .yaml/.yml) and
// resolves every section. The error, if any, joins one *Error per problem.
func Load(path string) (*File, error) {
	return nil, errors.New("loader: not implemented yet")
}
