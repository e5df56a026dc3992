package nfqueue

import (
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/nfqueue/filter"
)

// Config is the JSON configuration of one queue component: what the
// supervisor hands Start. ConfigFrom builds it from a lab.
type Config struct {
	Lab  string `json:"lab"`
	Name string `json:"name"` // the [nfqueue:] section
	// NetNS is the namespace's bind mount, /run/netns/NAME.
	NetNS string `json:"netns"`
	// QueueFirst..QueueLast are the queue numbers served, one consumer
	// each (a balanced range when they differ).
	QueueFirst uint16 `json:"queue_first"`
	QueueLast  uint16 `json:"queue_last"`
	// Fail is "closed" (packets are dropped when the queue is full or
	// nothing serves it) or "open" (they are accepted).
	Fail string `json:"fail"`
	// Default is the verdict for packets no stage decides: "accept"
	// (when empty) or "drop".
	Default string `json:"default,omitempty"`
	// MaxQueueLen bounds the packets waiting for a verdict in the kernel,
	// per queue; 0 means DefaultMaxQueueLen.
	MaxQueueLen uint32 `json:"max_queue_len,omitempty"`
	// Stages is the pipeline, flattened, in order.
	Stages []Stage `json:"stages"`
}

// Stage is one filter of the flattened pipeline.
type Stage struct {
	Name string            `json:"name"` // the [filter:] section
	Kind string            `json:"kind"` // its builtin
	Args map[string]string `json:"args,omitempty"`
}

// DefaultMaxQueueLen is the kernel queue length when the config names
// none: deeper than the kernel's 1024, so that a burst waits for the
// consumer rather than meeting fail-open or fail-closed at once.
const DefaultMaxQueueLen = 4096

// ConfigFrom resolves the queue q of lab into a component config: its
// pipeline (a [pipeline:] of filters and nested pipelines, or one
// [filter:]) becomes the flat list of stages. nsPath is the node's
// namespace (/run/netns/NAME).
func ConfigFrom(lab *compose.Lab, q *compose.NFQueue, nsPath string) (Config, error) {
	c := Config{
		Lab:        lab.Name,
		Name:       q.Name,
		NetNS:      nsPath,
		QueueFirst: uint16(q.QueueFirst),
		QueueLast:  uint16(q.QueueLast),
		Fail:       q.Fail,
		Default:    "accept",
	}
	if c.Fail == "" {
		c.Fail = "closed"
	}
	stages, err := flatten(lab, q.Pipeline, nil)
	if err != nil {
		return Config{}, fmt.Errorf("nfqueue %s: pipeline: %w", q.Name, err)
	}
	c.Stages = stages
	return c, c.validate()
}

// flatten expands name into filters; path holds the pipelines being
// expanded, to refuse a loop even if validation missed it.
func flatten(lab *compose.Lab, name string, path []string) ([]Stage, error) {
	var pipe *compose.Pipeline
	for _, p := range lab.Pipelines {
		if p.Name == name {
			pipe = p
		}
	}
	var filt *compose.Filter
	for _, f := range lab.Filters {
		if f.Name == name {
			filt = f
		}
	}
	switch {
	case pipe != nil && filt != nil:
		return nil, fmt.Errorf("%q is both a [pipeline:] and a [filter:]", name)
	case filt != nil:
		return []Stage{{Name: filt.Name, Kind: filt.Kind, Args: maps.Clone(filt.Args)}}, nil
	case pipe == nil:
		return nil, fmt.Errorf("no [pipeline:%s] or [filter:%s]", name, name)
	}
	for _, p := range path {
		if p == name {
			return nil, fmt.Errorf("cycle: %s -> %s", strings.Join(path, " -> "), name)
		}
	}
	path = append(path, name)
	var out []Stage
	for _, s := range pipe.Stages {
		sub, err := flatten(lab, s, path)
		if err != nil {
			return nil, err
		}
		out = append(out, sub...)
	}
	return out, nil
}

// validate checks what Start relies on; every problem in one error.
func (c *Config) validate() error {
	var errs []error
	if !strings.HasPrefix(c.NetNS, "/") {
		errs = append(errs, fmt.Errorf("netns: %q is not an absolute path", c.NetNS))
	}
	if c.QueueFirst > c.QueueLast {
		errs = append(errs, fmt.Errorf("queue: %d-%d is not a range", c.QueueFirst, c.QueueLast))
	}
	if c.Fail != "open" && c.Fail != "closed" {
		errs = append(errs, fmt.Errorf("fail: %q is not open or closed", c.Fail))
	}
	if c.Default != "" && c.Default != "accept" && c.Default != "drop" {
		errs = append(errs, fmt.Errorf("default: %q is not accept or drop", c.Default))
	}
	for i, s := range c.Stages {
		if _, err := filter.New(s.Kind, s.Args, filter.Env{}); err != nil {
			errs = append(errs, fmt.Errorf("stage %d (%s): %w", i+1, s.Name, err))
		}
	}
	return errors.Join(errs...)
}

// setsConnmark says whether a stage sets the connection mark.
func (c *Config) setsConnmark() bool {
	for _, s := range c.Stages {
		if _, ok := s.Args["connmark"]; ok && s.Kind == "mark" {
			return true
		}
	}
	return false
}

// chain builds the filters of the config's stages, logging to env's log.
func (c *Config) chain(log filter.Env) (*filter.Chain, error) {
	stages := make([]filter.Stage, len(c.Stages))
	for i, s := range c.Stages {
		f, err := filter.New(s.Kind, s.Args, log)
		if err != nil {
			return nil, fmt.Errorf("stage %d (%s): %w", i+1, s.Name, err)
		}
		stages[i] = filter.Stage{Name: s.Name, Kind: s.Kind, Filter: f}
	}
	def := filter.Accept
	if c.Default == "drop" {
		def = filter.Drop
	}
	return filter.NewChain(stages, def), nil
}
