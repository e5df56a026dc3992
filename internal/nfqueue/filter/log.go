package filter

import (
	"encoding/json"
	"io"
	"strconv"
	"sync"
	"time"
)

// logger (kind log) writes one JSON line per packet that reaches it, with
// the verdict the pipeline finally gave (so it may stand anywhere in the
// chain):
//
//	{"time":"…","prefix":"fw","verdict":"drop","proto":"tcp","src":"10.0.0.1","sport":40000,"dst":"10.0.1.2","dport":80,"len":60}
//
// The line is built by appending into one reused buffer, so logging costs
// no allocation of ours per packet.
type logger struct {
	w      io.Writer
	prefix []byte // already a JSON string, quotes included; nil when unset
	now    func() time.Time

	mu  sync.Mutex
	buf []byte
}

func init() { Register("log", []string{"prefix"}, newLog) }

func newLog(args map[string]string, env Env) (Filter, error) {
	l := &logger{w: env.Log, now: time.Now, buf: make([]byte, 0, 256)}
	if v, ok := args["prefix"]; ok {
		l.prefix, _ = json.Marshal(v) // a string always marshals
	}
	return l, nil
}

func (l *logger) Judge(*Packet) Verdict { return Continue }

func (l *logger) Finish(p *Packet, v Verdict) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := append(l.buf[:0], `{"time":"`...)
	b = l.now().UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if l.prefix != nil {
		b = append(b, `,"prefix":`...)
		b = append(b, l.prefix...)
	}
	b = append(b, `,"verdict":"`...)
	b = append(b, v.String()...)
	b = append(b, `","proto":"`...)
	if name := p.ProtocolName(); name != "" {
		b = append(b, name...)
	} else {
		b = strconv.AppendUint(b, uint64(p.Protocol), 10)
	}
	b = append(b, `","src":"`...)
	b = p.Src.AppendTo(b)
	b = append(b, '"')
	if p.Protocol == ProtoTCP || p.Protocol == ProtoUDP {
		b = append(b, `,"sport":`...)
		b = strconv.AppendUint(b, uint64(p.Sport), 10)
	}
	b = append(b, `,"dst":"`...)
	b = p.Dst.AppendTo(b)
	b = append(b, '"')
	if p.Protocol == ProtoTCP || p.Protocol == ProtoUDP {
		b = append(b, `,"dport":`...)
		b = strconv.AppendUint(b, uint64(p.Dport), 10)
	}
	b = append(b, `,"len":`...)
	b = strconv.AppendInt(b, int64(len(p.Data)), 10)
	b = append(b, "}\n"...)
	l.buf = b
	l.w.Write(b) // a log that cannot be written must not hold up packets
}
