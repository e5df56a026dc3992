package nfqueue

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/netcompose/netcompose/internal/nsrun"
)

// Stats is what `netcompose status` shows for a queue component.
type Stats struct {
	// Packets received from the kernel, all queues.
	Packets uint64 `json:"packets"`
	// Verdicts by kind: accept, drop.
	Verdicts map[string]uint64 `json:"verdicts"`
	// Fallthrough counts the packets no stage decided (the default's).
	Fallthrough uint64 `json:"fallthrough"`
	// VerdictMessages is how many verdict messages carried them: fewer
	// than Packets when runs of packets shared a batch.
	VerdictMessages uint64       `json:"verdict_messages"`
	DecodeErrors    uint64       `json:"decode_errors"`
	ReceiveErrors   uint64       `json:"receive_errors"`
	VerdictErrors   uint64       `json:"verdict_errors"`
	Stages          []StageStats `json:"stages"`
	Queues          []QueueStats `json:"queues"`
	// KernelError says why the kernel's counters are missing.
	KernelError string `json:"kernel_error,omitempty"`
}

// StageStats counts for one stage of the pipeline.
type StageStats struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Seen: packets that reached the stage; Accept, Drop: the verdicts it
	// gave (a guard sending a packet to the default counts its verdict).
	Seen     uint64            `json:"seen"`
	Accept   uint64            `json:"accept"`
	Drop     uint64            `json:"drop"`
	Counters map[string]uint64 `json:"counters,omitempty"` // count's packets and bytes
}

// QueueStats is one queue number: ours, and the kernel's view of it from
// /proc/net/netfilter/nfnetlink_queue in the lab's namespace.
type QueueStats struct {
	Queue   uint16 `json:"queue"`
	Packets uint64 `json:"packets"`
	// Bound is whether the kernel lists the queue (a consumer is bound).
	Bound  bool   `json:"bound"`
	PortID uint32 `json:"portid,omitempty"`
	// Waiting is the packets queued in the kernel, awaiting a verdict.
	Waiting uint32 `json:"waiting"`
	// QueueDropped counts packets that met a full queue (max_queue_len);
	// UserDropped those that the socket's receive buffer had no room
	// for. Both are then dropped, or accepted with fail = open.
	QueueDropped uint32 `json:"queue_dropped"`
	UserDropped  uint32 `json:"user_dropped"`
}

// kernelQueue is one line of nfnetlink_queue.
type kernelQueue struct {
	portID, waiting, queueDropped, userDropped uint32
}

// procQueues is the file listing a namespace's bound queues. Read from a
// thread inside the namespace: /proc/self/net is the main thread's
// namespace, /proc/thread-self/net the calling thread's.
const procQueues = "/proc/thread-self/net/netfilter/nfnetlink_queue"

// kernelQueues reads the queues bound in the namespace at nsPath.
func kernelQueues(nsPath string) (map[uint16]kernelQueue, error) {
	var data []byte
	err := nsrun.Do(nsPath, func() error {
		var err error
		data, err = os.ReadFile(procQueues)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netns %s: read %s: %w", nsPath, procQueues, err)
	}
	return parseQueues(data)
}

// parseQueues reads the kernel's lines (net/netfilter/nfnetlink_queue.c,
// seq_show): queue_num portid queue_total copy_mode copy_range
// queue_dropped user_dropped id_sequence 1.
func parseQueues(data []byte) (map[uint16]kernelQueue, error) {
	out := map[uint16]kernelQueue{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 7 {
			return nil, fmt.Errorf("nfnetlink_queue: line %q: want 7 fields or more", sc.Text())
		}
		var n [7]uint64
		for i := range n {
			v, err := strconv.ParseUint(f[i], 10, 32)
			if err != nil {
				return nil, fmt.Errorf("nfnetlink_queue: line %q: field %d: %w", sc.Text(), i+1, err)
			}
			n[i] = v
		}
		out[uint16(n[0])] = kernelQueue{portID: uint32(n[1]), waiting: uint32(n[2]), queueDropped: uint32(n[5]), userDropped: uint32(n[6])}
	}
	return out, sc.Err()
}
