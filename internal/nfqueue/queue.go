package nfqueue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	nfq "github.com/florianl/go-nfqueue/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/netcompose/netcompose/internal/nfqueue/filter"
)

// readBuffer is the netlink socket's receive buffer. Every waiting packet
// sits there as a netlink message (about 1-2 KiB of kernel memory for a
// small packet): the default ~200 KiB overflows within a burst, and an
// overflow is a lost packet (user_dropped), so ask for room for the whole
// queue.
const readBuffer = 8 << 20

// copyRange is how much of each packet the kernel copies to us: all of it,
// since match reads payloads.
const copyRange = 0xffff

// queue is the consumer of one queue number: a netlink socket opened in
// the lab's namespace, and the pipeline judging what it receives.
type queue struct {
	num   uint16
	nf    *nfq.Nfqueue
	chain *filter.Chain
	tally *filter.Tally
	batch *batcher
	log   io.Writer
	fatal func(error) // the consumer cannot go on

	// Used only by the library's receive goroutine.
	dec *filter.Decoder
	pkt filter.Packet

	packets, decodeErrors   atomic.Uint64
	receiveErrs, verdictErr atomic.Uint64
}

// openQueue binds queue num in the namespace open at nsFD and starts
// serving it; ctx ends the serving.
func openQueue(ctx context.Context, cfg *Config, num uint16, nsFD int, chain *filter.Chain, log io.Writer, fatal func(error)) (*queue, error) {
	var flags uint32
	if cfg.Fail == "open" {
		flags |= nfq.NfQaCfgFlagFailOpen
	}
	if cfg.setsConnmark() {
		// The kernel applies a verdict's connmark only when built with
		// CONFIG_NETFILTER_NETLINK_GLUE_CT, and ignores it silently
		// otherwise. Asking for conntrack data fails at bind on such a
		// kernel: a clear error at start instead of marks that never come.
		flags |= nfq.NfQaCfgFlagConntrack
	}
	maxLen := cfg.MaxQueueLen
	if maxLen == 0 {
		maxLen = DefaultMaxQueueLen
	}
	nf, err := nfq.Open(&nfq.Config{
		NetNS:        nsFD, // the socket is made in the lab's namespace and keeps it
		NfQueue:      num,
		MaxQueueLen:  maxLen,
		MaxPacketLen: copyRange,
		Copymode:     nfq.NfQnlCopyPacket,
		Flags:        flags,
		AfFamily:     unix.AF_INET, // ignored by kernels since 3.8 for binding; one queue carries both families
	})
	if err != nil {
		return nil, fmt.Errorf("queue %d: open netlink socket: %w", num, err)
	}
	q := &queue{num: num, nf: nf, chain: chain, tally: chain.NewTally(), log: log, fatal: fatal, dec: filter.NewDecoder()}
	q.batch = newBatcher(nf, q.verdictError)
	if err := q.tune(); err != nil {
		nf.Close()
		return nil, err
	}
	if err := nf.RegisterWithErrorFunc(ctx, q.hook, q.onError(ctx)); err != nil {
		nf.Close()
		if errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("queue %d: bind: %w (another consumer serves this queue in the namespace)", num, err)
		}
		if flags&nfq.NfQaCfgFlagConntrack != 0 && errors.Is(err, unix.EOPNOTSUPP) {
			return nil, fmt.Errorf("queue %d: bind: %w: a connmark stage needs conntrack data, which this kernel does not give to queues (CONFIG_NETFILTER_NETLINK_GLUE_CT): %w", num, ErrUnsupported, err)
		}
		return nil, fmt.Errorf("queue %d: bind: %w", num, err)
	}
	return q, nil
}

// tune sets the socket options: no ENOBUFS on overflow (the kernel counts
// the loss in user_dropped and the reader must not stop), and a receive
// buffer past rmem_max (SO_RCVBUFFORCE, we are root) or at it.
func (q *queue) tune() error {
	if err := q.nf.SetOption(netlink.NoENOBUFS, true); err != nil {
		return fmt.Errorf("queue %d: set NETLINK_NO_ENOBUFS: %w", q.num, err)
	}
	rc, err := q.nf.Con.SyscallConn()
	if err != nil {
		return fmt.Errorf("queue %d: socket: %w", q.num, err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, readBuffer)
	}); err != nil {
		return fmt.Errorf("queue %d: socket: %w", q.num, err)
	}
	if serr != nil {
		if err := q.nf.Con.SetReadBuffer(readBuffer); err != nil {
			return fmt.Errorf("queue %d: set read buffer: %w", q.num, err)
		}
	}
	return nil
}

// hook judges one packet. It runs on the library's receive goroutine, one
// packet at a time, so the decoder and packet are reused without locks.
func (q *queue) hook(a nfq.Attribute) int {
	if a.PacketID == nil {
		return 0 // not a packet; nothing to answer
	}
	id := *a.PacketID
	q.packets.Add(1)
	var data []byte
	if a.Payload != nil {
		data = *a.Payload
	}
	p := &q.pkt
	if err := q.dec.Decode(data, p); err != nil {
		// Still judged: stages see what could be read, the default
		// decides the rest.
		q.decodeErrors.Add(1)
	}
	if a.Mark != nil {
		p.Mark = *a.Mark
	}
	v := q.chain.Run(p, q.tally)
	verdict := nfq.NfDrop
	if v == filter.Accept {
		verdict = nfq.NfAccept
	}
	mark, setMark, connmark, setConnMark := p.Marks()
	if verdict == nfq.NfAccept && (setMark || setConnMark) {
		var opts []nfq.VerdictOption
		if setMark {
			opts = append(opts, nfq.WithMark(mark))
		}
		if setConnMark {
			opts = append(opts, nfq.WithConnMark(connmark))
		}
		q.batch.addWith(id, verdict, opts...)
		return 0
	}
	q.batch.add(id, verdict)
	return 0
}

// onError decides, for an error of the receive loop, whether to go on
// (0) or end (1). Transient errors are counted and the loop goes on.
func (q *queue) onError(ctx context.Context) nfq.ErrorFunc {
	return func(err error) int {
		if ctx.Err() != nil {
			return 1 // stopping: the library set a past read deadline
		}
		if transient(err) {
			if q.receiveErrs.Add(1) == 1 {
				fmt.Fprintf(q.log, "queue %d: receive: %v (counted, going on)\n", q.num, err)
			}
			return 0
		}
		q.fatal(fmt.Errorf("queue %d: receive: %w", q.num, err))
		return 1
	}
}

func transient(err error) bool {
	var oe *netlink.OpError
	if errors.As(err, &oe) && (oe.Timeout() || oe.Temporary()) {
		return true
	}
	for _, e := range []error{unix.ENOBUFS, unix.EAGAIN, unix.EINTR, unix.ENOMEM} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// verdictError counts a failed verdict send and logs the first one; the
// packet stays queued until the kernel's queue is flushed at unbind.
func (q *queue) verdictError(err error) {
	if q.verdictErr.Add(1) == 1 {
		fmt.Fprintf(q.log, "queue %d: verdict: %v (counted)\n", q.num, err)
	}
}

// drain sends the pending verdicts and makes every later one go out at
// once: the first step of stopping, before the queue is unbound (the
// kernel drops what is still queued at unbind).
func (q *queue) drain() { q.batch.flush(true) }

// close ends the consumer. The library's Close closes the socket and then
// waits for its receive goroutine, so the ctx given to openQueue must be
// cancelled first; the kernel unbinds a queue whose socket closes anyway.
func (q *queue) close() error {
	if err := q.nf.Close(); err != nil {
		return fmt.Errorf("queue %d: close: %w", q.num, err)
	}
	return nil
}
