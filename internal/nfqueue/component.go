package nfqueue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/netcompose/netcompose/internal/nfqueue/filter"
	"github.com/netcompose/netcompose/internal/supervisor"
)

var _ supervisor.StartFunc = Start

// component is a running queue component: one consumer per queue number.
type component struct {
	cfg    Config
	chain  *filter.Chain
	queues []*queue
	env    supervisor.Env
	cancel context.CancelFunc

	started chan struct{} // closed once Start has its queues (or gave up)
	once    sync.Once
	done    chan struct{}
	err     error // why it ended; nil after Stop
}

// Start binds the queues of config (a JSON Config) in its namespace and
// serves them until Stop. It returns once every queue is bound; ctx
// bounds the start only.
func Start(ctx context.Context, config json.RawMessage, env supervisor.Env) (supervisor.Running, error) {
	var cfg Config
	dec := json.NewDecoder(bytes.NewReader(config))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("nfqueue: config: %w", err)
	}
	if env.Log == nil {
		env.Log = io.Discard
	}
	if env.Event == nil {
		env.Event = func(string, map[string]any) {}
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("nfqueue %s: config: %w", cfg.Name, err)
	}
	chain, err := cfg.chain(filter.Env{Log: env.Log})
	if err != nil {
		return nil, fmt.Errorf("nfqueue %s: %w", cfg.Name, err)
	}
	nsFD, err := unix.Open(cfg.NetNS, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("nfqueue %s: open netns %s: %w", cfg.Name, cfg.NetNS, err)
	}
	defer unix.Close(nsFD) // the sockets keep the namespace

	// The queues outlive ctx, which bounds the start only.
	runCtx, cancel := context.WithCancel(context.Background())
	c := &component{cfg: cfg, chain: chain, env: env, cancel: cancel, started: make(chan struct{}), done: make(chan struct{})}
	defer close(c.started)
	for num := int(cfg.QueueFirst); num <= int(cfg.QueueLast); num++ {
		if err := ctx.Err(); err != nil {
			c.shutdown(nil)
			return nil, fmt.Errorf("nfqueue %s: start: %w", cfg.Name, err)
		}
		q, err := openQueue(runCtx, &c.cfg, uint16(num), nsFD, chain, env.Log, c.fail)
		if err != nil {
			c.shutdown(nil)
			return nil, fmt.Errorf("nfqueue %s: %w", cfg.Name, err)
		}
		c.queues = append(c.queues, q)
	}
	fmt.Fprintf(env.Log, "nfqueue %s: serving queue %s in %s (fail %s, default %s, %d stages)\n",
		cfg.Name, cfg.queueRange(), cfg.NetNS, cfg.Fail, cfg.defaultVerdict(), len(cfg.Stages))
	env.Event("nfqueue.started", map[string]any{"name": cfg.Name, "queue": cfg.queueRange(), "netns": cfg.NetNS})
	return c, nil
}

func (c *Config) queueRange() string {
	if c.QueueFirst == c.QueueLast {
		return fmt.Sprint(c.QueueFirst)
	}
	return fmt.Sprintf("%d-%d", c.QueueFirst, c.QueueLast)
}

func (c *Config) defaultVerdict() string {
	if c.Default == "" {
		return "accept"
	}
	return c.Default
}

// fail ends the component because a consumer cannot go on. It is called
// on a library goroutine that shutdown waits for, hence the new goroutine,
// which waits for Start to have its list of queues.
func (c *component) fail(err error) {
	go func() {
		<-c.started
		c.shutdown(err)
	}()
}

// shutdown stops every queue once: pending verdicts out first, then the
// receive loops, then the sockets.
func (c *component) shutdown(cause error) {
	c.once.Do(func() {
		for _, q := range c.queues {
			q.drain()
		}
		c.cancel()
		var errs []error
		for _, q := range c.queues {
			if err := q.close(); err != nil {
				errs = append(errs, err)
			}
		}
		if cause != nil {
			c.err = cause
			fmt.Fprintf(c.env.Log, "nfqueue %s: stopped: %v\n", c.cfg.Name, cause)
			c.env.Event("nfqueue.failed", map[string]any{"name": c.cfg.Name, "error": cause.Error()})
		} else if err := errors.Join(errs...); err != nil {
			fmt.Fprintf(c.env.Log, "nfqueue %s: stop: %v\n", c.cfg.Name, err)
		}
		close(c.done)
	})
}

// Stop ends the component; packets still waiting in the kernel queue at
// that moment are dropped by the kernel as it unbinds the queue, and later
// ones meet fail open or closed.
func (c *component) Stop(ctx context.Context) error {
	go c.shutdown(nil)
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("nfqueue %s: stop: %w", c.cfg.Name, ctx.Err())
	}
}

func (c *component) Done() <-chan struct{} { return c.done }

func (c *component) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Stats adds up the queues' counters and reads the kernel's.
func (c *component) Stats() any {
	s := Stats{Verdicts: map[string]uint64{"accept": 0, "drop": 0}}
	for _, st := range c.chain.Stages() {
		ss := StageStats{Name: st.Name, Kind: st.Kind}
		if ctr, ok := st.Filter.(filter.Counter); ok {
			ss.Counters = ctr.Counters()
		}
		s.Stages = append(s.Stages, ss)
	}
	kernel, kerr := kernelQueues(c.cfg.NetNS)
	if kerr != nil {
		s.KernelError = kerr.Error()
	}
	for _, q := range c.queues {
		s.Packets += q.packets.Load()
		s.Verdicts["accept"] += q.tally.Accept.Load()
		s.Verdicts["drop"] += q.tally.Drop.Load()
		s.Fallthrough += q.tally.Fallthrough.Load()
		s.VerdictMessages += q.batch.messages.Load()
		s.DecodeErrors += q.decodeErrors.Load()
		s.ReceiveErrors += q.receiveErrs.Load()
		s.VerdictErrors += q.verdictErr.Load()
		for i := range s.Stages {
			t := &q.tally.Stages[i]
			s.Stages[i].Seen += t.Seen.Load()
			s.Stages[i].Accept += t.Accept.Load()
			s.Stages[i].Drop += t.Drop.Load()
		}
		qs := QueueStats{Queue: q.num, Packets: q.packets.Load()}
		if k, ok := kernel[q.num]; ok {
			qs.Bound, qs.PortID, qs.Waiting = true, k.portID, k.waiting
			qs.QueueDropped, qs.UserDropped = k.queueDropped, k.userDropped
		}
		s.Queues = append(s.Queues, qs)
	}
	return s
}
