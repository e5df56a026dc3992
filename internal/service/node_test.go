package service

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/netcompose/netcompose/internal/nsrun"
)

// nodeWebSocket runs a Node.js script inside ns (ip netns exec) with
// Node's own WebSocket client, and decodes the JSON list it prints in out
// when it calls done(). It skips when node, or its WebSocket, is missing.
func nodeWebSocket(t *testing.T, ns, script string) []string {
	t.Helper()
	node, flags := nodeWithWebSocket(t)
	prelude := `const out = [];
const done = () => { console.log(JSON.stringify(out)); process.exit(0); };
setTimeout(() => { out.push("timeout"); done(); }, 8000);
`
	args := append([]string{"netns", "exec", ns, node}, flags...)
	raw, err := exec.Command("ip", append(args, "-e", prelude+script)...).Output()
	if err != nil {
		t.Fatalf("node in %s: %v: %s", ns, err, raw)
	}
	var got []string
	if err := json.Unmarshal([]byte(lastLine(strings.TrimSpace(string(raw)))), &got); err != nil {
		t.Fatalf("node output %q: %v", raw, err)
	}
	return got
}

// nodeWithWebSocket finds node and the flags that give it a WebSocket
// global: none from Node 22, --experimental-websocket on Node 20.10+. It
// skips when there is no such node.
func nodeWithWebSocket(t *testing.T) (string, []string) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed: the non-Go websocket client test needs Node.js 20.10+ (apt-get install nodejs)")
	}
	probe := `process.exit(typeof WebSocket === "undefined" ? 1 : 0)`
	for _, flags := range [][]string{nil, {"--experimental-websocket"}} {
		if exec.Command(node, append(flags, "-e", probe)...).Run() == nil {
			return node, flags
		}
	}
	out, _ := exec.Command(node, "--version").Output()
	t.Skipf("node %s has no WebSocket client (want Node.js 20.10+)", strings.TrimSpace(string(out)))
	return "", nil
}

func lastLine(s string) string {
	lines := strings.Split(s, "\n")
	return lines[len(lines)-1]
}

// TestNodeClient: Node's WebSocket (undici, not Go) talks to the echo
// builtin — text and binary come back as sent, and a message over
// max_message gets close code 1009 — and to the broadcast builtin — a
// message of one client reaches the other of the same room.
func TestNodeClient(t *testing.T) {
	srv, cli := pair(t)
	start(t, Config{Name: "echo", Netns: nsrun.Path(srv), Kind: Echo, Listen: "10.9.0.1:8080", MaxMessage: 64})
	got := nodeWebSocket(t, cli, `
const ws = new WebSocket("ws://10.9.0.1:8080/");
ws.binaryType = "arraybuffer";
ws.onopen = () => { ws.send("from node"); ws.send(new Uint8Array([1, 2, 3, 255])); };
ws.onmessage = (e) => {
  if (typeof e.data === "string") out.push("text:" + e.data);
  else out.push("binary:" + Array.from(new Uint8Array(e.data)).join(","));
  if (out.length === 2) ws.send("x".repeat(100));
};
ws.onclose = (e) => { out.push("close:" + e.code); done(); };
`)
	if want := "text:from node binary:1,2,3,255 close:1009"; strings.Join(got, " ") != want {
		t.Errorf("node against echo: %q, want %q", got, want)
	}

	start(t, Config{Name: "chat", Netns: nsrun.Path(srv), Kind: Broadcast, Listen: "10.9.0.1:8081"})
	// a repeats itself until b hears it: joining a room follows the
	// handshake, and a cannot know when b has joined.
	got = nodeWebSocket(t, cli, fmt.Sprintf(`
const a = new WebSocket(%[1]q), b = new WebSocket(%[1]q);
let open = 0, tick;
const go = () => { if (++open === 2) tick = setInterval(() => a.send("hello room"), 50); };
a.onopen = go; b.onopen = go;
b.onmessage = (e) => { if (!tick) return; clearInterval(tick); tick = null; out.push("b:" + e.data); b.send("hi a"); };
a.onmessage = (e) => { out.push("a:" + e.data); if (e.data === "hi a") done(); };
`, "ws://10.9.0.1:8081/room"))
	if want := "b:hello room a:hi a"; strings.Join(got, " ") != want {
		t.Errorf("node against broadcast: %q, want %q", got, want)
	}
}
