package filter

import (
	"fmt"
	"strconv"
)

// mark sets the packet's nfmark (mark) and/or its connection's mark
// (connmark). The marks travel with the verdict, so they take effect only
// when the packet is accepted; mark itself decides nothing.
type mark struct {
	mark, connmark       uint32
	setMark, setConnMark bool
}

func init() { Register("mark", []string{"mark", "connmark"}, newMark) }

func newMark(args map[string]string, _ Env) (Filter, error) {
	m := &mark{}
	var err error
	if v, ok := args["mark"]; ok {
		if m.mark, err = uint32Of(v); err != nil {
			return nil, fmt.Errorf("mark: mark: %w", err)
		}
		m.setMark = true
	}
	if v, ok := args["connmark"]; ok {
		if m.connmark, err = uint32Of(v); err != nil {
			return nil, fmt.Errorf("mark: connmark: %w", err)
		}
		m.setConnMark = true
	}
	if !m.setMark && !m.setConnMark {
		return nil, fmt.Errorf("mark: missing mark or connmark")
	}
	return m, nil
}

func uint32Of(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 0, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not a 32-bit number", s)
	}
	return uint32(n), nil
}

func (m *mark) Judge(p *Packet) Verdict {
	if m.setMark {
		p.SetMark(m.mark)
	}
	if m.setConnMark {
		p.SetConnMark(m.connmark)
	}
	return Continue
}
