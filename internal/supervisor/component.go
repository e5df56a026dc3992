// Package supervisor runs a lab's long-running parts — NFQUEUE consumers
// and services — in one detached process per lab (per host slice), and
// lets netcompose hand it the desired set of components and read their
// state over a unix socket in the lab's directory.
package supervisor

import (
	"context"
	"encoding/json"
	"io"
)

// Env is what the supervisor gives a component it starts.
type Env struct {
	// Log receives the component's log lines; the supervisor timestamps
	// them and bounds the file. Write whole lines.
	Log io.Writer
	// Event publishes an event on the lab's event stream (state changes,
	// restarts, counters). Never nil.
	Event func(kind string, data map[string]any)
}

// Running is a started component.
type Running interface {
	// Stats returns the component's counters for `netcompose status`; the
	// value is marshalled to JSON.
	Stats() any
	// Stop ends the component gracefully; ctx bounds how long it may take
	// before the component abandons what it still holds.
	Stop(ctx context.Context) error
	// Done is closed when the component has ended, on its own or by Stop.
	Done() <-chan struct{}
	// Err says why it ended, once Done is closed (nil after Stop).
	Err() error
}

// StartFunc starts a component from its resolved JSON configuration. It
// returns once the component serves (its sockets are open, its queue
// bound), or with the error that prevents it; ctx bounds the start only.
type StartFunc func(ctx context.Context, config json.RawMessage, env Env) (Running, error)
