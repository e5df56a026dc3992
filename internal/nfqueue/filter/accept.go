package filter

// accept ends the pipeline with accept: the last stage of an allow-list,
// or after a match that only counts.
type accept struct{}

func init() {
	Register("accept", nil, func(map[string]string, Env) (Filter, error) { return accept{}, nil })
}

func (accept) Judge(*Packet) Verdict { return Accept }
