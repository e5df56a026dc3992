package nfqueue

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"

	"github.com/netcompose/netcompose/internal/nsrun"
)

// udpSink counts the datagrams arriving at port in the server, by source.
type udpSink struct {
	mu       sync.Mutex
	from     map[netip.Addr]int
	payloads []string
	n        atomic.Int64
}

func (l *testLab) udpSink(port int, v6 bool) *udpSink {
	l.t.Helper()
	network, addr := "udp4", fmt.Sprintf("0.0.0.0:%d", port)
	if v6 {
		network, addr = "udp6", fmt.Sprintf("[::]:%d", port)
	}
	var c net.PacketConn
	err := nsrun.Do(l.path(l.server), func() (err error) {
		c, err = net.ListenPacket(network, addr)
		return err
	})
	if err != nil {
		l.t.Fatal(err)
	}
	s := &udpSink{from: map[netip.Addr]int{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.from[from.(*net.UDPAddr).AddrPort().Addr().Unmap()]++
			s.payloads = append(s.payloads, string(buf[:n]))
			s.mu.Unlock()
			s.n.Add(1)
		}
	}()
	l.t.Cleanup(func() { c.Close(); <-done })
	return s
}

// sendUDP sends n datagrams of payload from the client (from src when
// valid) to dst:port.
func (l *testLab) sendUDP(src, dst netip.Addr, port, n int, payload []byte) {
	l.t.Helper()
	var c *net.UDPConn
	err := nsrun.Do(l.path(l.client), func() (err error) {
		var laddr *net.UDPAddr
		if src.IsValid() {
			laddr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
		}
		c, err = net.DialUDP("udp", laddr, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, uint16(port))))
		return err
	})
	if err != nil {
		l.t.Fatal(err)
	}
	defer c.Close()
	for range n {
		if _, err := c.Write(payload); err != nil {
			l.t.Fatalf("send to %s:%d: %v", dst, port, err)
		}
	}
}

// sendPayloads sends one datagram per payload, in order, from one socket.
func (l *testLab) sendPayloads(dst netip.Addr, port int, payloads [][]byte) {
	l.t.Helper()
	var c *net.UDPConn
	err := nsrun.Do(l.path(l.client), func() (err error) {
		c, err = net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, uint16(port))))
		return err
	})
	if err != nil {
		l.t.Fatal(err)
	}
	defer c.Close()
	for _, p := range payloads {
		if _, err := c.Write(p); err != nil {
			l.t.Fatalf("send to %s:%d: %v", dst, port, err)
		}
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// httpServer answers every path with "ok <path>" and remembers the paths.
type httpServer struct {
	mu    sync.Mutex
	paths []string
}

func (l *testLab) httpServer(port int) *httpServer {
	l.t.Helper()
	var ln net.Listener
	err := nsrun.Do(l.path(l.server), func() (err error) {
		ln, err = net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", port))
		return err
	})
	if err != nil {
		l.t.Fatal(err)
	}
	s := &httpServer{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.paths = append(s.paths, r.URL.Path)
		s.mu.Unlock()
		fmt.Fprintf(w, "ok %s", r.URL.Path)
	})}
	go srv.Serve(ln)
	l.t.Cleanup(func() { srv.Close() })
	return s
}

func (s *httpServer) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.paths...)
}

// dial connects from the client to dst:port.
func (l *testLab) dial(dst netip.Addr, port int) net.Conn {
	l.t.Helper()
	var c net.Conn
	err := nsrun.Do(l.path(l.client), func() (err error) {
		c, err = net.DialTimeout("tcp", netip.AddrPortFrom(dst, uint16(port)).String(), 10*time.Second)
		return err
	})
	if err != nil {
		l.t.Fatal(err)
	}
	return c
}

// get sends "GET path" from the client on a fresh connection and returns
// the body, or an error when no answer came within wait.
func (l *testLab) get(dst netip.Addr, port int, path string, wait time.Duration) (string, error) {
	c := l.dial(dst, port)
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	fmt.Fprintf(c, "GET %s HTTP/1.0\r\nHost: server\r\n\r\n", path)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

// ping sends one ICMP echo from the client and says whether a reply came
// within wait.
func (l *testLab) ping(dst netip.Addr, wait time.Duration) bool {
	l.t.Helper()
	var c *icmp.PacketConn
	err := nsrun.Do(l.path(l.client), func() (err error) {
		c, err = icmp.ListenPacket("ip4:icmp", "0.0.0.0")
		return err
	})
	if err != nil {
		l.t.Fatal(err)
	}
	defer c.Close()
	msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: os.Getpid() & 0xffff, Seq: 1, Data: []byte("nfqueue")}}
	b, _ := msg.Marshal(nil)
	if _, err := c.WriteTo(b, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
		l.t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 1500)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return false
		}
		m, err := icmp.ParseMessage(1, buf[:n])
		if err == nil && m.Type == ipv4.ICMPTypeEchoReply && from.String() == dst.String() {
			if e, ok := m.Body.(*icmp.Echo); ok && bytes.Equal(e.Data, []byte("nfqueue")) {
				return true
			}
		}
	}
}

// syncBuffer is a log the component and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
