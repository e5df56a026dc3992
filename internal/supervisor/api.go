package supervisor

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"time"
)

// The control API's values. They travel as JSON over the socket, so any
// client (curl --unix-socket, a script) can use them; docs/supervisor.md
// describes them field by field.

// Spec is one component the supervisor is asked to run.
type Spec struct {
	Kind string `json:"kind"` // a key of the kinds handed to Serve: "nfqueue", "service"
	Name string `json:"name"`
	// Hash identifies the configuration: a component whose hash changes is
	// restarted, one whose hash stays is left alone (Hash computes it).
	Hash   string          `json:"hash"`
	Config json.RawMessage `json:"config,omitempty"`
}

// ID is the component's name in logs, events and status: "kind.name".
func (s Spec) ID() string { return s.Kind + "." + s.Name }

// Action is what an apply did to one component.
type Action string

const (
	ActionStarted   Action = "started"   // new
	ActionRestarted Action = "restarted" // hash changed, or it had failed
	ActionStopped   Action = "stopped"   // no longer listed
	ActionUnchanged Action = "unchanged" // running with the same hash
	ActionFailed    Action = "failed"    // could not be started; Error says why
)

// Result is an apply's outcome for one component. A stopped component may
// carry an Error too: it did not stop cleanly (it was abandoned).
type Result struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Action Action `json:"action"`
	Error  string `json:"error,omitempty"`
}

// State is a component's state in Status.
type State string

const (
	StateRunning State = "running"
	// StateFailed: it could not start, it ended on its own, or it panicked
	// in a call of the supervisor. The next apply starts it again.
	StateFailed State = "failed"
	// StateStopped: it is being stopped (during a shutdown).
	StateStopped State = "stopped"
)

// ComponentStatus is one component in Status.
type ComponentStatus struct {
	Kind  string    `json:"kind"`
	Name  string    `json:"name"`
	Hash  string    `json:"hash"`
	State State     `json:"state"`
	Since time.Time `json:"since"` // when it entered State
	// Restarts counts the starts by apply after the first: hash changes and
	// restarts of a failed component.
	Restarts int    `json:"restarts"`
	Error    string `json:"error,omitempty"`
	// Stats is what the component's Stats returned (null when not running).
	Stats json.RawMessage `json:"stats,omitempty"`
}

// Status is the answer of GET /status.
type Status struct {
	Lab       string    `json:"lab"`
	PID       int       `json:"pid"`
	StartTime uint64    `json:"start_time"` // field 22 of /proc/PID/stat: see Process
	Started   time.Time `json:"started"`
	// EventsDropped counts events not delivered to slow subscribers.
	EventsDropped uint64            `json:"events_dropped"`
	Components    []ComponentStatus `json:"components"`
}

// Process is the supervisor process the status comes from.
func (s Status) Process() Process { return Process{PID: s.PID, StartTime: s.StartTime} }

// Event is one message of the event stream (GET /events) and what
// POST /events publishes.
type Event struct {
	Time time.Time `json:"time"`
	Kind string    `json:"kind"`
	// Component is "kind.name", empty for events of the supervisor or of
	// an apply.
	Component string         `json:"component,omitempty"`
	Data      map[string]any `json:"data,omitempty"`
}

// Event kinds the supervisor publishes itself. Components publish theirs
// (Env.Event) under names of their own; apply publishes "apply.started"
// and "apply.finished" through POST /events.
const (
	EventSubscribed = "subscribed" // first event of every stream: data pid, started
	EventStarted    = "component.started"
	EventRestarted  = "component.restarted"
	EventStopped    = "component.stopped"
	EventFailed     = "component.failed" // data error
	EventDropped    = "events.dropped"   // data count: events this subscriber missed
	EventShutdown   = "supervisor.shutdown"
	// EventDisconnected is made by Watch, never sent by a supervisor: the
	// stream broke (data error) and Watch is reconnecting.
	EventDisconnected = "watch.disconnected"
)

// Hash is the hex sha256 of config's canonical JSON (object keys sorted,
// no insignificant space), so a reformatted but equal configuration keeps
// its component running. Invalid JSON is hashed as it is.
func Hash(config json.RawMessage) string {
	b := bytes.TrimSpace(config)
	if len(b) == 0 {
		b = []byte("null")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // keep numbers as written: no float rounding
	var v any
	if err := dec.Decode(&v); err == nil && errors.Is(dec.Decode(new(any)), io.EOF) {
		if c, err := json.Marshal(v); err == nil {
			b = c
		}
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
