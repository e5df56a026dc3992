package loader

// ordered is a list of values keyed by name that keeps the first position
// of a key when a later definition replaces it (Python dict update order).
type ordered struct {
	vals  []Value
	index map[string]int
}

// smallOrdered is the size up to which ordered scans instead of indexing:
// most sections have a handful of keys.
const smallOrdered = 8

func (o *ordered) find(key string) (int, bool) {
	if o.index == nil {
		for i := range o.vals {
			if o.vals[i].Key == key {
				return i, true
			}
		}
		return 0, false
	}
	i, ok := o.index[key]
	return i, ok
}

func (o *ordered) put(v Value) {
	if i, ok := o.find(v.Key); ok {
		o.vals[i] = v
		return
	}
	o.vals = append(o.vals, v)
	switch {
	case o.index != nil:
		o.index[v.Key] = len(o.vals) - 1
	case len(o.vals) > smallOrdered:
		o.index = make(map[string]int, 2*len(o.vals))
		for i := range o.vals {
			o.index[o.vals[i].Key] = i
		}
	}
}

func (o *ordered) lookup(key string) (Value, bool) {
	if i, ok := o.find(key); ok {
		return o.vals[i], true
	}
	return Value{}, false
}

func (o *ordered) take(key string) (Value, bool) {
	i, ok := o.find(key)
	if !ok {
		return Value{}, false
	}
	v := o.vals[i]
	o.vals = append(o.vals[:i:i], o.vals[i+1:]...)
	if o.index != nil {
		delete(o.index, key)
		for j := i; j < len(o.vals); j++ {
			o.index[o.vals[j].Key] = j
		}
	}
	return v, true
}

func (o *ordered) has(key string) bool { _, ok := o.find(key); return ok }
