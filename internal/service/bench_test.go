package service

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/netcompose/netcompose/internal/nsrun"
)

// bareEcho is the reference: the plainest coder/websocket echo server.
func bareEcho(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	for {
		typ, b, err := c.Read(context.Background())
		if err != nil {
			return
		}
		if err := c.Write(context.Background(), typ, b); err != nil {
			return
		}
	}
}

// serveBare serves the bare echo on addr inside ns.
func serveBare(b *testing.B, ns, addr string) {
	ln, err := listenIn(nsrun.Path(ns), addr)
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(bareEcho)}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
}

// BenchmarkEcho: round trips per second through the websocket-echo
// builtin against a bare coder/websocket echo server, both on the
// loopback of one namespace and driven by the same client from a socket
// made there; and the builtin across a veth from another namespace. One
// op is one message echoed.
func BenchmarkEcho(b *testing.B) {
	srv, cli := pair(b)
	var seq atomic.Int32
	// Server innermost: the two runs to compare are next to each other
	// in time, which matters on a shared machine.
	for _, conns := range []int{1, 50} {
		for _, size := range []int{64, 16 << 10} {
			for _, server := range []string{"builtin", "bare", "builtin-veth"} {
				name := fmt.Sprintf("conns=%d/size=%d/server=%s", conns, size, server)
				b.Run(name, func(b *testing.B) {
					port := 20000 + seq.Add(1)
					addr := fmt.Sprintf("127.0.0.1:%d", port)
					from := srv
					switch server {
					case "builtin":
						start(b, Config{Name: "bench", Netns: nsrun.Path(srv), Kind: Echo, Listen: addr, MaxMessage: size})
					case "bare":
						serveBare(b, srv, addr)
					case "builtin-veth":
						addr = fmt.Sprintf("10.9.0.1:%d", port)
						from = cli
						start(b, Config{Name: "bench", Netns: nsrun.Path(srv), Kind: Echo, Listen: addr, MaxMessage: size})
					}
					echoLoad(b, from, "ws://"+addr+"/", conns, size)
				})
			}
		}
	}
}

// echoLoad opens conns websockets from ns and echoes b.N messages of
// size bytes across them, each connection one message at a time.
func echoLoad(b *testing.B, ns, url string, conns, size int) {
	cs := make([]*websocket.Conn, conns)
	for i := range cs {
		cs[i] = mustDial(b, ns, url)
		cs[i].SetReadLimit(int64(size) + 1)
	}
	msg := make([]byte, size)
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	b.SetBytes(int64(size))
	b.ResetTimer()
	t0 := time.Now()
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for left.Add(-1) >= 0 {
				if err := c.Write(ctx, websocket.MessageBinary, msg); err != nil {
					b.Error(err)
					return
				}
				if _, _, err := c.Read(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "msgs/s")
}

// BenchmarkBroadcastFanout: one message to a room of 1000 clients (over
// the veth); an op is the time until the last of them has it.
func BenchmarkBroadcastFanout(b *testing.B) {
	const clients = 1000
	srv, cli := pair(b)
	run, _ := start(b, Config{Name: "fanout", Netns: nsrun.Path(srv), Kind: Broadcast, Listen: "10.9.0.1:8090"})
	url := "ws://10.9.0.1:8090/room"
	var got atomic.Int64
	all := make(chan struct{}, 1)
	for range clients {
		c := mustDial(b, cli, url)
		go func() {
			for {
				if _, _, err := c.Read(context.Background()); err != nil {
					return
				}
				if got.Add(1) == clients {
					all <- struct{}{}
				}
			}
		}()
	}
	sender := mustDial(b, cli, url)
	waitRoom(b, run, "/room", clients+1)
	msg := make([]byte, 64)
	b.ResetTimer()
	for range b.N {
		got.Store(0)
		if err := sender.Write(context.Background(), websocket.MessageText, msg); err != nil {
			b.Fatal(err)
		}
		<-all
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms-to-last")
}
