// Package filter holds the builtin packet filters of netcompose's NFQUEUE
// pipelines and the registry that names them. A filter sees one decoded
// packet at a time and says accept, drop, or continue to the next stage.
//
// Each builtin lives in its own file and registers itself from init, as
// CoreDNS plugins do: adding a kind is adding a file. The filters are kept
// apart from the queue runtime (package nfqueue) so that they can be
// tested on packets built in memory, without a kernel or root.
package filter

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Verdict is what a stage decides for a packet. The first decisive verdict
// (Accept, Drop or Default) ends the pipeline; Continue passes the packet
// on to the next stage.
type Verdict uint8

const (
	Continue Verdict = iota
	Accept
	Drop
	// Default ends the pipeline with the queue's default verdict, as if the
	// packet had fallen through every stage (a match used as a guard).
	Default
)

func (v Verdict) String() string {
	switch v {
	case Accept:
		return "accept"
	case Drop:
		return "drop"
	case Default:
		return "default"
	default:
		return "continue"
	}
}

// Filter judges packets. Judge is called from several goroutines at once
// (one per queue of a balanced range), so filters guard their own state.
// It must not keep p, nor allocate on the way of an ordinary packet.
type Filter interface {
	Judge(p *Packet) Verdict
}

// Finisher is a filter that wants the pipeline's final verdict for the
// packets that reached it (log writes it); Finish runs after the verdict
// is known, once per packet that passed through Judge.
type Finisher interface {
	Finish(p *Packet, v Verdict)
}

// Counter is a filter with counters of its own, shown in the status
// (count's packets and bytes).
type Counter interface {
	Counters() map[string]uint64
}

// Env is what a filter may use beyond its keys.
type Env struct {
	// Log receives whole lines (log's JSON). Never nil once through New.
	Log io.Writer
}

// Factory builds a filter from its section's keys, which the registry has
// already checked against the kind's known keys.
type Factory func(args map[string]string, env Env) (Filter, error)

type kind struct {
	keys []string
	new  Factory
}

var (
	mu    sync.RWMutex
	kinds = map[string]kind{}
)

// Register adds a builtin kind with the keys it reads. It panics on a
// duplicate: two files claiming one kind is a programming error.
func Register(name string, keys []string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := kinds[name]; dup {
		panic("filter: kind " + name + " registered twice")
	}
	kinds[name] = kind{keys: slices.Clone(keys), new: f}
}

// Kinds lists the registered kinds, sorted.
func Kinds() []string {
	mu.RLock()
	defer mu.RUnlock()
	return slices.Sorted(maps.Keys(kinds))
}

// New builds a filter of the named kind. Unknown kinds and keys are
// errors, all of them named.
func New(name string, args map[string]string, env Env) (Filter, error) {
	mu.RLock()
	k, ok := kinds[name]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("unknown filter kind %q (want %s)", name, strings.Join(Kinds(), ", "))
	}
	var unknown []string
	for key := range args {
		if !slices.Contains(k.keys, key) {
			unknown = append(unknown, key)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("%s: unknown keys %s (want %s)", name, strings.Join(unknown, ", "), strings.Join(k.keys, ", "))
	}
	if env.Log == nil {
		env.Log = io.Discard
	}
	return k.new(args, env)
}
