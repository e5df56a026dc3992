package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// maxBody bounds a request body: a lab's specs, or one event.
const maxBody = 16 << 20

// eventWriteTimeout bounds the write of one event to a subscriber; a
// subscriber stuck longer loses its stream (and may reconnect).
const eventWriteTimeout = 10 * time.Second

// routes is the control API; quit asks Serve to shut down.
func (s *supervisor) routes(quit func()) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /components", s.handleApply)
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.status())
	})
	mux.HandleFunc("GET /events", s.handleEvents)
	mux.HandleFunc("POST /events", s.handlePublish)
	mux.HandleFunc("POST /shutdown", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "shutting down"})
		quit()
	})
	return mux
}

func (s *supervisor) handleApply(w http.ResponseWriter, r *http.Request) {
	var specs []Spec
	if err := decode(w, r, &specs); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	results, err := s.apply(specs)
	switch {
	case errors.Is(err, ErrShuttingDown):
		writeError(w, http.StatusServiceUnavailable, err)
	case err != nil:
		writeError(w, http.StatusBadRequest, err)
	default:
		writeJSON(w, http.StatusOK, results)
	}
}

func (s *supervisor) handlePublish(w http.ResponseWriter, r *http.Request) {
	var e Event
	if err := decode(w, r, &e); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if e.Kind == "" {
		writeError(w, http.StatusBadRequest, errors.New("event: kind is required"))
		return
	}
	s.hub.publish(e)
	w.WriteHeader(http.StatusNoContent)
}

// handleEvents streams events as JSON text messages. The first tells the
// subscriber which supervisor it talks to, and that it is subscribed:
// every later event reaches it (or is counted in events.dropped).
func (s *supervisor) handleEvents(w http.ResponseWriter, r *http.Request) {
	s.streams.Add(1)
	defer s.streams.Done()
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept has answered
	}
	defer c.CloseNow()
	sub, unsubscribe := s.hub.subscribe()
	defer unsubscribe()
	// We only write; CloseRead handles the client's close and pings, and
	// ends ctx when the client goes.
	ctx := c.CloseRead(context.Background())
	send := func(e Event) error {
		wctx, cancel := context.WithTimeout(ctx, eventWriteTimeout)
		defer cancel()
		return wsjson.Write(wctx, c, e)
	}
	hello := Event{Time: time.Now(), Kind: EventSubscribed,
		Data: map[string]any{"pid": s.self.PID, "start_time": s.self.StartTime, "started": s.started}}
	if send(hello) != nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-sub.ch:
			if !ok {
				c.Close(websocket.StatusGoingAway, "supervisor shutting down")
				return
			}
			if n := sub.dropped.Swap(0); n > 0 {
				if send(Event{Time: time.Now(), Kind: EventDropped, Data: map[string]any{"count": n}}) != nil {
					return
				}
			}
			if send(e) != nil {
				return
			}
		}
	}
}

func decode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s %s: decode body: %w", r.Method, r.URL.Path, err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers {"error": "..."}.
func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}
