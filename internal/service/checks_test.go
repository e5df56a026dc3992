package service

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/netcompose/netcompose/internal/check"
	"github.com/netcompose/netcompose/internal/nsrun"
)

// TestChecksAgainstServices: the probes of `netcompose test` against the
// builtins, as a lab would use them: an echo passes, a foreign origin is
// refused (expect = fail passes, naming the service's reason), and the
// http builtin's status and body are seen.
func TestChecksAgainstServices(t *testing.T) {
	srv, cli := pair(t)
	start(t, Config{Name: "echo", Netns: nsrun.Path(srv), Kind: Echo, Listen: "10.9.0.1:8080", Path: "/ws",
		Origins: []string{"app.example"}})
	start(t, Config{Name: "page", Netns: nsrun.Path(srv), Kind: HTTP, Listen: "10.9.0.1:80", Body: "lab is up\n"})
	target := netip.MustParseAddr("10.9.0.1")
	spec := func(name, proto string, port uint16, f func(*check.Spec)) check.Spec {
		s := check.Spec{Name: name, FromNetns: cli, Protocol: proto, Target: target, Port: port}
		f(&s)
		return s
	}
	tests := []struct {
		spec   check.Spec
		pass   bool
		reason string
	}{
		{spec("echo with an allowed origin", check.WebSocket, 8080, func(s *check.Spec) { s.Path, s.Origin = "/ws", "http://app.example" }),
			true, "echo of 33 bytes from ws://10.9.0.1:8080/ws"},
		{spec("foreign origin refused", check.WebSocket, 8080, func(s *check.Spec) {
			s.Path, s.Origin, s.Expect = "/ws", "http://evil.example", check.ExpectFail
		}), true, `blocked as expected: handshake rejected: 403 Forbidden: [service:echo]: origin "http://evil.example" not allowed (origins = app.example)`},
		{spec("http body", check.HTTP, 80, func(s *check.Spec) { s.Body = "lab is up" }),
			true, `200 OK from http://10.9.0.1:80/ in`},
		{spec("http status wanted is not given", check.HTTP, 80, func(s *check.Spec) { s.Status = 204 }),
			false, `200 OK from http://10.9.0.1:80/, want 204: "lab is up"`},
	}
	var specs []check.Spec
	for _, tt := range tests {
		specs = append(specs, tt.spec)
	}
	for i, r := range check.Run(context.Background(), specs, 4) {
		if r.Pass != tests[i].pass || !strings.Contains(r.Reason, tests[i].reason) {
			t.Errorf("%s: pass=%v %q, want pass=%v containing %q", r.Name, r.Pass, r.Reason, tests[i].pass, tests[i].reason)
		}
	}
}
