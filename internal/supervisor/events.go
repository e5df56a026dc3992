package supervisor

import (
	"maps"
	"sync"
	"sync/atomic"
	"time"
)

// SubscriberBuffer is how many events may wait for one subscriber. When a
// subscriber is that far behind, newer events are dropped for it (and
// counted) rather than making a component wait in Env.Event.
var SubscriberBuffer = 256

// hub fans events out to the subscribers of GET /events.
type hub struct {
	mu      sync.Mutex
	subs    map[*subscriber]struct{}
	closed  bool
	dropped atomic.Uint64 // over all subscribers, for Status
}

type subscriber struct {
	ch      chan Event
	dropped atomic.Uint64 // since the last events.dropped it was told of
}

func newHub() *hub { return &hub{subs: map[*subscriber]struct{}{}} }

// subscribe returns a subscriber whose channel is closed when the hub is
// closed, and the function that ends the subscription.
func (h *hub) subscribe() (*subscriber, func()) {
	s := &subscriber{ch: make(chan Event, SubscriberBuffer)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(s.ch)
		return s, func() {}
	}
	h.subs[s] = struct{}{}
	return s, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.subs[s]; ok {
			delete(h.subs, s)
			close(s.ch)
		}
	}
}

// publish hands e to every subscriber without ever waiting. Data is
// copied: the publisher may reuse its map once publish returns.
func (h *hub) publish(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Data = maps.Clone(e.Data)
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		select {
		case s.ch <- e:
		default:
			s.dropped.Add(1)
			h.dropped.Add(1)
		}
	}
}

// close ends every subscription; later publishes go nowhere.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		delete(h.subs, s)
		close(s.ch)
	}
}
