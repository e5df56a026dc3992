package nfqueue

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/netcompose/netcompose/internal/supervisor"
)

// queueRule is a forward rule in the lab's router sending proto to dport
// to the queues first..last.
func (l *testLab) queueRule(name string, family int, proto string, dport int, first, last uint16, bypass bool) Rule {
	l.t.Helper()
	r := Rule{Lab: l.name, Name: name, Family: family, Chain: "forward", Protocol: proto,
		QueueFirst: first, QueueLast: last, Bypass: bypass}
	if dport != 0 {
		r.Dport = fmt.Sprint(dport)
	}
	if err := AddRule(l.path(l.router), r); err != nil {
		l.t.Fatal(err)
	}
	return r
}

// start runs the component for cfg in the router until the test ends.
func (l *testLab) start(cfg Config, log *syncBuffer) supervisor.Running {
	l.t.Helper()
	cfg.Lab, cfg.NetNS = l.name, l.path(l.router)
	if cfg.Fail == "" {
		cfg.Fail = "closed"
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		l.t.Fatal(err)
	}
	env := supervisor.Env{Log: log, Event: func(string, map[string]any) {}}
	if log == nil {
		env.Log = &syncBuffer{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	run, err := Start(ctx, raw, env)
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := run.Stop(ctx); err != nil {
			l.t.Errorf("stop: %v", err)
		}
		<-run.Done()
	})
	return run
}

func stats(r supervisor.Running) Stats { return r.Stats().(Stats) }

type args = map[string]string

// TestFailClosedAndOpen: with no consumer bound, a closed rule drops what
// it queues and an open one (--queue-bypass) lets it through.
func TestFailClosedAndOpen(t *testing.T) {
	l := newTestLab(t)
	closed := l.udpSink(9200, false)
	open := l.udpSink(9201, false)
	l.queueRule("closed", 4, "udp", 9200, 40, 40, false)
	l.queueRule("open", 4, "udp", 9201, 41, 41, true)
	l.sendUDP(netip.Addr{}, serverAddr, 9201, 5, []byte("x"))
	eventually(t, "5 datagrams through the open queue", func() bool { return open.n.Load() == 5 })
	l.sendUDP(netip.Addr{}, serverAddr, 9200, 5, []byte("x"))
	// The same path, sent after: by the time these arrive, the closed
	// queue's datagrams have been through the router long ago.
	l.sendUDP(netip.Addr{}, serverAddr, 9201, 1, []byte("x"))
	eventually(t, "the marker datagram", func() bool { return open.n.Load() == 6 })
	if n := closed.n.Load(); n != 0 {
		t.Errorf("%d datagrams got through the closed queue without a consumer, want 0", n)
	}
	// Once served, the closed queue passes traffic.
	l.start(Config{Name: "closed", QueueFirst: 40, QueueLast: 40}, nil)
	l.sendUDP(netip.Addr{}, serverAddr, 9200, 5, []byte("x"))
	eventually(t, "5 datagrams through the served queue", func() bool { return closed.n.Load() == 5 })
}

// TestBalancedIPv6AndKernelCounters: a balanced range gets a consumer per
// queue number; IPv6 is queued like IPv4; a too-short queue shows its
// losses in the kernel's counters, which add up with ours.
func TestBalancedIPv6AndKernelCounters(t *testing.T) {
	l := newTestLab(t)
	sink4 := l.udpSink(9300, false)
	sink6 := l.udpSink(9300, true)
	l.queueRule("bal", 4, "udp", 9300, 50, 51, false)
	l.queueRule("bal", 6, "udp", 9300, 50, 51, false)
	run := l.start(Config{Name: "bal", QueueFirst: 50, QueueLast: 51}, nil)
	// The kernel spreads by address pair: 16 sources.
	for i := 10; i <= 25; i++ {
		l.sendUDP(netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", i)), serverAddr, 9300, 2, []byte("x"))
	}
	l.sendUDP(netip.Addr{}, serverAddr6, 9300, 4, []byte("x"))
	eventually(t, "32 ipv4 datagrams", func() bool { return sink4.n.Load() == 32 })
	eventually(t, "4 ipv6 datagrams", func() bool { return sink6.n.Load() == 4 })
	s := stats(run)
	if s.KernelError != "" {
		t.Fatalf("kernel counters: %s", s.KernelError)
	}
	if len(s.Queues) != 2 {
		t.Fatalf("queues %+v, want 50 and 51", s.Queues)
	}
	for _, q := range s.Queues {
		if !q.Bound || q.PortID == 0 || q.Packets == 0 {
			t.Errorf("queue %d: %+v, want bound with packets (16 sources hashed over 2 queues)", q.Queue, q)
		}
	}
	if s.Packets != 36 || s.Verdicts["accept"] != 36 || s.Fallthrough != 36 {
		t.Errorf("packets %d accept %d fallthrough %d, want 36 each", s.Packets, s.Verdicts["accept"], s.Fallthrough)
	}

	// A queue of one: a burst overflows it, and every datagram is either
	// judged by us or counted dropped by the kernel.
	sink := l.udpSink(9301, false)
	l.queueRule("short", 4, "udp", 9301, 52, 52, false)
	short := l.start(Config{Name: "short", QueueFirst: 52, QueueLast: 52, MaxQueueLen: 1}, nil)
	l.sendUDP(netip.Addr{}, serverAddr, 9301, 200, []byte("x"))
	var ss Stats
	eventually(t, "200 datagrams judged or dropped", func() bool {
		ss = stats(short)
		q := ss.Queues[0]
		return ss.Packets+uint64(q.QueueDropped)+uint64(q.UserDropped) == 200
	})
	if ss.Queues[0].QueueDropped == 0 {
		t.Errorf("a queue of one lost nothing to a burst of 200: %+v", ss.Queues[0])
	}
	eventually(t, "the judged datagrams at the server", func() bool { return sink.n.Load() == int64(ss.Packets) })
}

// TestOneConsumerPerQueue: a second component on a bound queue number
// fails to start, naming the cause; the first keeps serving; Stop ends it
// with no error and unbinds.
func TestOneConsumerPerQueue(t *testing.T) {
	l := newTestLab(t)
	first := l.start(Config{Name: "first", QueueFirst: 60, QueueLast: 60}, nil)
	raw, _ := json.Marshal(Config{Lab: l.name, Name: "second", NetNS: l.path(l.router), QueueFirst: 59, QueueLast: 60, Fail: "closed"})
	_, err := Start(context.Background(), raw, supervisor.Env{Event: func(string, map[string]any) {}})
	if err == nil || !strings.Contains(err.Error(), "queue 60: bind") || !strings.Contains(err.Error(), "another consumer serves this queue") {
		t.Fatalf("second consumer on queue 60: %v, want a bind error", err)
	}
	// The failed start gave back queue 59, which it had bound first.
	q, err := kernelQueues(l.path(l.router))
	if err != nil {
		t.Fatal(err)
	}
	if _, bound := q[59]; bound {
		t.Errorf("queue 59 still bound after the failed start")
	}
	if _, bound := q[60]; !bound {
		t.Errorf("queue 60 not bound; the first consumer lost it")
	}
	if err := first.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-first.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	if first.Err() != nil {
		t.Errorf("Err after Stop = %v, want nil", first.Err())
	}
	eventually(t, "queue 60 unbound", func() bool {
		q, err := kernelQueues(l.path(l.router))
		_, bound := q[60]
		return err == nil && !bound
	})
}
