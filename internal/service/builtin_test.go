package service

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"golang.org/x/sys/unix"

	"github.com/netcompose/netcompose/internal/nsrun"
	"github.com/netcompose/netcompose/internal/supervisor"
)

// exchange sends msg and returns the next message.
func exchange(t testing.TB, c *websocket.Conn, typ websocket.MessageType, msg []byte) (websocket.MessageType, []byte) {
	t.Helper()
	ctx := timeout(t)
	if err := c.Write(ctx, typ, msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	gt, got, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return gt, got
}

// TestEcho: the echo builtin listens inside its node (ss there sees it,
// the client reaches it over the veth) and sends back text as text and
// binary as binary; the counters follow.
func TestEcho(t *testing.T) {
	srv, cli := pair(t)
	run, _ := start(t, Config{Name: "echo", Netns: nsrun.Path(srv), Kind: Echo, Listen: "10.9.0.1:8080"})
	if !listening(t, srv, "10.9.0.1:8080") {
		t.Fatalf("ss in %s does not list 10.9.0.1:8080", srv)
	}
	c := mustDial(t, cli, "ws://10.9.0.1:8080/any/path")
	for _, tt := range []struct {
		typ websocket.MessageType
		msg []byte
	}{
		{websocket.MessageText, []byte("hello")},
		{websocket.MessageBinary, []byte{0, 1, 2, 0xff}},
		{websocket.MessageBinary, bytes.Repeat([]byte("x"), 30000)},
	} {
		typ, got := exchange(t, c, tt.typ, tt.msg)
		if typ != tt.typ || !bytes.Equal(got, tt.msg) {
			t.Errorf("echo of %v %d bytes: got %v %d bytes", tt.typ, len(tt.msg), typ, len(got))
		}
	}
	// The server counts a message once its write returns, which may be
	// after the client has read it.
	waitFor(t, "3 messages out", func() bool { return stats(run).MessagesOut == 3 })
	st := stats(run)
	if st.State != StateRunning || st.Connections != 1 || st.ConnectionsTotal != 1 || st.MessagesIn != 3 || st.MessagesOut != 3 {
		t.Errorf("stats %+v, want running, 1 connection, 3 in, 3 out", st)
	}
	c.Close(websocket.StatusNormalClosure, "")
	waitFor(t, "the connection to be released", func() bool { return stats(run).Connections == 0 })
}

// TestBroadcast: a message reaches every other client of its path, not
// its sender, and not the clients of another path.
func TestBroadcast(t *testing.T) {
	srv, cli := pair(t)
	run, _ := start(t, Config{Name: "chat", Netns: nsrun.Path(srv), Kind: Broadcast, Listen: "10.9.0.1:8081", Path: "/rooms"})
	a := mustDial(t, cli, "ws://10.9.0.1:8081/rooms/a")
	b := mustDial(t, cli, "ws://10.9.0.1:8081/rooms/a")
	c := mustDial(t, cli, "ws://10.9.0.1:8081/rooms/a")
	other := mustDial(t, cli, "ws://10.9.0.1:8081/rooms/b")
	waitRoom(t, run, "/rooms/a", 3)
	waitRoom(t, run, "/rooms/b", 1)
	ctx := timeout(t)
	if err := b.Write(ctx, websocket.MessageText, []byte("hi from b")); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*websocket.Conn{a, c} {
		if _, got, err := r.Read(ctx); err != nil || string(got) != "hi from b" {
			t.Fatalf("room member got %q, %v; want hi from b", got, err)
		}
	}
	if err := a.Write(ctx, websocket.MessageBinary, []byte{7, 7}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*websocket.Conn{b, c} {
		typ, got, err := r.Read(ctx)
		if err != nil || typ != websocket.MessageBinary || !bytes.Equal(got, []byte{7, 7}) {
			t.Fatalf("room member got %v %v, %v; want binary 7 7", typ, got, err)
		}
	}
	// The other room hears only its own: its first message is its own
	// room's, and a's sender never gets its own message back.
	if err := other.Write(ctx, websocket.MessageText, []byte("room b")); err != nil {
		t.Fatal(err)
	}
	if err := b.Write(ctx, websocket.MessageText, []byte("second")); err != nil {
		t.Fatal(err)
	}
	if _, got, err := a.Read(ctx); err != nil || string(got) != "second" {
		t.Errorf("a got %q, %v; want second (not its own message, not room b's)", got, err)
	}
	mate := mustDial(t, cli, "ws://10.9.0.1:8081/rooms/b")
	waitRoom(t, run, "/rooms/b", 2)
	if err := mate.Write(ctx, websocket.MessageText, []byte("to b")); err != nil {
		t.Fatal(err)
	}
	if _, got, err := other.Read(ctx); err != nil || string(got) != "to b" {
		t.Errorf("room b got %q, %v; want to b (nothing from room a)", got, err)
	}
}

// waitRoom waits until the room at path has n members: a client's
// handshake completes just before it joins.
func waitRoom(t testing.TB, run supervisor.Running, path string, n int) {
	t.Helper()
	rs := run.(*web).rooms
	waitFor(t, fmt.Sprintf("%d members in %s", n, path), func() bool {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		return len(rs.m[path]) == n
	})
}

// tcpEcho serves a TCP echo on 127.0.0.1 inside ns and returns its
// address.
func tcpEcho(t *testing.T, ns string) string {
	t.Helper()
	ln, err := listenIn(nsrun.Path(ns), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// TestBridge: each websocket client gets its own TCP connection to the
// target (dialled inside the node: the target is on the node's own
// loopback), bytes flow both ways in binary messages; a target that
// refuses makes the handshake fail with 502 and the reason.
func TestBridge(t *testing.T) {
	srv, cli := pair(t)
	target := tcpEcho(t, srv)
	start(t, Config{Name: "vnc", Netns: nsrun.Path(srv), Kind: Bridge, Listen: "10.9.0.1:5901", Target: target})
	c1 := mustDial(t, cli, "ws://10.9.0.1:5901/")
	c2 := mustDial(t, cli, "ws://10.9.0.1:5901/")
	for i, c := range []*websocket.Conn{c1, c2} {
		msg := []byte(strings.Repeat("ab", i+1))
		typ, got := exchange(t, c, websocket.MessageText, msg)
		if typ != websocket.MessageBinary || !bytes.Equal(got, msg) {
			t.Errorf("client %d: got %v %q, want binary %q", i, typ, got, msg)
		}
	}

	// A bridge to a port nothing listens on, on the node's loopback.
	free, err := listenIn(nsrun.Path(srv), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := free.Addr().String()
	free.Close()
	start(t, Config{Name: "dead", Netns: nsrun.Path(srv), Kind: Bridge, Listen: "10.9.0.1:5902", Target: deadAddr})
	_, resp, err := dial(timeout(t), cli, "ws://10.9.0.1:5902/", nil)
	if err == nil {
		t.Fatal("handshake to a bridge with a dead target succeeded")
	}
	if resp == nil || resp.StatusCode != 502 {
		t.Fatalf("handshake: %v, response %v; want 502", err, resp)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "[service:dead]: target: connect to "+deadAddr) || !strings.Contains(string(body), "refused") {
		t.Errorf("502 body %q does not name the target and the refusal", body)
	}
}

// TestHTTP: the http builtin answers status and body after its delay,
// under its path only.
func TestHTTP(t *testing.T) {
	srv, cli := pair(t)
	run, _ := start(t, Config{Name: "web", Netns: nsrun.Path(srv), Kind: HTTP, Listen: "10.9.0.1:80",
		Path: "/api", Status: 418, Body: "short and stout\n", Delay: 50e6})
	hc := client(cli)
	resp, err := hc.Get("http://10.9.0.1/api/teapot")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 418 || string(body) != "short and stout\n" {
		t.Errorf("got %d %q, want 418 %q", resp.StatusCode, body, "short and stout\n")
	}
	resp, err = hc.Get("http://10.9.0.1/other")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("outside path: %d, want 404", resp.StatusCode)
	}
	st := stats(run)
	if st.MessagesIn != 1 || st.MessagesOut != 1 || st.Rejected != 1 || st.ConnectionsTotal != 2 {
		t.Errorf("stats %+v, want 1 request in, 1 out, 1 rejected, 2 connections", st)
	}
}

// TestListenErrors: a port already taken, an address the node does not
// have, and a namespace that is gone each stop Start with an error that
// names the section, with the cause testable by errors.Is.
func TestListenErrors(t *testing.T) {
	srv, _ := pair(t)
	ln, err := listenIn(nsrun.Path(srv), "10.9.0.1:9000")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tests := []struct {
		name string
		cfg  Config
		is   error
		msg  string
	}{
		{"port taken", Config{Name: "taken", Netns: nsrun.Path(srv), Kind: Echo, Listen: "10.9.0.1:9000"},
			unix.EADDRINUSE, "[service:taken]: listen on 10.9.0.1:9000 in " + nsrun.Path(srv)},
		{"address not in the node", Config{Name: "elsewhere", Netns: nsrun.Path(srv), Kind: Echo, Listen: "10.9.0.2:9000"},
			unix.EADDRNOTAVAIL, "the address is not on any interface of that namespace"},
		{"namespace gone", Config{Name: "gone", Netns: nsrun.Path("svct-nonexistent"), Kind: HTTP, Listen: "10.9.0.1:9001"},
			unix.ENOENT, "[service:gone]: namespace /run/netns/svct-nonexistent does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			startFails(t, tt.cfg, tt.is, tt.msg)
		})
	}
}
