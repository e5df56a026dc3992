package nfqueue

import (
	"sync"
	"sync/atomic"
	"time"

	nfq "github.com/florianl/go-nfqueue/v2"
)

// Batching: the kernel's NFQNL_MSG_VERDICT_BATCH gives one verdict to every
// packet of the queue up to an id. Packets are judged in id order, so a run
// of packets with one verdict needs one message, sent when the verdict
// changes, when maxBatch packets wait, or batchDelay after the run began
// (a quiet queue must not hold its last packets).
const (
	maxBatch   = 128                    // far below the queue length: batching never fills it
	batchDelay = 200 * time.Microsecond // the most a packet waits for its batch
)

// batcher sends a queue's verdicts. The queue's goroutine adds verdicts,
// the timer flushes them, Stop flushes what is left: hence the mutex.
type batcher struct {
	nf    *nfq.Nfqueue
	onErr func(error) // a failed send; called with mu held

	mu        sync.Mutex
	id        uint32 // the last id of the pending run
	verdict   int
	n         int // packets in the pending run
	timer     *time.Timer
	armed     bool
	immediate bool // stopping: every verdict goes out at once

	messages atomic.Uint64 // verdict messages sent
}

func newBatcher(nf *nfq.Nfqueue, onErr func(error)) *batcher {
	b := &batcher{nf: nf, onErr: onErr}
	b.timer = time.AfterFunc(time.Hour, b.flushTimer)
	b.timer.Stop()
	return b
}

// add queues verdict for packet id.
func (b *batcher) add(id uint32, verdict int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n > 0 && verdict != b.verdict {
		b.flushLocked()
	}
	b.id, b.verdict = id, verdict
	b.n++
	if b.n >= maxBatch || b.immediate {
		b.flushLocked()
		return
	}
	if !b.armed {
		b.armed = true
		b.timer.Reset(batchDelay)
	}
}

// addWith sends a verdict that carries options (marks) on its own: the
// batch message carries none. The pending run goes first, keeping order.
func (b *batcher) addWith(id uint32, verdict int, opts ...nfq.VerdictOption) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
	b.messages.Add(1)
	if err := b.nf.SetVerdictWithOption(id, verdict, opts...); err != nil {
		b.onErr(err)
	}
}

// flush sends the pending run; with stop set, every later verdict is sent
// at once (the queue is about to be unbound, and the timer with it).
func (b *batcher) flush(stop bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
	if stop {
		b.immediate = true
		b.timer.Stop()
	}
}

func (b *batcher) flushTimer() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.armed = false
	b.flushLocked()
}

func (b *batcher) flushLocked() {
	if b.n == 0 {
		return
	}
	var err error
	if b.n == 1 {
		err = b.nf.SetVerdict(b.id, b.verdict)
	} else {
		err = b.nf.SetVerdictBatch(b.id, b.verdict)
	}
	b.messages.Add(1)
	b.n = 0
	if err != nil {
		b.onErr(err)
	}
}
