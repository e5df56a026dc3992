package filter

import (
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// ratelimit is a token bucket: rate packets per second with room for
// burst at once (default: one second's worth). Packets within the limit
// go on; the others are dropped. With per = source each source address
// has its own bucket.
type ratelimit struct {
	rate, burst float64
	perSource   bool
	now         func() time.Duration // monotonic; a field so tests can step it

	mu      sync.Mutex // Judge runs on every queue of a range at once
	global  bucket
	sources map[netip.Addr]bucket
}

type bucket struct {
	tokens float64
	last   time.Duration
}

// maxSources bounds the per-source table; a flood of spoofed sources must
// not grow it without end. See sweep.
const maxSources = 1 << 16

func init() { Register("ratelimit", []string{"rate", "burst", "per"}, newRatelimit) }

func newRatelimit(args map[string]string, _ Env) (Filter, error) {
	rate, err := positive(args["rate"])
	if err != nil {
		return nil, fmt.Errorf("ratelimit: rate: %w", err)
	}
	burst := rate
	if v, ok := args["burst"]; ok {
		if burst, err = positive(v); err != nil {
			return nil, fmt.Errorf("ratelimit: burst: %w", err)
		}
	}
	r := &ratelimit{rate: float64(rate), burst: float64(burst)}
	switch v := args["per"]; v {
	case "":
	case "source":
		r.perSource = true
		r.sources = make(map[netip.Addr]bucket)
	default:
		return nil, fmt.Errorf("ratelimit: per: %q is not source", v)
	}
	start := time.Now()
	r.now = func() time.Duration { return time.Since(start) }
	r.global = bucket{tokens: r.burst}
	return r, nil
}

func positive(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1<<30 {
		return 0, fmt.Errorf("%q is not a number 1..%d", s, 1<<30)
	}
	return n, nil
}

func (r *ratelimit) Judge(p *Packet) Verdict {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.perSource {
		return r.take(&r.global, now)
	}
	b, ok := r.sources[p.Src]
	if !ok {
		if len(r.sources) >= maxSources {
			r.sweep(now)
		}
		b = bucket{tokens: r.burst, last: now}
	}
	v := r.take(&b, now)
	r.sources[p.Src] = b
	return v
}

// take refills b for the time since its last packet and spends a token.
func (r *ratelimit) take(b *bucket, now time.Duration) Verdict {
	b.tokens = min(r.burst, b.tokens+(now-b.last).Seconds()*r.rate)
	b.last = now
	if b.tokens < 1 {
		return Drop
	}
	b.tokens--
	return Continue
}

// sweep forgets the sources whose bucket has refilled (they would start
// afresh anyway); if every source is still active, it forgets them all,
// which grants each a fresh burst once rather than growing without bound.
func (r *ratelimit) sweep(now time.Duration) {
	full := time.Duration(r.burst / r.rate * float64(time.Second))
	for a, b := range r.sources {
		if now-b.last >= full {
			delete(r.sources, a)
		}
	}
	if len(r.sources) >= maxSources {
		clear(r.sources)
	}
}
