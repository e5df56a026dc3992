package filter

// drop ends the pipeline with drop: the last stage of a deny-by-default
// pipeline.
type drop struct{}

func init() {
	Register("drop", nil, func(map[string]string, Env) (Filter, error) { return drop{}, nil })
}

func (drop) Judge(*Packet) Verdict { return Drop }
