package filter

import "sync/atomic"

// count counts the packets and bytes that reach it and lets them go on;
// its counters appear in the status under the stage's name.
type count struct {
	packets, bytes atomic.Uint64
}

func init() {
	Register("count", nil, func(map[string]string, Env) (Filter, error) { return &count{}, nil })
}

func (c *count) Judge(p *Packet) Verdict {
	c.packets.Add(1)
	c.bytes.Add(uint64(len(p.Data)))
	return Continue
}

func (c *count) Counters() map[string]uint64 {
	return map[string]uint64{"packets": c.packets.Load(), "bytes": c.bytes.Load()}
}
