package supervisor

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/google/go-cmp/cmp"
)

// subscribe collects the lab's events until the test ends. It returns once
// the stream says it is subscribed, so every later event must arrive.
func subscribe(t *testing.T, l *testLab) <-chan Event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan Event, 1<<16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := l.client.Events(ctx, func(e Event) { ch <- e }); err != nil {
			t.Logf("events: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	waitEvent(t, ch, "subscribed", func(e Event) bool { return e.Kind == EventSubscribed })
	return ch
}

// waitEvent reads ch until an event matches.
func waitEvent(t *testing.T, ch <-chan Event, what string, match func(Event) bool) Event {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case e := <-ch:
			if match(e) {
				return e
			}
		case <-deadline:
			t.Fatalf("timed out waiting for event %s", what)
		}
	}
}

func TestEventsReachASubscriberInOrder(t *testing.T) {
	l := startLab(t)
	ch := subscribe(t, l)
	if err := l.client.Publish(t.Context(), Event{Kind: "apply.started", Data: map[string]any{"add": 2}}); err != nil {
		t.Fatal(err)
	}
	l.apply(spec("run", "a", `{"events":2}`))
	l.apply()
	type seen struct {
		Kind, Component string
		N               any
	}
	want := []seen{
		{Kind: "apply.started", N: float64(2)},
		{Kind: "test.hello", Component: "run.a"},
		{Kind: "test.tick", Component: "run.a", N: float64(0)},
		{Kind: "test.tick", Component: "run.a", N: float64(1)},
		{Kind: EventStarted, Component: "run.a"},
		{Kind: EventStopped, Component: "run.a"},
	}
	var got []seen
	for range want {
		e := waitEvent(t, ch, "any", func(Event) bool { return true })
		if e.Time.IsZero() {
			t.Errorf("event %s has no time", e.Kind)
		}
		s := seen{Kind: e.Kind, Component: e.Component, N: e.Data["n"]}
		if e.Kind == "apply.started" {
			s.N = e.Data["add"]
		}
		got = append(got, s)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
}

func TestASlowSubscriberDoesNotBlockComponents(t *testing.T) {
	l := startLab(t)
	// A subscriber that reads its first event, then nothing.
	slow, _, err := websocket.Dial(t.Context(), "ws://supervisor/events", &websocket.DialOptions{HTTPClient: l.client.http})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { slow.CloseNow() })
	slow.SetReadLimit(maxEvent)
	var e Event
	if err := wsjson.Read(t.Context(), slow, &e); err != nil || e.Kind != EventSubscribed {
		t.Fatalf("first event %+v, %v; want subscribed", e, err)
	}

	// 20 MB of events from inside StartFunc: far more than the socket
	// and the subscriber's buffer hold. If Env.Event waited for the
	// subscriber, this start (and so the apply) would never return.
	res := l.apply(spec("run", "flood", `{"events":20000,"event_size":1000}`))
	if res[0].Action != ActionStarted {
		t.Fatalf("flood: %s %s", res[0].Action, res[0].Error)
	}
	if st := l.status(); st.EventsDropped == 0 {
		t.Fatal("status counts no dropped events")
	}
	// Reading again, the slow subscriber learns how much it missed.
	for {
		var e Event
		if err := wsjson.Read(t.Context(), slow, &e); err != nil {
			t.Fatal(err)
		}
		if e.Kind == EventDropped {
			if n, _ := e.Data["count"].(float64); n <= 0 {
				t.Errorf("events.dropped with count %v", e.Data["count"])
			}
			break
		}
	}
}

func TestWatchReconnectsWhenTheSupervisorRestarts(t *testing.T) {
	l := startLab(t)
	ctx, cancel := context.WithCancel(t.Context())
	ch := make(chan Event, 1024)
	done := make(chan error, 1)
	go func() { done <- Watch(ctx, l.dir, func(e Event) { ch <- e }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	}()
	isHello := func(p Process) func(Event) bool {
		return func(e Event) bool { return e.Kind == EventSubscribed && e.Data["pid"] == float64(p.PID) }
	}
	waitEvent(t, ch, "subscribed to the first supervisor", isHello(l.proc))
	if err := Stop(t.Context(), l.dir, l.proc, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	e := waitEvent(t, ch, "watch.disconnected", func(e Event) bool { return e.Kind == EventDisconnected })
	if msg, _ := e.Data["error"].(string); !strings.Contains(msg, ErrStreamClosed.Error()) {
		t.Errorf("disconnected because %q, want the supervisor's clean close", msg)
	}
	l.launch()
	waitEvent(t, ch, "subscribed to the second supervisor", isHello(l.proc))
	if err := l.client.Publish(t.Context(), Event{Kind: "apply.finished"}); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, ch, "apply.finished from the second supervisor", func(e Event) bool { return e.Kind == "apply.finished" })
}
