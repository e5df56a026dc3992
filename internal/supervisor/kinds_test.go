package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
)

// testKinds are the fake component kinds the test supervisor runs.
var testKinds = map[string]StartFunc{
	"run":  startFake(""),     // runs until stopped
	"fail": startFail,         // cannot start
	"die":  startFake("die"),  // ends on its own right after starting
	"hang": startFake("hang"), // ignores Stop, forever
	// panics in the call named by its config's panic_in: start, stats, stop
	"panic": startFake("panic"),
}

// fakeConfig is what a fake component does besides running.
type fakeConfig struct {
	Lines     int    `json:"lines"`      // log lines written at start
	Events    int    `json:"events"`     // events published at start
	EventSize int    `json:"event_size"` // bytes of padding in each
	Child     bool   `json:"child"`      // start a `sleep` that Stop leaves behind
	PanicIn   string `json:"panic_in"`
}

// serial numbers the starts in this process, so that a test can tell a
// restarted component (new serial) from one left alone.
var serial atomic.Int64

type fake struct {
	serial  int64
	cfg     fakeConfig
	hang    bool
	child   *exec.Cmd
	done    chan struct{}
	endOnce sync.Once
	err     error
	log     func(string)
}

func startFail(ctx context.Context, config json.RawMessage, env Env) (Running, error) {
	return nil, errors.New("cannot bind queue 7")
}

func startFake(mode string) StartFunc {
	return func(ctx context.Context, config json.RawMessage, env Env) (Running, error) {
		f := &fake{serial: serial.Add(1), done: make(chan struct{}), hang: mode == "hang",
			log: func(s string) { fmt.Fprintln(env.Log, s) }}
		if len(config) > 0 {
			if err := json.Unmarshal(config, &f.cfg); err != nil {
				return nil, fmt.Errorf("config: %w", err)
			}
		}
		if mode == "panic" && f.cfg.PanicIn == "start" {
			panic("start exploded")
		}
		if mode != "panic" {
			f.cfg.PanicIn = ""
		}
		if f.cfg.Child {
			f.child = exec.Command("sleep", "3600")
			if err := f.child.Start(); err != nil {
				return nil, fmt.Errorf("child: %w", err)
			}
			go f.child.Wait()
		}
		f.log(fmt.Sprintf("instance %d started", f.serial))
		for i := range f.cfg.Lines {
			f.log(fmt.Sprintf("line %d", i))
		}
		env.Event("test.hello", map[string]any{"instance": f.serial})
		pad := strings.Repeat("x", f.cfg.EventSize)
		for i := range f.cfg.Events {
			env.Event("test.tick", map[string]any{"n": i, "pad": pad})
		}
		if mode == "die" {
			go f.end(errors.New("lost its queue"))
		}
		return f, nil
	}
}

func (f *fake) end(err error) {
	f.endOnce.Do(func() {
		f.err = err
		close(f.done)
	})
}

// fakeStats is what a fake's Stats returns.
type fakeStats struct {
	Serial int64   `json:"serial"`
	Child  Process `json:"child"`
}

func (f *fake) Stats() any {
	if f.cfg.PanicIn == "stats" {
		panic("stats exploded")
	}
	st := fakeStats{Serial: f.serial}
	if f.child != nil {
		st.Child, _ = ProcessOf(f.child.Process.Pid)
	}
	return st
}

// Stop ends the fake but not its child: a component that leaks a process
// is what Stop (the package function) must clean up after.
func (f *fake) Stop(ctx context.Context) error {
	switch {
	case f.cfg.PanicIn == "stop":
		panic("stop exploded")
	case f.hang:
		select {} // ignores ctx on purpose
	}
	f.log(fmt.Sprintf("instance %d stopping", f.serial))
	f.end(nil)
	return nil
}

func (f *fake) Done() <-chan struct{} { return f.done }

func (f *fake) Err() error {
	select {
	case <-f.done:
		return f.err
	default:
		return nil
	}
}
