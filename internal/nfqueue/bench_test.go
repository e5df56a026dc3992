package nfqueue

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	nfq "github.com/florianl/go-nfqueue/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/netcompose/netcompose/internal/nsrun"
	"github.com/netcompose/netcompose/internal/supervisor"
)

// BenchmarkQueue forwards 64-byte UDP packets (20 IP + 8 UDP + 36 payload)
// client -> router -> server through a queue on the router's FORWARD, and
// serves the queue three ways:
//
//   - bare: the library's plain loop, one SetVerdict(accept) per packet;
//   - bare-batch: the same loop with this package's batched verdicts;
//   - pipeline: this package's component with match, count and ratelimit
//     (no packet matches, the limit is never reached; default accept).
//
// The sender is another process (this test binary, re-run in the client's
// namespace), so that this process's CPU time is the consumer's.
// Metrics:
//
//   - verdicts/s: packets judged per second of the run (wall clock);
//   - verdicts/cpu-s: packets judged per CPU second this process used (user +
//     system, which includes the kernel's forwarding done in our verdict
//     calls): what one core would give, whatever else the machine runs;
//   - loss-%: packets sent that did not reach the server (at saturation:
//     the queue overflowing);
//   - msgs/verdict: verdict messages per packet.
//
// "saturate" sends b.N packets as fast as sendmmsg allows; "rate=" offers a
// fixed rate for one second (bounded: one iteration, ns/op meaningless).
//
//	go test -run XXX -bench Queue ./internal/nfqueue
func BenchmarkQueue(b *testing.B) {
	l := newTestLab(b)
	const port, qnum = 9400, 70
	l.queueRule("bench", 4, "udp", port, qnum, qnum, false)
	// The server has a socket on the ports that nobody reads: no ICMP
	// port-unreachable storm; its link's counter says what arrived.
	for _, p := range []int{port, noQueuePort} {
		var sink net.PacketConn
		if err := nsrun.Do(l.path(l.server), func() (err error) {
			sink, err = net.ListenPacket("udp4", fmt.Sprintf("0.0.0.0:%d", p))
			return err
		}); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { sink.Close() })
	}

	// The path without a queue: what the platform forwards at all.
	b.Run("noqueue/saturate", func(b *testing.B) {
		m := l.measure(b, served{judged: func() uint64 { return 0 }, messages: func() uint64 { return 0 }}, qnum, noQueuePort, b.N, 0)
		b.ReportMetric(float64(m.delivered)/m.elapsed.Seconds(), "delivered/s")
		b.ReportMetric(m.loss(), "loss-%")
	})
	for _, mode := range []string{"bare", "bare-batch", "pipeline"} {
		b.Run(mode+"/saturate", func(b *testing.B) {
			s := l.serve(b, mode, qnum)
			l.measure(b, s, qnum, port, b.N, 0).report(b)
		})
	}
	for _, mode := range []string{"bare", "pipeline"} {
		for _, rate := range []int{20_000, 50_000, 80_000} {
			b.Run(fmt.Sprintf("%s/rate=%dk", mode, rate/1000), func(b *testing.B) {
				s := l.serve(b, mode, qnum)
				l.measure(b, s, qnum, port, rate*b.N, rate).report(b)
			})
		}
	}
}

// noQueuePort has no queue rule: the forwarding path alone.
const noQueuePort = 9401

// served is a consumer under test: how many packets it judged, and how
// many verdict messages it sent.
type served struct {
	judged, messages func() uint64
}

// measured is one run.
type measured struct {
	sent, judged, delivered, messages uint64
	elapsed, cpu                      time.Duration
}

func (m measured) loss() float64 {
	return 100 * float64(m.sent-min(m.delivered, m.sent)) / float64(m.sent)
}

func (m measured) report(b *testing.B) {
	b.ReportMetric(float64(m.judged)/m.elapsed.Seconds(), "verdicts/s")
	if m.cpu > 0 {
		b.ReportMetric(float64(m.judged)/m.cpu.Seconds(), "verdicts/cpu-s")
	}
	b.ReportMetric(m.loss(), "loss-%")
	if m.judged > 0 {
		b.ReportMetric(float64(m.messages)/float64(m.judged), "msgs/verdict")
	}
}

// measure sends n packets to port at rate (0: flat out) from a sender
// process in the client, waits until each was judged or dropped by the
// kernel, and returns the counts, the wall time and this process's CPU
// time over the run.
func (l *testLab) measure(b *testing.B, s served, qnum uint16, port, n, rate int) measured {
	b.Helper()
	b.StopTimer()
	sender := l.sender(b, port, n, rate)
	before := l.delivered()
	judged0, msgs0 := s.judged(), s.messages()
	cpu0 := cpuTime(b)
	b.StartTimer()
	start := time.Now()
	sender()
	// Until every packet is judged or counted dropped by the kernel. The
	// kernel's counters are read from a thread moved into the router's
	// namespace, which costs this process CPU: read them only when the
	// judged count stops growing.
	deadline := time.Now().Add(30 * time.Second)
	for last := uint64(0); port != noQueuePort && time.Now().Before(deadline); {
		judged := s.judged() - judged0
		if judged >= uint64(n) {
			break
		}
		if judged == last && judged+l.kernelDrops(b, qnum) >= uint64(n) {
			break
		}
		last = judged
		time.Sleep(2 * time.Millisecond)
	}
	if port == noQueuePort {
		for d := l.delivered(); ; d = l.delivered() {
			time.Sleep(5 * time.Millisecond)
			if l.delivered() == d {
				break
			}
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cpu := cpuTime(b) - cpu0
	time.Sleep(2 * batchDelay) // the last verdicts reach the server
	return measured{sent: uint64(n), judged: s.judged() - judged0, delivered: l.delivered() - before,
		messages: s.messages() - msgs0, elapsed: elapsed, cpu: cpu}
}

func cpuTime(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (l *testLab) serve(b *testing.B, mode string, qnum uint16) served {
	b.Helper()
	if mode == "pipeline" {
		raw, _ := json.Marshal(Config{Lab: l.name, Name: "bench", NetNS: l.path(l.router), QueueFirst: qnum, QueueLast: qnum, Fail: "closed",
			Stages: []Stage{
				{"ssh", "match", map[string]string{"protocol": "tcp", "dport": "22"}},
				{"n", "count", nil},
				{"limit", "ratelimit", map[string]string{"rate": "100000000"}},
			}})
		run, err := Start(context.Background(), raw, supervisor.Env{Event: func(string, map[string]any) {}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { run.Stop(context.Background()) })
		c := run.(*component)
		return served{
			judged:   func() uint64 { return c.queues[0].packets.Load() },
			messages: func() uint64 { return c.queues[0].batch.messages.Load() },
		}
	}
	fd, err := unix.Open(l.path(l.router), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fd)
	nf, err := nfq.Open(&nfq.Config{NetNS: fd, NfQueue: qnum, MaxQueueLen: DefaultMaxQueueLen, MaxPacketLen: copyRange,
		Copymode: nfq.NfQnlCopyPacket, AfFamily: unix.AF_INET})
	if err != nil {
		b.Fatal(err)
	}
	// The same socket tuning as the component, so only the loop differs.
	q := &queue{num: qnum, nf: nf}
	if err := q.tune(); err != nil {
		b.Fatal(err)
	}
	var judged, sent atomic.Uint64
	batch := newBatcher(nf, func(error) {})
	hook := func(a nfq.Attribute) int {
		judged.Add(1)
		sent.Add(1)
		nf.SetVerdict(*a.PacketID, nfq.NfAccept)
		return 0
	}
	messages := sent.Load
	if mode == "bare-batch" {
		hook = func(a nfq.Attribute) int {
			judged.Add(1)
			batch.add(*a.PacketID, nfq.NfAccept)
			return 0
		}
		messages = batch.messages.Load
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := nf.RegisterWithErrorFunc(ctx, hook, func(err error) int {
		if ctx.Err() != nil {
			return 1
		}
		if oe, ok := err.(*netlink.OpError); ok && (oe.Timeout() || oe.Temporary()) {
			return 0
		}
		return 1
	}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		batch.flush(true)
		cancel()
		nf.Close()
	})
	return served{judged: judged.Load, messages: messages}
}

// kernelDrops is queue_dropped + user_dropped of the queue since it was
// bound (the kernel keeps them per binding: each run starts from 0).
func (l *testLab) kernelDrops(b *testing.B, qnum uint16) uint64 {
	qs, err := kernelQueues(l.path(l.router))
	if err != nil {
		b.Fatal(err)
	}
	q := qs[qnum]
	return uint64(q.queueDropped) + uint64(q.userDropped)
}

// delivered is the server's received packet count (its link's counter).
func (l *testLab) delivered() uint64 {
	h := l.handle(l.server)
	link, err := h.LinkByName("eth0")
	if err != nil {
		l.t.Fatal(err)
	}
	return link.Attrs().Statistics.RxPackets
}

// sender starts this test binary as a sending process in the client's
// namespace (a child forked from a thread inside it starts there) and
// returns once it is ready; calling the result lets it send and waits for
// it to finish.
func (l *testLab) sender(b *testing.B, port, n, rate int) func() {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "NFQT_SEND="+netip.AddrPortFrom(serverAddr, uint16(port)).String(),
		"NFQT_COUNT="+strconv.Itoa(n), "NFQT_RATE="+strconv.Itoa(rate))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := nsrun.Do(l.path(l.client), cmd.Start); err != nil {
		b.Fatal(err)
	}
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		b.Fatalf("sender: %q, %v", line, err)
	}
	return func() {
		stdin.Write([]byte("go\n"))
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			b.Fatalf("sender: %v", err)
		}
	}
}

// TestMain turns the test binary into the benchmark's sender when asked.
func TestMain(m *testing.M) {
	if dst := os.Getenv("NFQT_SEND"); dst != "" {
		n, _ := strconv.Atoi(os.Getenv("NFQT_COUNT"))
		rate, _ := strconv.Atoi(os.Getenv("NFQT_RATE"))
		if err := blast(netip.MustParseAddrPort(dst), n, rate); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// blast sends n 64-byte packets to dst at rate packets a second (0: as
// fast as it can), in sendmmsg batches of 64, once stdin says go.
func blast(dst netip.AddrPort, n, rate int) error {
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(dst))
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetWriteBuffer(4 << 20)
	pc := ipv4.NewPacketConn(c)
	const batch = 64
	msgs := make([]ipv4.Message, batch)
	payload := make([]byte, 36)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{payload}
	}
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return err
	}
	start := time.Now()
	for sent := 0; sent < n; {
		k := min(batch, n-sent)
		if rate > 0 {
			due := int(time.Since(start).Seconds()*float64(rate)) + 1
			if due <= sent {
				time.Sleep(time.Until(start.Add(time.Duration(float64(sent) / float64(rate) * float64(time.Second)))))
				continue
			}
			k = min(k, due-sent)
		}
		w, err := pc.WriteBatch(msgs[:k], 0)
		if err != nil {
			// A full device queue, or an ICMP error from an earlier packet:
			// the packets count as sent and lost.
			if err == unix.ENOBUFS || err == unix.EAGAIN || err == unix.ECONNREFUSED {
				continue
			}
			return err
		}
		sent += w
	}
	return nil
}
