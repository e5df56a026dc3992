package service

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/netcompose/netcompose/internal/nsrun"
	"github.com/netcompose/netcompose/internal/supervisor"
)

// killGrace is how long Stop waits for the loop once it has sent SIGKILL
// because its ctx ended.
const killGrace = 2 * time.Second

// command is a running command service: it runs the program, restarts it
// as its policy says, and stops it with stop_signal, then SIGKILL.
type command struct {
	*unit
	sig unix.Signal

	stopReq  chan struct{} // closed by Stop
	killNow  chan struct{} // closed when Stop's ctx ends first
	stopOnce sync.Once
	killOnce sync.Once
	loopDone chan struct{}
}

func startCommand(ctx context.Context, cfg Config, env supervisor.Env) (supervisor.Running, error) {
	c := &command{
		unit:     newUnit(cfg, env),
		sig:      signalNum(cfg.StopSignal),
		stopReq:  make(chan struct{}),
		killNow:  make(chan struct{}),
		loopDone: make(chan struct{}),
	}
	p, err := spawn(cfg, c.log)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.section(), err)
	}
	c.running(p)
	go c.loop(p)
	if cfg.Listen != "" {
		if err := c.awaitListening(ctx); err != nil {
			c.Stop(context.Background())
			return nil, fmt.Errorf("%s: %w", cfg.section(), err)
		}
	}
	return c, nil
}

// listenPoll is how often a command's listen address is tried until its
// program accepts there.
const listenPoll = 20 * time.Millisecond

// awaitListening waits until the program accepts TCP connections at its
// listen address inside the node (0.0.0.0 and :: are tried on loopback),
// so apply returns a lab whose service answers; it fails when the run
// ends first or ctx (the supervisor's start timeout) does.
func (c *command) awaitListening(ctx context.Context) error {
	ap := netip.MustParseAddrPort(c.cfg.Listen)
	addr := ap.Addr()
	if addr.IsUnspecified() {
		addr = netip.IPv6Loopback()
		if ap.Addr().Is4() {
			addr = netip.MustParseAddr("127.0.0.1")
		}
	}
	target := netip.AddrPortFrom(addr, ap.Port()).String()
	for {
		var conn net.Conn
		err := nsrun.Do(c.cfg.Netns, func() error {
			var derr error
			conn, derr = net.DialTimeout("tcp", target, time.Second)
			return derr
		})
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-c.loopDone:
			return fmt.Errorf("the program ended before it listened on %s", c.cfg.Listen)
		case <-ctx.Done():
			return fmt.Errorf("nothing listens on %s after the program started: %w", c.cfg.Listen, ctx.Err())
		case <-time.After(listenPoll):
		}
	}
}

// running records p as the current run.
func (c *command) running(p *proc) {
	c.mu.Lock()
	c.pid = p.pid
	c.mu.Unlock()
	c.log.printf("started %q, pid %d", c.cfg.Command, p.pid)
	c.setState(StateRunning, map[string]any{"pid": p.pid})
}

// loop owns the process: it waits for each run to end and decides what
// comes next.
func (c *command) loop(p *proc) {
	defer close(c.loopDone)
	delay := c.cfg.Backoff
	for {
		failed, why, ran := true, "", time.Duration(0)
		if p != nil {
			stopped := c.wait(p)
			failed, why, ran = p.failed(), p.exitText(), time.Since(p.start)
			c.log.printf("pid %d ended: %s after %s", p.pid, why, ran.Round(time.Millisecond))
			c.event(EventExit, map[string]any{"pid": p.pid, "exit": why, "ran_ns": ran})
			c.mu.Lock()
			c.lastExit = why
			c.mu.Unlock()
			if stopped {
				c.end(StateStopped, nil)
				return
			}
		} else {
			c.mu.Lock()
			why = c.lastExit
			c.mu.Unlock()
		}
		if !c.restart(failed) {
			if failed {
				c.end(StateFailed, fmt.Errorf("%s: command %s", c.cfg.section(), why))
			} else {
				c.end(StateExited, nil)
			}
			return
		}
		if ran >= c.cfg.BackoffMax {
			delay = c.cfg.Backoff // it ran long enough: a fresh failure
		}
		if !c.backoff(delay, why) {
			c.end(StateStopped, nil)
			return
		}
		delay = min(2*delay, c.cfg.BackoffMax)
		var err error
		if p, err = spawn(c.cfg, c.log); err != nil {
			// The program or the namespace may come back: keep trying,
			// backing off.
			c.log.printf("restart: %v", err)
			c.mu.Lock()
			c.lastExit = "start failed: " + err.Error()
			c.mu.Unlock()
			continue
		}
		c.running(p)
	}
}

// restart applies the policy to a run that ended.
func (c *command) restart(failed bool) bool {
	switch c.cfg.Restart {
	case RestartAlways:
		return true
	case RestartOnFailure:
		return failed
	}
	return false
}

// backoff waits delay before the next start; false if Stop came first.
func (c *command) backoff(delay time.Duration, why string) bool {
	c.mu.Lock()
	c.restarts++
	n := c.restarts
	c.mu.Unlock()
	c.setState(StateBackoff, map[string]any{"backoff_ns": delay})
	c.event(EventRestart, map[string]any{"restarts": n, "backoff_ns": delay, "exit": why})
	c.log.printf("restart %d in %s", n, delay)
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.stopReq:
		return false
	}
}

// wait waits for p to end; on Stop it sends stop_signal to the group,
// and SIGKILL after stop_timeout or when Stop's ctx ends. It reports
// whether Stop ended the run.
func (c *command) wait(p *proc) bool {
	select {
	case <-p.exited:
		return false
	case <-c.stopReq:
	}
	c.setState(StateStopping, nil)
	p.signal(c.sig)
	t := time.NewTimer(c.cfg.StopTimeout)
	defer t.Stop()
	select {
	case <-p.exited:
		return true
	case <-t.C:
		c.log.printf("pid %d still running %s after %s: SIGKILL", p.pid, c.cfg.StopTimeout, c.cfg.StopSignal)
	case <-c.killNow:
		c.log.printf("pid %d: stop deadline: SIGKILL", p.pid)
	}
	p.signal(unix.SIGKILL)
	<-p.exited
	return true
}

// Stop ends the command: stop_signal to its process group, SIGKILL after
// stop_timeout or when ctx ends, whichever comes first.
func (c *command) Stop(ctx context.Context) error {
	c.stopOnce.Do(func() { close(c.stopReq) })
	select {
	case <-c.loopDone:
		return nil
	case <-ctx.Done():
	}
	c.killOnce.Do(func() { close(c.killNow) })
	t := time.NewTimer(killGrace)
	defer t.Stop()
	select {
	case <-c.loopDone:
		return fmt.Errorf("%s: stop: %w (killed)", c.cfg.section(), ctx.Err())
	case <-t.C:
		return fmt.Errorf("%s: stop: %w: process did not die after SIGKILL", c.cfg.section(), ctx.Err())
	}
}
