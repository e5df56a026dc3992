package check

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// TestEchoTally counts one reply per request sent, whatever arrives.
func TestEchoTally(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	sent := map[int]time.Time{1: ms(0), 2: ms(200), 3: ms(400)}
	reply := func(seq, ttl, at int) echoEvent { return echoEvent{seq: seq, reply: true, ttl: ttl, at: ms(at)} }
	for _, tc := range []struct {
		name    string
		sentAt  map[int]time.Time
		events  []echoEvent
		want    Result
		lastErr string
	}{
		{"nothing sent", map[int]time.Time{}, nil, Result{}, ""},
		{"nothing came back", sent, nil, Result{Sent: 3}, ""},
		{"every request answered", sent,
			[]echoEvent{reply(1, 64, 5), reply(2, 64, 203), reply(3, 64, 402)},
			Result{Sent: 3, Received: 3, RTT: 2 * time.Millisecond, RTTMax: 5 * time.Millisecond, TTL: 64}, ""},
		{"rtt is the minimum, not the first", sent,
			[]echoEvent{reply(1, 64, 30), reply(2, 64, 201)},
			Result{Sent: 3, Received: 2, RTT: time.Millisecond, RTTMax: 30 * time.Millisecond, TTL: 64}, ""},
		{"a duplicate reply counts once and keeps the first ttl", sent,
			[]echoEvent{reply(1, 63, 1), reply(1, 64, 2)},
			Result{Sent: 3, Received: 1, RTT: time.Millisecond, RTTMax: time.Millisecond, TTL: 63}, ""},
		{"a reply to a request never sent is ignored", sent,
			[]echoEvent{reply(9, 64, 1)},
			Result{Sent: 3}, ""},
		{"ttl is the last counted reply's", sent,
			[]echoEvent{reply(2, 63, 210), reply(1, 62, 20)},
			Result{Sent: 3, Received: 2, RTT: 10 * time.Millisecond, RTTMax: 20 * time.Millisecond, TTL: 62}, ""},
		{"the last ICMP error is kept", sent,
			[]echoEvent{{seq: 1, err: "network unreachable from 10.0.0.254"}, {seq: 2, err: "time to live exceeded from 10.0.0.254"}},
			Result{Sent: 3}, "time to live exceeded from 10.0.0.254"},
		{"errors and replies mixed", sent,
			[]echoEvent{{seq: 1, err: "port unreachable from 10.0.0.2"}, reply(2, 64, 204)},
			Result{Sent: 3, Received: 1, RTT: 4 * time.Millisecond, RTTMax: 4 * time.Millisecond, TTL: 64}, "port unreachable from 10.0.0.2"},
		{"the warm-up echo 0 is not counted", sent,
			[]echoEvent{reply(0, 64, 1), reply(1, 64, 81), reply(2, 64, 282), reply(3, 64, 483)},
			Result{Sent: 3, Received: 3, RTT: 81 * time.Millisecond, RTTMax: 83 * time.Millisecond, TTL: 64}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, lastErr := echoRound{sentAt: tc.sentAt, events: tc.events}.tally()
			if d := cmp.Diff(tc.want, r); d != "" {
				t.Errorf("tally (-want +got):\n%s", d)
			}
			if lastErr != tc.lastErr {
				t.Errorf("last error %q, want %q", lastErr, tc.lastErr)
			}
		})
	}
}

// TestICMPJudgement turns counted replies into pass or fail and a reason.
func TestICMPJudgement(t *testing.T) {
	spec := func(f func(*Spec)) Spec {
		s := Spec{Protocol: ICMP, Target: ip("10.0.0.2"), Count: 3, Timeout: 2 * time.Second}
		if f != nil {
			f(&s)
		}
		return s
	}
	all := Result{Sent: 3, Received: 3, RTT: 1234567 * time.Nanosecond, RTTMax: 2 * time.Millisecond, TTL: 64}
	none := Result{Sent: 3}
	two := Result{Sent: 3, Received: 2, RTT: time.Millisecond, TTL: 64}
	wan := Result{Sent: 3, Received: 3, RTT: 80412 * time.Microsecond, RTTMax: 95 * time.Millisecond, TTL: 64}
	for _, tc := range []struct {
		name    string
		spec    Spec
		r       Result
		sendErr error
		lastErr string
		pass    bool
		reason  string
	}{
		{"every reply passes", spec(nil), all, nil, "",
			true, "3/3 replies from 10.0.0.2, rtt min 1.23ms, ttl 64"},
		{"a reply without ttl says none", spec(nil), Result{Sent: 1, Received: 1, RTT: time.Millisecond}, nil, "",
			true, "1/1 replies from 10.0.0.2, rtt min 1ms"},
		{"no reply fails", spec(nil), none, nil, "",
			false, "no reply from 10.0.0.2 within 2s (3/3 lost)"},
		{"no reply with a send error", spec(nil), none, unix.ENETUNREACH, "",
			false, "no reply from 10.0.0.2 within 2s (3/3 lost): send: network is unreachable (no route in the from namespace)"},
		{"no reply with an ICMP error", spec(nil), none, nil, "destination host unreachable from 10.0.0.1",
			false, "no reply from 10.0.0.2 within 2s (3/3 lost): destination host unreachable from 10.0.0.1"},
		{"the send error wins over the ICMP error", spec(nil), none, unix.EHOSTUNREACH, "port unreachable from 10.0.0.2",
			false, "no reply from 10.0.0.2 within 2s (3/3 lost): send: no route to host"},
		{"loss above the allowed fails", spec(nil), two, nil, "",
			false, "1/3 lost from 10.0.0.2, more than the allowed 0%"},
		{"loss above the allowed with an ICMP error", spec(func(s *Spec) { s.MaxLoss = 0.1 }), two, nil, "time to live exceeded from 10.0.0.9",
			false, "1/3 lost from 10.0.0.2, more than the allowed 10%: time to live exceeded from 10.0.0.9"},
		{"loss within the allowed passes", spec(func(s *Spec) { s.MaxLoss = 0.5 }), two, nil, "",
			true, "2/3 replies from 10.0.0.2, rtt min 1ms, ttl 64"},
		{"expect fail: no reply is blocked", spec(func(s *Spec) { s.Expect = ExpectFail }), none, nil, "",
			true, "blocked as expected: no reply from 10.0.0.2 within 2s (3/3 lost)"},
		{"expect fail: one reply is reachable whatever the loss", spec(func(s *Spec) { s.Expect = ExpectFail }), Result{Sent: 3, Received: 1, RTT: time.Millisecond, TTL: 64}, nil, "",
			false, "reachable, want blocked: 1/3 replies from 10.0.0.2, rtt min 1ms, ttl 64"},
		{"ttl as wanted passes", spec(func(s *Spec) { s.TTL = 64 }), all, nil, "",
			true, "3/3 replies from 10.0.0.2, rtt min 1.23ms, ttl 64"},
		{"ttl one less than wanted: a router more", spec(func(s *Spec) { s.TTL = 64 }), Result{Sent: 1, Received: 1, RTT: time.Millisecond, TTL: 63}, nil, "",
			false, "1/1 replies from 10.0.0.2, rtt min 1ms, ttl 63, want ttl 64: 1 router more than expected on the path back"},
		{"ttl two more than wanted: routers fewer", spec(func(s *Spec) { s.TTL = 62 }), all, nil, "",
			false, "3/3 replies from 10.0.0.2, rtt min 1.23ms, ttl 64, want ttl 62: 2 routers fewer than expected on the path back"},
		{"ttl is not judged under expect fail", spec(func(s *Spec) { s.TTL = 62; s.Expect = ExpectFail }), none, nil, "",
			true, "blocked as expected: no reply from 10.0.0.2 within 2s (3/3 lost)"},
		{"ttl is not judged when the check fails anyway", spec(func(s *Spec) { s.TTL = 62 }), two, nil, "",
			false, "1/3 lost from 10.0.0.2, more than the allowed 0%"},
		{"rtt within both bounds passes, and shows the slowest", spec(func(s *Spec) { s.MinRTT, s.MaxRTT = 80*time.Millisecond, 120*time.Millisecond }), wan, nil, "",
			true, "3/3 replies from 10.0.0.2, rtt min 80.41ms max 95ms, ttl 64"},
		{"rtt below min_rtt fails with both figures", spec(func(s *Spec) { s.MinRTT = 80 * time.Millisecond }), all, nil, "",
			false, "3/3 replies from 10.0.0.2, rtt min 1.23ms max 2ms, ttl 64, want rtt min at least 80ms (min_rtt): the path is faster than the delay it should have"},
		{"rtt above max_rtt fails with both figures", spec(func(s *Spec) { s.MaxRTT = 90 * time.Millisecond }), wan, nil, "",
			false, "3/3 replies from 10.0.0.2, rtt min 80.41ms max 95ms, ttl 64, want rtt max at most 90ms (max_rtt)"},
		{"rtt bounds are not judged under expect fail", spec(func(s *Spec) { s.MinRTT = 80 * time.Millisecond; s.Expect = ExpectFail }), none, nil, "",
			true, "blocked as expected: no reply from 10.0.0.2 within 2s (3/3 lost)"},
		{"rtt bounds are not judged when the check fails anyway", spec(func(s *Spec) { s.MinRTT = 80 * time.Millisecond }), none, nil, "",
			false, "no reply from 10.0.0.2 within 2s (3/3 lost)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cause := icmpCause(tc.spec, tc.r, tc.sendErr, tc.lastErr)
			pass, reason := icmpVerdict(tc.spec, tc.r, cause)
			if pass != tc.pass || reason != tc.reason {
				t.Errorf("got pass=%v %q\nwant pass=%v %q", pass, reason, tc.pass, tc.reason)
			}
		})
	}
}

// TestReplyDeadline waits Timeout after the last request, never past ctx.
func TestReplyDeadline(t *testing.T) {
	last := time.Unix(1000, 0)
	for _, tc := range []struct {
		name    string
		ctxEnd  time.Time // zero: no deadline
		timeout time.Duration
		want    time.Time
	}{
		{name: "no ctx deadline: timeout after the last request", timeout: time.Second, want: last.Add(time.Second)},
		{name: "a later ctx deadline changes nothing", ctxEnd: last.Add(time.Hour), timeout: time.Second, want: last.Add(time.Second)},
		{name: "an earlier ctx deadline wins", ctxEnd: last.Add(300 * time.Millisecond), timeout: time.Second, want: last.Add(300 * time.Millisecond)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if !tc.ctxEnd.IsZero() {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, tc.ctxEnd)
				defer cancel()
			}
			if got := replyDeadline(ctx, last, tc.timeout); !got.Equal(tc.want) {
				t.Errorf("deadline %v, want %v", got, tc.want)
			}
		})
	}
}
