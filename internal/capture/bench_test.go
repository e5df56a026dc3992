package capture

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/netcompose/netcompose/internal/nsrun"
)

// BenchmarkCapture streams b.N small UDP datagrams (18 bytes of payload,
// 60-byte frames) from one namespace to another over a veth, at 50,000 a
// second or as fast as one sender goes, and captures them on the
// receiving end. It reports what was sent and captured, the kernel's
// drops (the ring overflowed: the reader fell behind), the rate reached
// and the CPU the whole process used (sender included) per second of
// wall time.
//
//	go test -run '^$' -bench Capture -benchtime 200000x ./internal/capture
func BenchmarkCapture(b *testing.B) {
	p := newPair(b)
	c := udpSender(b, p.a)
	dst := &net.UDPAddr{IP: net.IPv4(10, 77, 0, 2), Port: 9}
	// ARP before the clock starts.
	c.WriteToUDP([]byte("warm"), dst)
	time.Sleep(100 * time.Millisecond)
	filter, err := Compile(context.Background(), "udp dst port 9", 0)
	if err != nil {
		b.Skip(err)
	}
	text := func(*testing.B) Writer { return NewText(io.Discard, TextOptions{}) }
	for _, bc := range []struct {
		name   string
		rate   int // packets a second; 0 is unpaced
		writer func(b *testing.B) Writer
	}{
		{"no-capture-50kpps", 50000, nil}, // the sender alone: the CPU baseline
		{"pcap-file-50kpps", 50000, pcapFile},
		{"text-50kpps", 50000, text},
		{"pcap-file-unpaced", 0, pcapFile},
		{"text-unpaced", 0, text},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if bc.writer == nil {
				var before, after syscall.Rusage
				syscall.Getrusage(syscall.RUSAGE_SELF, &before)
				start := time.Now()
				send(b, c, dst, b.N, bc.rate)
				syscall.Getrusage(syscall.RUSAGE_SELF, &after)
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "pps")
				b.ReportMetric(100*cpuTime(before, after).Seconds()/time.Since(start).Seconds(), "cpu%")
				return
			}
			s, err := Open(nsrun.Path(p.b), "eth0", Options{Filter: filter})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			w := bc.writer(b)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			got := make(chan int, 1)
			go func() {
				n, err := Copy(ctx, s, w, b.N)
				if err != nil {
					b.Error(err)
				}
				got <- n
			}()
			var before, after syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &before)
			b.ResetTimer()
			start := time.Now()
			send(b, c, dst, b.N, bc.rate)
			sending := time.Since(start)
			// The reader has until a second after the last packet.
			var captured int
			select {
			case captured = <-got:
			case <-time.After(time.Second):
				cancel()
				captured = <-got
			}
			b.StopTimer()
			syscall.Getrusage(syscall.RUSAGE_SELF, &after)
			st, _ := s.Stats()
			b.ReportMetric(float64(b.N), "sent")
			b.ReportMetric(float64(captured), "captured")
			b.ReportMetric(float64(st.Dropped), "kernel-drops")
			b.ReportMetric(float64(b.N)/sending.Seconds(), "pps")
			b.ReportMetric(100*cpuTime(before, after).Seconds()/time.Since(start).Seconds(), "cpu%")
		})
	}
}

// cpuTime is the user and system time the process used between two
// readings.
func cpuTime(before, after syscall.Rusage) time.Duration {
	return time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
}

func pcapFile(b *testing.B) Writer {
	f, err := os.Create(filepath.Join(b.TempDir(), "bench.pcap"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	w, err := NewPcap(f, DefaultSnaplen)
	if err != nil {
		b.Fatal(err)
	}
	return w
}

// send sends n datagrams to dst at rate a second (0: as fast as it can),
// in bursts of what is due each millisecond.
func send(b *testing.B, c *net.UDPConn, dst *net.UDPAddr, n, rate int) {
	payload := []byte("netcompose-capture")
	start := time.Now()
	for i := 0; i < n; {
		due := n
		if rate > 0 {
			due = min(n, int(time.Since(start).Seconds()*float64(rate))+1)
		}
		for ; i < due; i++ {
			if _, err := c.WriteToUDP(payload, dst); err != nil {
				b.Fatal(err)
			}
		}
		if rate > 0 && i < n {
			time.Sleep(time.Millisecond)
		}
	}
}
