package check

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/netcompose/netcompose/internal/nsrun"
)

// Result is the outcome of one check.
type Result struct {
	Name     string `json:"name"`
	Protocol string `json:"protocol"`
	From     string `json:"from"`   // namespace
	Target   string `json:"target"` // address, with :port for tcp and udp
	Expect   string `json:"expect"`
	Pass     bool   `json:"pass"`
	// Reason says why the check passed or failed, pointing at the cause.
	Reason string `json:"reason"`
	// RTT is the fastest echo's round trip (icmp), the connect time (tcp),
	// the exchange time (udp, websocket: after the handshake), the first
	// answer's delay (arp) or the time to the response headers (http).
	RTT time.Duration `json:"rtt_ns,omitempty"`
	// RTTMax is the slowest echo's round trip (icmp).
	RTTMax time.Duration `json:"rtt_max_ns,omitempty"`
	// Duration is how long the whole check took.
	Duration time.Duration `json:"duration_ns"`
	// Sent and Received count echo requests and replies (icmp).
	Sent     int `json:"sent,omitempty"`
	Received int `json:"received,omitempty"`
	// TTL is the IP TTL of the last echo reply (icmp, IPv4): it shows how
	// many routers the path crossed.
	TTL int `json:"ttl,omitempty"`
	// Answers lists every ARP reply (arp).
	Answers []Answer `json:"answers,omitempty"`
	// Status is the HTTP status answered (http; websocket when the
	// handshake was refused).
	Status int `json:"status,omitempty"`
	// Detail holds extra facts, e.g. "listener opened in lab-server".
	Detail string `json:"detail,omitempty"`
}

// Answer is one ARP reply.
type Answer struct {
	MAC   string        `json:"mac"`
	Label string        `json:"label,omitempty"` // e.g. "eth1" or "fw:eth0"
	After time.Duration `json:"after_ns"`
}

// DefaultParallel is used when Run is given parallel <= 0.
const DefaultParallel = 8

// Run runs specs, up to parallel at a time, and returns one Result per
// spec in the same order. Every check is bounded by its timeout and by
// ctx: Run never hangs. Checks that would open the same short-lived
// listener run one after another.
func Run(ctx context.Context, specs []Spec, parallel int) []Result {
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	results := make([]Result, len(specs))
	sem := make(chan struct{}, parallel)
	locks := &keyedMutex{m: map[string]*sync.Mutex{}}
	var wg sync.WaitGroup
	for i, s := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[i] = failed(s, fmt.Sprintf("not run: %v", ctx.Err()))
				return
			}
			defer func() { <-sem }()
			results[i] = runOne(ctx, s, locks)
		}()
	}
	wg.Wait()
	return results
}

// RunOne runs a single check.
func RunOne(ctx context.Context, s Spec) Result {
	return runOne(ctx, s, &keyedMutex{m: map[string]*sync.Mutex{}})
}

func runOne(ctx context.Context, s Spec, locks *keyedMutex) Result {
	start := time.Now()
	if err := s.Validate(); err != nil {
		return failed(s, "invalid check: "+oneLine(err))
	}
	s = s.withDefaults()
	if err := netnsExists(s.FromNetns); err != nil {
		return failed(s, err.Error())
	}
	if s.TargetNetns != "" && (s.Protocol == TCP || s.Protocol == UDP) {
		if err := netnsExists(s.TargetNetns); err != nil {
			return failed(s, err.Error())
		}
		// One listener per namespace, protocol and address at a time.
		unlock := locks.lock(s.TargetNetns + "/" + s.Protocol + "/" + s.targetString())
		defer unlock()
	}
	ctx, cancel := context.WithTimeout(ctx, s.budget())
	defer cancel()
	var r Result
	switch s.Protocol {
	case ICMP:
		r = probeICMP(ctx, s)
	case TCP:
		r = probeTCP(ctx, s)
	case UDP:
		r = probeUDP(ctx, s)
	case ARP:
		r = probeARP(ctx, s)
	case WebSocket:
		r = probeWebSocket(ctx, s)
	case HTTP:
		r = probeHTTP(ctx, s)
	}
	fill(&r, s)
	r.Duration = time.Since(start)
	return r
}

// fill copies the spec's identity into r.
func fill(r *Result, s Spec) {
	r.Name = s.Name
	r.Protocol = s.Protocol
	r.From = s.FromNetns
	r.Target = s.targetString()
	r.Expect = s.Expect
	if r.Expect == "" {
		r.Expect = ExpectPass
	}
}

func failed(s Spec, reason string) Result {
	r := Result{Reason: reason}
	fill(&r, s)
	return r
}

// verdict turns "did the traffic get through" into pass or fail under the
// spec's expectation. got describes the success, cause the failure.
func verdict(s Spec, reached bool, got, cause string) (bool, string) {
	switch {
	case s.Expect == ExpectFail && reached:
		return false, "reachable, want blocked: " + got
	case s.Expect == ExpectFail:
		return true, "blocked as expected: " + cause
	case reached:
		return true, got
	default:
		return false, cause
	}
}

// netnsExists reports a missing namespace in words a user can act on.
func netnsExists(name string) error {
	_, err := os.Stat(nsrun.Path(name))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("namespace %s does not exist: is the lab applied?", name)
	}
	if err != nil {
		return fmt.Errorf("namespace %s: %w", name, err)
	}
	return nil
}

// keyedMutex serialises checks that share a key.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*sync.Mutex
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	l, ok := k.m[key]
	if !ok {
		l = &sync.Mutex{}
		k.m[key] = l
	}
	k.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// oneLine joins a multi-line (errors.Join) message with "; ".
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}
