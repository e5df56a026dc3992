package filter

import "sync/atomic"

// Stage is one filter of a pipeline, under its section's name.
type Stage struct {
	Name, Kind string
	Filter     Filter
}

// Chain runs a flattened pipeline: the stages in order until one decides;
// what falls through every stage gets the default verdict.
type Chain struct {
	stages    []Stage
	finishers []int // indexes of stages that are Finishers
	def       Verdict
}

// NewChain builds a chain whose fall-through verdict is def (Accept or
// Drop).
func NewChain(stages []Stage, def Verdict) *Chain {
	c := &Chain{stages: stages, def: def}
	for i, s := range stages {
		if _, ok := s.Filter.(Finisher); ok {
			c.finishers = append(c.finishers, i)
		}
	}
	return c
}

// Stages returns the chain's stages (not to be changed).
func (c *Chain) Stages() []Stage { return c.stages }

// Run judges p and returns Accept or Drop, counting into t (one Tally per
// goroutine; nil counts nothing).
func (c *Chain) Run(p *Packet, t *Tally) Verdict {
	v, by := c.def, len(c.stages) // by: the deciding stage, len = none
	for i, s := range c.stages {
		if t != nil {
			t.Stages[i].Seen.Add(1)
		}
		r := s.Filter.Judge(p)
		if r == Continue {
			continue
		}
		if r != Default {
			v = r
		}
		by = i
		break
	}
	if t != nil {
		t.count(by, v)
	}
	for _, i := range c.finishers {
		if i > by {
			break
		}
		c.stages[i].Filter.(Finisher).Finish(p, v)
	}
	return v
}

// Tally counts what a chain decided, per stage and in all. A Tally has one
// writer (a queue's goroutine); readers load its counters at any time.
type Tally struct {
	Accept, Drop atomic.Uint64 // final verdicts
	Fallthrough  atomic.Uint64 // packets no stage decided
	Stages       []StageTally
}

// StageTally counts for one stage: packets that reached it and the
// verdicts it gave (a guard's Default counts as the verdict it led to).
type StageTally struct {
	Seen, Accept, Drop atomic.Uint64
}

// NewTally returns a tally for c.
func (c *Chain) NewTally() *Tally { return &Tally{Stages: make([]StageTally, len(c.stages))} }

func (t *Tally) count(by int, v Verdict) {
	if v == Accept {
		t.Accept.Add(1)
	} else {
		t.Drop.Add(1)
	}
	if by == len(t.Stages) {
		t.Fallthrough.Add(1)
		return
	}
	if v == Accept {
		t.Stages[by].Accept.Add(1)
	} else {
		t.Stages[by].Drop.Add(1)
	}
}
