package service

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/netcompose/netcompose/internal/nsrun"
)

// handshakeStatus dials and returns the HTTP status of a refused
// handshake and its body; it fails the test if the handshake succeeds.
func handshakeStatus(t *testing.T, ns, url string, h http.Header) (int, string) {
	t.Helper()
	c, resp, err := dial(timeout(t), ns, url, h)
	if err == nil {
		c.CloseNow()
		t.Fatalf("handshake to %s succeeded, want it refused", url)
	}
	if resp == nil {
		t.Fatalf("handshake to %s: %v, no response", url, err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestMaxConnections: with max_connections = 2 a third client is refused
// with 503 and the reason; once one leaves, a new one gets in.
func TestMaxConnections(t *testing.T) {
	srv, cli := pair(t)
	run, _ := start(t, Config{Name: "small", Netns: nsrun.Path(srv), Kind: Echo, Listen: "10.9.0.1:8080", MaxConnections: 2})
	url := "ws://10.9.0.1:8080/"
	a := mustDial(t, cli, url)
	mustDial(t, cli, url)
	status, body := handshakeStatus(t, cli, url, nil)
	if status != 503 || !strings.Contains(body, "max_connections 2 reached") {
		t.Errorf("third client: %d %q, want 503 naming max_connections", status, body)
	}
	if st := stats(run); st.Rejected != 1 || st.Connections != 2 {
		t.Errorf("stats %+v, want 2 connections, 1 rejected", st)
	}
	a.Close(websocket.StatusNormalClosure, "")
	waitFor(t, "a slot to free", func() bool { return stats(run).Connections == 1 })
	mustDial(t, cli, url)
}

// TestMaxMessage: a message up to max_message is echoed; a larger one
// closes the connection with 1009 (message too big).
func TestMaxMessage(t *testing.T) {
	srv, cli := pair(t)
	start(t, Config{Name: "tight", Netns: nsrun.Path(srv), Kind: Echo, Listen: "10.9.0.1:8080", MaxMessage: 1024})
	c := mustDial(t, cli, "ws://10.9.0.1:8080/")
	ok := bytes.Repeat([]byte("a"), 1024)
	if _, got := exchange(t, c, websocket.MessageBinary, ok); !bytes.Equal(got, ok) {
		t.Fatalf("1024 bytes: echo of %d bytes", len(got))
	}
	ctx := timeout(t)
	if err := c.Write(ctx, websocket.MessageBinary, bytes.Repeat([]byte("a"), 1025)); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.Read(ctx)
	if got := websocket.CloseStatus(err); got != websocket.StatusMessageTooBig {
		t.Errorf("after 1025 bytes: %v (status %d), want close 1009", err, got)
	}
}

// TestOrigins: with an origins list the handshake needs a matching
// Origin: a listed one passes, another and a missing one get 403 with the
// reason. A plain HTTP service applies the same list.
func TestOrigins(t *testing.T) {
	srv, cli := pair(t)
	start(t, Config{Name: "guarded", Netns: nsrun.Path(srv), Kind: Echo, Listen: "10.9.0.1:8080",
		Origins: []string{"app.example", "https://*.lab.example"}})
	url := "ws://10.9.0.1:8080/"
	for _, origin := range []string{"http://app.example", "https://ui.lab.example"} {
		c, _, err := dial(timeout(t), cli, url, http.Header{"Origin": {origin}})
		if err != nil {
			t.Errorf("origin %s: %v, want accepted", origin, err)
			continue
		}
		c.CloseNow()
	}
	for _, tt := range []struct{ origin, reason string }{
		{"http://evil.example", `origin "http://evil.example" not allowed`},
		{"http://ui.lab.example", `origin "http://ui.lab.example" not allowed`}, // the pattern wants https
		{"", "origin missing"},
	} {
		h := http.Header{}
		if tt.origin != "" {
			h.Set("Origin", tt.origin)
		}
		status, body := handshakeStatus(t, cli, url, h)
		if status != 403 || !strings.Contains(body, tt.reason) {
			t.Errorf("origin %q: %d %q, want 403 %q", tt.origin, status, body, tt.reason)
		}
	}

	start(t, Config{Name: "page", Netns: nsrun.Path(srv), Kind: HTTP, Listen: "10.9.0.1:80", Origins: []string{"app.example"}})
	req, _ := http.NewRequest("GET", "http://10.9.0.1/", nil)
	req.Header.Set("Origin", "http://evil.example")
	resp, err := client(cli).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("http with a foreign origin: %d, want 403", resp.StatusCode)
	}
}

// TestIdleTimeout: a connection with no message either way for
// idle_timeout is closed normally, saying why; one kept busy is not.
func TestIdleTimeout(t *testing.T) {
	srv, cli := pair(t)
	start(t, Config{Name: "idle", Netns: nsrun.Path(srv), Kind: Echo, Listen: "10.9.0.1:8080", IdleTimeout: 300 * time.Millisecond})
	c := mustDial(t, cli, "ws://10.9.0.1:8080/")
	busy := mustDial(t, cli, "ws://10.9.0.1:8080/")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if err := busy.Write(context.Background(), websocket.MessageText, []byte("tick")); err != nil {
				return
			}
			if _, _, err := busy.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	_, _, err := c.Read(timeout(t))
	var ce websocket.CloseError
	if !asClose(err, &ce) || ce.Code != websocket.StatusNormalClosure || !strings.Contains(ce.Reason, "idle for 300ms") {
		t.Errorf("idle connection: %v, want close 1000 idle for 300ms", err)
	}
	close(stop)
	wg.Wait()
	if _, got := exchange(t, busy, websocket.MessageText, []byte("still")); string(got) != "still" {
		t.Errorf("busy connection: got %q after the idle one closed", got)
	}
}

// TestStopGoingAway: Stop closes every client with 1001, then the
// listener is gone, Done is closed, Err is nil and the state is stopped.
func TestStopGoingAway(t *testing.T) {
	srv, cli := pair(t)
	rec := &recorder{}
	run, err := startJSON(Config{Name: "leaving", Netns: nsrun.Path(srv), Kind: Broadcast, Listen: "10.9.0.1:8080"}, rec.env())
	if err != nil {
		t.Fatal(err)
	}
	var conns []*websocket.Conn
	for range 3 {
		conns = append(conns, mustDial(t, cli, "ws://10.9.0.1:8080/room"))
	}
	waitFor(t, "3 connections", func() bool { return stats(run).Connections == 3 })
	codes := make(chan websocket.StatusCode, len(conns))
	for _, c := range conns {
		go func() {
			_, _, err := c.Read(context.Background())
			codes <- websocket.CloseStatus(err)
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := run.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	for range conns {
		if code := <-codes; code != websocket.StatusGoingAway {
			t.Errorf("client closed with %d, want 1001", code)
		}
	}
	select {
	case <-run.Done():
	default:
		t.Error("Done not closed after Stop")
	}
	if run.Err() != nil || stats(run).State != StateStopped {
		t.Errorf("after stop: err %v, state %s; want nil, stopped", run.Err(), stats(run).State)
	}
	if listening(t, srv, "10.9.0.1:8080") {
		t.Error("still listening after Stop")
	}
	states := []string{}
	for _, e := range rec.eventsOf(EventState) {
		states = append(states, e.data["state"].(string))
	}
	if got := strings.Join(states, " "); got != "running stopping stopped" {
		t.Errorf("state events %q, want running stopping stopped", got)
	}
}

func asClose(err error, ce *websocket.CloseError) bool {
	return errors.As(err, ce)
}

// TestStopHTTPInFlight: Stop lets a request in flight finish: one waiting
// out its delay is answered at once rather than cut.
func TestStopHTTPInFlight(t *testing.T) {
	srv, cli := pair(t)
	run, err := startJSON(Config{Name: "slow", Netns: nsrun.Path(srv), Kind: HTTP, Listen: "10.9.0.1:80",
		Body: "late", Delay: time.Hour}, (&recorder{}).env())
	if err != nil {
		t.Fatal(err)
	}
	type answer struct {
		status int
		body   string
		err    error
	}
	got := make(chan answer, 1)
	go func() {
		resp, err := client(cli).Get("http://10.9.0.1/")
		if err != nil {
			got <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- answer{resp.StatusCode, string(b), err}
	}()
	waitFor(t, "the request to arrive", func() bool { return stats(run).MessagesIn == 1 })
	if err := run.Stop(timeout(t)); err != nil {
		t.Fatal(err)
	}
	if a := <-got; a.err != nil || a.status != 200 || a.body != "late" {
		t.Errorf("request in flight: %d %q %v, want 200 late", a.status, a.body, a.err)
	}
}
