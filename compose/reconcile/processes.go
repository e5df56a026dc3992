package reconcile

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/labdir"
	"github.com/netcompose/netcompose/internal/nfqueue"
	"github.com/netcompose/netcompose/internal/service"
	"github.com/netcompose/netcompose/internal/supervisor"
)

// ProcessStatus is the lab's processes as its supervisor reports them.
type ProcessStatus struct {
	// PID is the recorded supervisor's; 0 when none is recorded.
	PID int `json:"pid,omitempty"`
	// Running: the supervisor is alive and answered.
	Running bool      `json:"running"`
	Started time.Time `json:"started,omitzero"`
	// Error says why a live supervisor's status could not be read.
	Error      string      `json:"error,omitempty"`
	Components []Component `json:"components"`
}

// Component is one process of the lab: what the supervisor says of it
// (its raw Stats included), the node it runs in, and its counters decoded
// by kind for display.
type Component struct {
	supervisor.ComponentStatus
	Node    string         `json:"node,omitempty"`
	Queue   *nfqueue.Stats `json:"-"` // an nfqueue's Stats
	Service *service.Stats `json:"-"` // a service's Stats
}

// StateNotRunning is a component the file wants that the supervisor does
// not run (or no supervisor runs at all).
const StateNotRunning supervisor.State = "not running"

// Reporter is Processes that can describe what runs: the supervisor can.
type Reporter interface {
	// Report returns nil when no supervisor is recorded for key.
	Report(ctx context.Context, key string) (*ProcessStatus, error)
}

// Report asks the lab's supervisor how its components are doing. A
// supervisor that is recorded but dead, or does not answer, is reported
// as not running.
func (s *Supervisor) Report(ctx context.Context, key string) (*ProcessStatus, error) {
	rec, alive, err := running(key)
	if err != nil || rec == nil {
		return nil, err
	}
	ps := &ProcessStatus{PID: rec.PID}
	if !alive {
		return ps, nil
	}
	dir, err := labdir.For(key)
	if err != nil {
		return nil, err
	}
	c, err := supervisor.Dial(dir)
	if err != nil {
		ps.Error = "alive but not answering on its socket"
		return ps, nil
	}
	defer c.Close()
	st, err := c.Status(ctx)
	if err != nil {
		ps.Error = err.Error()
		return ps, nil
	}
	ps.Running, ps.Started = true, st.Started
	for _, cs := range st.Components {
		ps.Components = append(ps.Components, Component{ComponentStatus: cs})
	}
	return ps, nil
}

// processStatus describes the lab's processes: what the supervisor runs,
// and what the file wants that it does not. nil for a lab that wants none
// and has no supervisor. Without a Reporter, a component is running when
// procs observed it (in actual).
func processStatus(ctx context.Context, key string, desired, actual []compose.Resource, procs Processes) (*ProcessStatus, error) {
	var ps *ProcessStatus
	if r, ok := procs.(Reporter); ok {
		var err error
		if ps, err = r.Report(ctx, key); err != nil {
			return nil, err
		}
	}
	var want []compose.Resource
	for _, r := range desired {
		if r.Kind.Info().Held {
			want = append(want, r)
		}
	}
	if ps == nil && len(want) == 0 {
		return nil, nil
	}
	if ps == nil {
		ps = &ProcessStatus{}
	}
	node := nodesOf(want)
	have := map[string]bool{}
	for i := range ps.Components {
		c := &ps.Components[i]
		id := c.Kind + "/" + c.Name
		have[id], c.Node = true, node[id]
		decodeStats(c)
	}
	_, reports := procs.(Reporter)
	for _, r := range want {
		if have[string(r.Kind)+"/"+r.Name] {
			continue
		}
		c := Component{Node: r.Attrs["node"],
			ComponentStatus: supervisor.ComponentStatus{Kind: string(r.Kind), Name: r.Name, Hash: r.Attrs["hash"], State: StateNotRunning}}
		if i := slices.IndexFunc(actual, func(a compose.Resource) bool { return a.ID() == r.ID() }); !reports && i >= 0 {
			c.State, c.Hash = supervisor.StateRunning, actual[i].Attrs["hash"]
		}
		ps.Components = append(ps.Components, c)
	}
	if ps.Components == nil {
		ps.Components = []Component{}
	}
	slices.SortFunc(ps.Components, func(a, b Component) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name))
	})
	return ps, nil
}

// nodesOf maps the processes among rs, by kind/name as the supervisor
// names its components, to the node each runs in.
func nodesOf(rs []compose.Resource) map[string]string {
	node := map[string]string{}
	for _, r := range rs {
		if r.Kind.Info().Held {
			node[string(r.Kind)+"/"+r.Name] = r.Attrs["node"]
		}
	}
	return node
}

// decodeStats reads a component's Stats as its kind writes them; what
// does not decode stays raw (in Stats) only.
func decodeStats(c *Component) {
	if len(c.Stats) == 0 {
		return
	}
	switch compose.Kind(c.Kind) {
	case compose.KindNFQueue:
		var q nfqueue.Stats
		if json.Unmarshal(c.Stats, &q) == nil {
			c.Queue = &q
		}
	case compose.KindService:
		var s service.Stats
		if json.Unmarshal(c.Stats, &s) == nil {
			c.Service = &s
		}
	}
}
