package service

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/loader"
	"github.com/netcompose/netcompose/loader/loadertest"
)

func build(t *testing.T, text string) (*compose.Lab, error) {
	t.Helper()
	f, err := loader.Parse("/labs/lab.ini", []byte(text))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return compose.Build(f)
}

// TestConfigFrom: every key of a [service:] section reaches the Config
// the supervisor gets, with compose's parsing (command split like a
// shell, durations, signal names) and the defaults filled in.
func TestConfigFrom(t *testing.T) {
	lab, err := build(t, `
[netns:web]
[service:chat]
netns = web
use = builtin:websocket-broadcast
listen = 10.0.0.1:8080
path = /rooms
max_connections = 100
max_message = 4096
idle_timeout = 90s
origins = app.example https://*.lab.example

[service:page]
netns = web
use = builtin:http
listen = 0.0.0.0:80
status = 503
body = down for maintenance
delay = 250ms

[service:vnc]
netns = web
use = builtin:websocket-bridge
listen = 10.0.0.1:6080
target = localhost:5900

[service:app]
netns = web
command = python3 -m http.server --bind "10.0.0.1" 'port 8000'
restart = always
env = MODE=lab GREETING="hello world"
workdir = /srv
stop_signal = int
stop_timeout = 2.5

[service:script]
netns = web
command = echo $HOME | tr a-z A-Z
shell = on
`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Config{}
	for _, s := range lab.Services {
		got[s.Name] = ConfigFrom(s, "/run/netns/lab-web")
	}
	want := map[string]Config{
		"chat": {Name: "chat", Netns: "/run/netns/lab-web", Kind: Broadcast, Listen: "10.0.0.1:8080", Path: "/rooms",
			MaxConnections: 100, MaxMessage: 4096, IdleTimeout: 90 * time.Second,
			Origins: []string{"app.example", "https://*.lab.example"}},
		"page": {Name: "page", Netns: "/run/netns/lab-web", Kind: HTTP, Listen: "0.0.0.0:80", Path: "/",
			Status: 503, Body: "down for maintenance", Delay: 250 * time.Millisecond},
		"vnc": {Name: "vnc", Netns: "/run/netns/lab-web", Kind: Bridge, Listen: "10.0.0.1:6080", Path: "/",
			Target: "localhost:5900", Status: 0},
		"app": {Name: "app", Netns: "/run/netns/lab-web",
			Command: []string{"python3", "-m", "http.server", "--bind", "10.0.0.1", "port 8000"},
			Restart: RestartAlways, Env: []string{"MODE=lab", "GREETING=hello world"}, Workdir: "/srv",
			StopSignal: "SIGINT", StopTimeout: 2500 * time.Millisecond},
		"script": {Name: "script", Netns: "/run/netns/lab-web",
			Command: []string{"/bin/sh", "-c", "echo $HOME | tr a-z A-Z"},
			Restart: RestartOnFailure, Workdir: "/labs", StopSignal: "SIGTERM", StopTimeout: DefaultStopTimeout},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("configs (-want +got):\n%s", d)
	}
	// What the supervisor gets is JSON: it must round-trip.
	for name, c := range got {
		raw, _ := json.Marshal(c)
		var back Config
		if err := json.Unmarshal(raw, &back); err != nil || !cmp.Equal(back, c) {
			t.Errorf("%s: JSON round trip: %v\n%s", name, err, cmp.Diff(c, back))
		}
	}
}

// TestServiceKeyErrors: each bad key is reported at its line, every
// error in one run.
func TestServiceKeyErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string // "line: message prefix"
	}{
		{"bad values", `
[netns:a]
[service:s]
netns = a
use = builtin:websocket-echo
listen = 10.0.0.1:80
idle_timeout = soon
max_message = -1
path = rooms
origins = [a-
`, []string{
			`7: [service:s]: idle_timeout: "soon" is not a duration`,
			`8: [service:s]: max_message: "-1" is not a number in 0..1073741824`,
			`9: [service:s]: path: "rooms" must start with /`,
			`10: [service:s]: origins: "[a-" is not a pattern: syntax error in pattern`,
		}},
		{"keys of other kinds", `
[netns:a]
[service:s]
netns = a
use = builtin:websocket-echo
listen = 10.0.0.1:80
target = 10.0.0.2:22
status = 200
restart = always
`, []string{
			`7: [service:s]: target: only for builtin:websocket-bridge`,
			`8: [service:s]: status: only for builtin:http`,
			`9: [service:s]: restart: only for command services`,
		}},
		{"bridge without target", `
[netns:a]
[service:s]
netns = a
use = builtin:websocket-bridge
listen = 10.0.0.1:80
`, []string{`3: [service:s]: target: missing (HOST:PORT to bridge to)`}},
		{"bad bridge target and http status", `
[netns:a]
[service:b]
netns = a
use = builtin:websocket-bridge
listen = 10.0.0.1:80
target = 10.0.0.2
[service:h]
netns = a
use = builtin:http
listen = 10.0.0.1:81
status = 700
`, []string{
			`7: [service:b]: target: "10.0.0.2" is not HOST:PORT`,
			`12: [service:h]: status: "700" is not a number in 100..599`,
		}},
		{"command keys", `
[netns:a]
[service:c]
netns = a
command = run "unterminated
restart = sometimes
env = GOOD=1 bad
workdir = relative/dir
stop_signal = SIGBOGUS
stop_timeout = -3s
listen = 10.0.0.1
path = /x
`, []string{
			`5: [service:c]: command: unterminated double quote`,
			`6: [service:c]: restart: "sometimes" is not one of always, on-failure, never`,
			`7: [service:c]: env: "bad" is not NAME=VALUE`,
			`8: [service:c]: workdir: "relative/dir" is not an absolute path`,
			`9: [service:c]: stop_signal: "SIGBOGUS" is not one of`,
			`10: [service:c]: stop_timeout: "-3s" is not a duration`,
			`11: [service:c]: listen: "10.0.0.1" is not IP:PORT`,
			`12: [service:c]: path: only for builtin services`,
		}},
		{"unknown http builtin key", `
[netns:a]
[service:h]
netns = a
use = builtin:http
listen = 10.0.0.1:80
bodyy = hi
`, []string{`7: [service:h]: unknown key "bodyy" (did you mean "body"?)`}},
		{"check keys", `
[netns:a]
[check:w]
from = a
to = 10.0.0.1:80
protocol = websocket
status = 200
path = nope
[check:h]
from = a
to = 10.0.0.1
protocol = http
send = hi
[check:i]
from = a
to = 10.0.0.1
path = /x
`, []string{
			`7: [check:w]: status: only for protocol = http`,
			`8: [check:w]: path: "nope" must start with /`,
			`11: [check:h]: to: http checks need a port (10.0.0.1:PORT)`,
			`13: [check:h]: send: only for protocol = websocket`,
			`17: [check:i]: path: only for protocol = websocket or http`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := build(t, tt.text)
			loadertest.WantErrors(t, err, "/labs/lab.ini", tt.want)
		})
	}
}

// TestStartRejectsBadConfig: Start refuses a config compose would not
// have produced, naming the service, before touching any namespace.
func TestStartRejectsBadConfig(t *testing.T) {
	for _, tt := range []struct {
		name, raw, msg string
	}{
		{"unknown field", `{"name":"x","netns":"/run/netns/x","kind":"http","listen":"10.0.0.1:80","colour":"red"}`,
			`service: decode config: json: unknown field "colour"`},
		{"unknown kind", `{"name":"x","netns":"/run/netns/x","kind":"ftp","listen":"10.0.0.1:21"}`,
			`[service:x]: invalid config: unknown kind "ftp"`},
		{"bad listen", `{"name":"x","netns":"/run/netns/x","kind":"websocket-echo","listen":"10.0.0.1"}`,
			`[service:x]: invalid config: listen "10.0.0.1" is not IP:PORT`},
		{"command without argv", `{"name":"x","netns":"/run/netns/x"}`,
			`[service:x]: invalid config: neither a builtin kind nor a command`},
		{"bad stop signal", `{"name":"x","netns":"/run/netns/x","command":["true"],"stop_signal":"SIGNOPE"}`,
			`[service:x]: invalid config: stop_signal "SIGNOPE" is not a signal`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Start(context.Background(), json.RawMessage(tt.raw), (&recorder{}).env())
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %v, want %q", err, tt.msg)
			}
		})
	}
}

// TestCommandSplitting: command = ... is split into words as a POSIX
// shell would, without any expansion.
func TestCommandSplitting(t *testing.T) {
	tests := []struct {
		name, command string
		want          []string
	}{
		{"blanks separate", "prog  -a\t-b", []string{"prog", "-a", "-b"}},
		{"single quotes keep everything", `echo 'a "b" \c $d'`, []string{"echo", `a "b" \c $d`}},
		{"double quotes keep escapes of four", `echo "a \"b\" \\ \$HOME \x"`, []string{"echo", `a "b" \ $HOME \x`}},
		{"backslash escapes a blank", `ls my\ dir`, []string{"ls", "my dir"}},
		{"quotes join a word", `--name='a b'"c"`, []string{"--name=a bc"}},
		{"empty quotes are an argument", `prog '' ""`, []string{"prog", "", ""}},
		{"no shell operators", `a | b > c`, []string{"a", "|", "b", ">", "c"}},
		{"continued lines", "prog -a \\\n  -b", []string{"prog", "-a", "-b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := "[netns:a]\n[service:s]\nnetns = a\ncommand = " + strings.ReplaceAll(tt.command, "\n", "\n ") + "\n"
			lab, err := build(t, text)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, ConfigFrom(lab.Services[0], "/run/netns/x").Command); d != "" {
				t.Errorf("argv of %q (-want +got):\n%s", tt.command, d)
			}
		})
	}
}
