package check

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// serveIn serves h on addr inside ns until the test ends.
func serveIn(t *testing.T, ns, addr string, h http.Handler) {
	t.Helper()
	ln, err := listenIn(ns, func() (io.Closer, error) { return net.Listen("tcp", addr) })
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln.(net.Listener))
	t.Cleanup(func() { srv.Close() })
}

// wsEcho is a bare coder/websocket echo server with the library's own
// origin rule (cross-origin handshakes get 403) and a 1 KiB read limit.
func wsEcho(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(1024)
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

func TestWebSocket(t *testing.T) {
	_, client, server := twoHosts(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", wsEcho)
	serveIn(t, server, "10.0.0.2:8080", mux)
	short := 500 * time.Millisecond
	ws := func(name string, port uint16, path string) Spec {
		return Spec{Name: name, FromNetns: client, Protocol: WebSocket, Target: ip("10.0.0.2"), Port: port, Path: path}
	}
	with := func(s Spec, f func(*Spec)) Spec { f(&s); return s }

	tests := []probeCase{
		{ws("echo of a random token", 8080, "/ws"),
			want{true, "echo of 33 bytes from ws://10.0.0.2:8080/ws in"}},
		{with(ws("send and expect_reply", 8080, "/ws"), func(s *Spec) { s.Send, s.ExpectReply = "hello", "hello" }),
			want{true, `reply "hello" from ws://10.0.0.2:8080/ws`}},
		{with(ws("wrong reply", 8080, "/ws"), func(s *Spec) { s.Send, s.ExpectReply = "ping", "pong" }),
			want{false, `reply "ping" from ws://10.0.0.2:8080/ws, want "pong"`}},
		{ws("nothing listens", 9999, "/"),
			want{false, "connection to 10.0.0.2:9999 refused"}},
		{with(ws("expect fail and refused", 9999, "/"), func(s *Spec) { s.Expect = ExpectFail }),
			want{true, "blocked as expected: connection to 10.0.0.2:9999 refused"}},
		{with(ws("origin rejected", 8080, "/ws"), func(s *Spec) { s.Origin = "http://evil.example" }),
			want{false, "handshake rejected: 403 Forbidden: request Origin \"evil.example\" is not authorized"}},
		{with(ws("expect fail and origin rejected", 8080, "/ws"), func(s *Spec) { s.Origin = "http://evil.example"; s.Expect = ExpectFail }),
			want{true, "blocked as expected: handshake rejected: 403 Forbidden"}},
		{ws("no such path", 8080, "/nope"),
			want{false, "handshake rejected: 404 Not Found: 404 page not found"}},
		{with(ws("server refuses a big message", 8080, "/ws"), func(s *Spec) { s.Send = strings.Repeat("x", 2000) }),
			want{false, "ws://10.0.0.2:8080/ws closed the connection with 1009 (message too big)"}},
		{with(ws("no route", 80, "/"), func(s *Spec) { s.Target = ip("192.0.2.1"); s.Timeout = short }),
			want{false, "network is unreachable (no route in " + client + ")"}},
		{with(ws("expect fail and no route", 80, "/"), func(s *Spec) { s.Target = ip("192.0.2.1"); s.Expect = ExpectFail }),
			want{true, "blocked as expected: connect to 192.0.2.1:80: network is unreachable"}},
		{with(ws("expect fail but echoed", 8080, "/ws"), func(s *Spec) { s.Expect = ExpectFail }),
			want{false, "reachable, want blocked: echo of 33 bytes"}},
	}
	results := checkCases(t, tests, nil)
	if results[5].Status != 403 {
		t.Errorf("origin rejected: status %d, want 403 in the result", results[5].Status)
	}
}

func TestHTTP(t *testing.T) {
	_, client, server := twoHosts(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "status: ok\n") })
	mux.HandleFunc("/created", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	serveIn(t, server, "10.0.0.2:80", mux)
	get := func(name, path string, f func(*Spec)) Spec {
		s := Spec{Name: name, FromNetns: client, Protocol: HTTP, Target: ip("10.0.0.2"), Port: 80, Path: path}
		if f != nil {
			f(&s)
		}
		return s
	}
	tests := []probeCase{
		{get("200 by default", "/health", nil),
			want{true, "200 OK from http://10.0.0.2:80/health in"}},
		{get("body substring", "/health", func(s *Spec) { s.Body = "status: ok" }),
			want{true, `body has "status: ok"`}},
		{get("body lacks", "/health", func(s *Spec) { s.Body = "degraded" }),
			want{false, `body "status: ok\n" lacks "degraded"`}},
		{get("status wanted", "/created", func(s *Spec) { s.Status = 201 }),
			want{true, "201 Created"}},
		{get("status not wanted", "/missing", nil),
			want{false, "404 Not Found from http://10.0.0.2:80/missing, want 200: \"404 page not found\""}},
		{get("refused", "/", func(s *Spec) { s.Port = 81 }),
			want{false, "connection to 10.0.0.2:81 refused"}},
		{get("expect fail and refused", "/", func(s *Spec) { s.Port = 81; s.Expect = ExpectFail }),
			want{true, "blocked as expected: connection to 10.0.0.2:81 refused"}},
		{get("no answer in time", "/slow", func(s *Spec) { s.Timeout = 300 * time.Millisecond }),
			want{false, "no answer to GET http://10.0.0.2:80/slow within 300ms"}},
	}
	results := checkCases(t, tests, nil)

	// The JSON and JUnit reports carry the new kinds: protocol, URL
	// target and status.
	var js bytes.Buffer
	if err := WriteJSON(&js, results[:1]); err != nil {
		t.Fatal(err)
	}
	var decoded []map[string]any
	if err := json.Unmarshal(js.Bytes(), &decoded); err != nil {
		t.Fatal(err)
	}
	if d := decoded[0]; d["protocol"] != "http" || d["target"] != "http://10.0.0.2:80/health" || d["status"] != 200.0 {
		t.Errorf("json %v, want protocol http, the URL as target, status 200", d)
	}
	var ju bytes.Buffer
	if err := WriteJUnit(&ju, "lab", results); err != nil {
		t.Fatal(err)
	}
	for _, frag := range []string{`classname="lab.http"`, `message="404 Not Found from http://10.0.0.2:80/missing`} {
		if !strings.Contains(ju.String(), frag) {
			t.Errorf("junit lacks %s:\n%s", frag, ju.String())
		}
	}
}
