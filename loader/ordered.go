package loader

// keyed is what ordered holds: anything with a key.
type keyed interface{ keyOf() string }

func (v Value) keyOf() string  { return v.Key }
func (o rawOpt) keyOf() string { return o.key }

// ordered is a list keyed by name that keeps the first position of a key
// when a later definition replaces it (Python dict update order). It
// scans while small and indexes once it grows.
type ordered[T keyed] struct {
	vals  []T
	index map[string]int
}

// smallOrdered is the size up to which ordered scans instead of indexing:
// most sections have a handful of keys.
const smallOrdered = 8

func (o *ordered[T]) find(key string) (int, bool) {
	if o.index == nil {
		for i := range o.vals {
			if o.vals[i].keyOf() == key {
				return i, true
			}
		}
		return 0, false
	}
	i, ok := o.index[key]
	return i, ok
}

func (o *ordered[T]) put(v T) {
	if i, ok := o.find(v.keyOf()); ok {
		o.vals[i] = v
		return
	}
	o.vals = append(o.vals, v)
	switch {
	case o.index != nil:
		o.index[v.keyOf()] = len(o.vals) - 1
	case len(o.vals) > smallOrdered:
		o.index = make(map[string]int, 2*len(o.vals))
		for i := range o.vals {
			o.index[o.vals[i].keyOf()] = i
		}
	}
}

func (o *ordered[T]) lookup(key string) (T, bool) {
	if i, ok := o.find(key); ok {
		return o.vals[i], true
	}
	var zero T
	return zero, false
}

func (o *ordered[T]) take(key string) (T, bool) {
	i, ok := o.find(key)
	if !ok {
		var zero T
		return zero, false
	}
	v := o.vals[i]
	o.vals = append(o.vals[:i:i], o.vals[i+1:]...)
	if o.index != nil {
		delete(o.index, key)
		for j := i; j < len(o.vals); j++ {
			o.index[o.vals[j].keyOf()] = j
		}
	}
	return v, true
}

func (o *ordered[T]) has(key string) bool { _, ok := o.find(key); return ok }
