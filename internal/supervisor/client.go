package supervisor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/netcompose/netcompose/internal/labdir"
)

// ErrNotRunning is returned by Dial when nothing answers on the socket.
var ErrNotRunning = errors.New("supervisor not running")

// ErrStreamClosed is returned by Events when the supervisor ends the
// stream because it is shutting down.
var ErrStreamClosed = errors.New("the supervisor closed the stream: it is shutting down")

// maxEvent bounds one event read from the stream.
const maxEvent = 1 << 20

// Client talks to one lab's supervisor over its socket.
type Client struct {
	dir  labdir.Dir
	http *http.Client
}

// Dial connects to the lab's supervisor; it fails with ErrNotRunning when
// none answers.
func Dial(dir labdir.Dir) (*Client, error) {
	c, err := net.DialTimeout("unix", dir.Socket(), time.Second)
	if err != nil {
		return nil, fmt.Errorf("supervisor %s: %w: %w", dir.Key, ErrNotRunning, err)
	}
	c.Close()
	path := dir.Socket()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		MaxIdleConns: 2,
	}
	return &Client{dir: dir, http: &http.Client{Transport: tr}}, nil
}

// Close releases the client's idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Apply hands the supervisor the full desired set of components and
// returns what it did to each (Result). Components it runs that specs do
// not list are stopped.
func (c *Client) Apply(ctx context.Context, specs []Spec) ([]Result, error) {
	if specs == nil {
		specs = []Spec{} // "null" would not be a list
	}
	var out []Result
	err := c.do(ctx, http.MethodPut, "/components", specs, &out)
	return out, err
}

// Status returns the supervisor's and its components' state.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.do(ctx, http.MethodGet, "/status", nil, &st)
	return st, err
}

// Publish puts e on the lab's event stream.
func (c *Client) Publish(ctx context.Context, e Event) error {
	return c.do(ctx, http.MethodPost, "/events", e, nil)
}

// Shutdown asks the supervisor to stop its components and exit; it
// returns once the request is accepted, not when the process has ended
// (Stop waits for that).
func (c *Client) Shutdown(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/shutdown", nil, nil)
}

// Events calls fn for each event of the stream, in order, until ctx ends
// (nil) or the stream breaks (an error: the supervisor stopped or
// restarted). fn runs on the reading goroutine: a slow fn makes this
// subscriber miss events, never the supervisor wait.
func (c *Client) Events(ctx context.Context, fn func(Event)) error {
	conn, _, err := websocket.Dial(ctx, "ws://supervisor/events", &websocket.DialOptions{HTTPClient: c.http})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("supervisor %s: events: %w", c.dir.Key, err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(maxEvent)
	for {
		var e Event
		if err := wsjson.Read(ctx, conn, &e); err != nil {
			if ctx.Err() != nil {
				conn.Close(websocket.StatusNormalClosure, "")
				return nil
			}
			if websocket.CloseStatus(err) == websocket.StatusGoingAway {
				return fmt.Errorf("supervisor %s: events: %w", c.dir.Key, ErrStreamClosed)
			}
			return fmt.Errorf("supervisor %s: events: %w", c.dir.Key, err)
		}
		fn(e)
	}
}

// do sends one request; an answer of 400 or more becomes an error carrying
// the supervisor's message.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("supervisor %s: %s %s: encode: %w", c.dir.Key, method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://supervisor"+path, body)
	if err != nil {
		return fmt.Errorf("supervisor %s: %s %s: %w", c.dir.Key, method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("supervisor %s: %s %s: %w", c.dir.Key, method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e)
		if resp.StatusCode == http.StatusServiceUnavailable {
			return fmt.Errorf("supervisor %s: %s %s: %w", c.dir.Key, method, path, ErrShuttingDown)
		}
		return fmt.Errorf("supervisor %s: %s %s: %s: %s", c.dir.Key, method, path, resp.Status, e.Error)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("supervisor %s: %s %s: decode answer: %w", c.dir.Key, method, path, err)
	}
	return nil
}

// Watch is Events that outlives the supervisor: when the stream breaks
// (the supervisor is stopped, killed or restarted) it calls fn once with
// a watch.disconnected event and reconnects with back-off (0.1 s doubling
// to 5 s). A new stream starts with a "subscribed" event naming the new
// supervisor's pid. It returns nil when ctx ends.
func Watch(ctx context.Context, dir labdir.Dir, fn func(Event)) error {
	const first, most = 100 * time.Millisecond, 5 * time.Second
	wait := first
	told := false // of this outage
	for {
		c, err := Dial(dir)
		if err == nil {
			err = c.Events(ctx, func(e Event) {
				wait, told = first, false
				fn(e)
			})
			c.Close()
		}
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			err = errors.New("stream ended")
		}
		if !told {
			fn(Event{Time: time.Now(), Kind: EventDisconnected, Data: map[string]any{"error": err.Error()}})
			told = true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, most)
	}
}
