package check

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"github.com/netcompose/netcompose/internal/nsrun"
)

// IANA protocol numbers, for icmp.ParseMessage.
const (
	protoICMP   = 1
	protoICMPv6 = 58
)

// pinger is an ICMP echo socket opened inside a namespace.
type pinger struct {
	conn *icmp.PacketConn
	raw  bool // raw socket: we choose the echo ID and see ICMP errors
	v6   bool
	id   int
	tok  []byte // payload prefix that marks our echoes
}

// openPinger opens a raw ICMP socket in ns, falling back to an
// unprivileged ping socket ("udp4") where raw sockets are not allowed.
func openPinger(ns string, v6 bool) (*pinger, error) {
	p := &pinger{v6: v6, tok: make([]byte, 8)}
	rand.Read(p.tok)
	p.id = int(binary.BigEndian.Uint16(p.tok))
	rawNet, dgramNet, laddr := "ip4:icmp", "udp4", "0.0.0.0"
	if v6 {
		rawNet, dgramNet, laddr = "ip6:ipv6-icmp", "udp6", "::"
	}
	err := nsrun.Do(nsrun.Path(ns), func() error {
		c, err := icmp.ListenPacket(rawNet, laddr)
		if err == nil {
			p.conn, p.raw = c, true
			return nil
		}
		if !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EACCES) {
			return err
		}
		p.conn, err = icmp.ListenPacket(dgramNet, laddr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("icmp socket in %s: %w", ns, err)
	}
	if !v6 {
		// Ask for the reply's TTL; a missing TTL only loses a detail.
		p.conn.IPv4PacketConn().SetControlMessage(ipv4.FlagTTL, true)
	}
	return p, nil
}

// echoEvent is one thing the receiver learned about an echo request.
type echoEvent struct {
	seq   int
	reply bool   // an echo reply; otherwise an ICMP error
	ttl   int    // of the reply, IPv4 only
	err   string // e.g. "destination host unreachable from 10.0.0.254"
	at    time.Time
}

// probeICMP sends s.Count echo requests and judges the replies: enough of
// them (s.MaxLoss) means reached, and a pass must show s.TTL when set.
func probeICMP(ctx context.Context, s Spec) Result {
	p, err := openPinger(s.FromNetns, s.Target.Is6())
	if err != nil {
		return Result{Reason: err.Error()}
	}
	defer p.conn.Close()
	var capt *capture
	if s.CaptureNetns != "" {
		if capt, err = startCapture(s.CaptureNetns, s.CaptureIface, p.tok); err != nil {
			return Result{Reason: err.Error()}
		}
	}

	round := p.exchange(ctx, s)
	r, lastErr := round.tally()
	cause := icmpCause(s, r, round.sendErr, lastErr)
	if r.Received == 0 && round.sendErr == nil && lastErr == "" {
		// Nothing at all came back: the neighbour table may say why.
		cause = withHint(s, cause, "")
	}
	r.Pass, r.Reason = icmpVerdict(s, r, cause)
	if capt != nil {
		seen, frames := capt.end()
		r.Pass, r.Reason = captureVerdict(s, r.Pass, r.Reason, r.Sent, seen, frames)
	}
	if !p.raw {
		r.Detail = "unprivileged ping socket: ICMP errors not seen"
	}
	return r
}

// echoRound is what one exchange of echoes gave: when each request went
// out (by sequence number), the last error sending one, and what the
// receiver learned, in the order it learned it.
type echoRound struct {
	sentAt  map[int]time.Time
	sendErr error
	events  []echoEvent
}

// exchange sends s.Count echo requests icmpInterval apart and collects
// what comes back until s.Timeout after the last one, ctx's end, or a
// reply to every request.
func (p *pinger) exchange(ctx context.Context, s Spec) echoRound {
	events := make(chan echoEvent, 4*s.Count+2)
	done := make(chan struct{})
	warm := make(chan struct{})
	go func() {
		defer close(done)
		p.receive(events, s.Count, warm)
	}()
	// Unblock the receiver when ctx ends.
	stop := context.AfterFunc(ctx, func() { p.conn.SetReadDeadline(time.Now()) })
	defer stop()

	round := echoRound{sentAt: map[int]time.Time{}}
	dst := p.addr(s.Target)
	if s.MaxRTT > 0 {
		p.warmUp(ctx, dst, warm, s.Timeout)
	}
	last := p.send(ctx, dst, s.Count, &round)
	p.conn.SetReadDeadline(replyDeadline(ctx, last, s.Timeout))
	<-done
	close(events)
	for ev := range events {
		round.events = append(round.events, ev)
	}
	return round
}

// warmUp sends echo request 0, which no tally counts, and waits until
// its answer (or an ICMP error about it) is back, or timeout: the
// neighbour is then resolved, and the counted round trips are the
// path's alone. A first echo otherwise waits for ARP or neighbour
// discovery, whose packets cross the same (delayed) link.
func (p *pinger) warmUp(ctx context.Context, dst net.Addr, warm <-chan struct{}, timeout time.Duration) {
	if _, err := p.conn.WriteTo(p.echo(0), dst); err != nil {
		return // the counted requests will meet the same error
	}
	select {
	case <-warm:
	case <-time.After(timeout):
	case <-ctx.Done():
	}
}

// addr is target as the pinger's socket takes it: an IP address for a raw
// socket, a UDP address for a ping socket.
func (p *pinger) addr(target netip.Addr) net.Addr {
	if !p.raw {
		return &net.UDPAddr{IP: target.AsSlice()}
	}
	return &net.IPAddr{IP: target.AsSlice()}
}

// send writes count echo requests to dst, icmpInterval apart, noting them
// in round, and returns when the last one went out. When ctx ends, the
// request whose wait it cut short still goes out, and no further one.
func (p *pinger) send(ctx context.Context, dst net.Addr, count int, round *echoRound) time.Time {
	last := time.Now()
	for seq := 1; seq <= count && ctx.Err() == nil; seq++ {
		if seq > 1 {
			select {
			case <-time.After(icmpInterval):
			case <-ctx.Done():
			}
		}
		msg := p.echo(seq)
		last = time.Now()
		round.sentAt[seq] = last
		if _, err := p.conn.WriteTo(msg, dst); err != nil {
			round.sendErr = err
		}
	}
	return last
}

// replyDeadline is when to stop waiting for replies: timeout after the
// last request, or ctx's deadline when that comes first.
func replyDeadline(ctx context.Context, last time.Time, timeout time.Duration) time.Time {
	deadline := last.Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	return deadline
}

// tally counts the round's replies into a Result (Sent, Received, RTT,
// TTL): one per request sent, duplicates ignored. lastErr is the last ICMP
// error seen, "" if none.
func (round echoRound) tally() (r Result, lastErr string) {
	r.Sent = len(round.sentAt)
	seen := map[int]bool{}
	for _, ev := range round.events {
		if !ev.reply {
			lastErr = ev.err
			continue
		}
		t, ok := round.sentAt[ev.seq]
		if !ok || seen[ev.seq] {
			continue
		}
		seen[ev.seq] = true
		r.Received++
		// The minimum is the path's round trip; the first echo also
		// waits for neighbour resolution (proxy ARP delays it by up to
		// proxy_delay), which would swamp an average.
		rtt := ev.at.Sub(t)
		if r.RTT == 0 || rtt < r.RTT {
			r.RTT = rtt
		}
		r.RTTMax = max(r.RTTMax, rtt)
		r.TTL = ev.ttl
	}
	return r, lastErr
}

// icmpCause says how the replies counted in r fall short of s (none at
// all, or more lost than allowed), with the send error or else the last
// ICMP error that explains it.
func icmpCause(s Spec, r Result, sendErr error, lastErr string) string {
	lost := r.Sent - r.Received
	cause := fmt.Sprintf("%d/%d lost from %s, more than the allowed %g%%", lost, r.Sent, s.Target, s.MaxLoss*100)
	if r.Received == 0 {
		cause = fmt.Sprintf("no reply from %s within %s (%d/%d lost)", s.Target, s.Timeout, lost, r.Sent)
	}
	if sendErr != nil {
		cause += fmt.Sprintf(": send: %v", sendErrText(sendErr))
	} else if lastErr != "" {
		cause += ": " + lastErr
	}
	return cause
}

// icmpVerdict judges the replies counted in r under s's expectation, cause
// saying why they fall short. Under expect = pass, a reply TTL other than
// s.TTL (when set) fails an otherwise passing check.
func icmpVerdict(s Spec, r Result, cause string) (pass bool, reason string) {
	got := fmt.Sprintf("%d/%d replies from %s, rtt min %s", r.Received, r.Sent, s.Target, roundRTT(r.RTT))
	if s.MinRTT > 0 || s.MaxRTT > 0 {
		got += fmt.Sprintf(" max %s", roundRTT(r.RTTMax))
	}
	if r.TTL > 0 {
		got += fmt.Sprintf(", ttl %d", r.TTL)
	}
	reached := r.Received > 0 && (s.Expect == ExpectFail || echoLoss(r) <= s.MaxLoss)
	pass, reason = verdict(s, reached, got, cause)
	if !pass || s.Expect == ExpectFail {
		return pass, reason
	}
	if s.TTL > 0 && r.TTL != s.TTL {
		return false, got + ", want ttl " + strconv.Itoa(s.TTL) + ": " + hopText(s.TTL-r.TTL)
	}
	if s.MinRTT > 0 && r.RTT < s.MinRTT {
		return false, fmt.Sprintf("%s, want rtt min at least %s (min_rtt): the path is faster than the delay it should have",
			got, roundRTT(s.MinRTT))
	}
	if s.MaxRTT > 0 && r.RTTMax > s.MaxRTT {
		return false, fmt.Sprintf("%s, want rtt max at most %s (max_rtt)", got, roundRTT(s.MaxRTT))
	}
	return pass, reason
}

// echoLoss is the fraction of r's echo requests left unanswered.
func echoLoss(r Result) float64 {
	if r.Sent == 0 {
		return 0
	}
	return float64(r.Sent-r.Received) / float64(r.Sent)
}

// hopText explains a reply TTL that is off by d from the expected one:
// each router on the way back takes one.
func hopText(d int) string {
	n, what := d, "more" // replies arrived with less TTL left than wanted
	if d < 0 {
		n, what = -d, "fewer"
	}
	unit := "routers"
	if n == 1 {
		unit = "router"
	}
	return fmt.Sprintf("%d %s %s than expected on the path back", n, unit, what)
}

// echo marshals echo request seq.
func (p *pinger) echo(seq int) []byte {
	typ := icmp.Type(ipv4.ICMPTypeEcho)
	if p.v6 {
		typ = ipv6.ICMPTypeEchoRequest
	}
	m := icmp.Message{Type: typ, Body: &icmp.Echo{ID: p.id, Seq: seq, Data: p.tok}}
	b, _ := m.Marshal(nil) // ICMPv6 checksum is filled in by the kernel
	return b
}

// receive reads until the read deadline or until want replies arrived;
// it closes warm once warm-up echo 0 is answered, or refused.
func (p *pinger) receive(events chan<- echoEvent, want int, warm chan<- struct{}) {
	buf := make([]byte, 1500)
	replies := map[int]bool{}
	warmed := false
	warmDone := func(seq int) {
		if seq == 0 && !warmed {
			warmed = true
			close(warm)
		}
	}
	for len(replies) < want {
		var (
			n    int
			peer net.Addr
			ttl  int
			err  error
		)
		if p.v6 {
			n, peer, err = p.conn.ReadFrom(buf)
		} else {
			var cm *ipv4.ControlMessage
			n, cm, peer, err = p.conn.IPv4PacketConn().ReadFrom(buf)
			if cm != nil {
				ttl = cm.TTL
			}
		}
		if err != nil {
			return // deadline or closed
		}
		at := time.Now()
		proto := protoICMP
		if p.v6 {
			proto = protoICMPv6
		}
		m, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil {
			continue
		}
		switch b := m.Body.(type) {
		case *icmp.Echo:
			if m.Type != ipv4.ICMPTypeEchoReply && m.Type != ipv6.ICMPTypeEchoReply {
				continue
			}
			if !bytes.HasPrefix(b.Data, p.tok) || (p.raw && b.ID != p.id) {
				continue
			}
			if b.Seq == 0 {
				warmDone(0) // the warm-up's: no tally counts it
				continue
			}
			replies[b.Seq] = true
			offer(events, echoEvent{seq: b.Seq, reply: true, ttl: ttl, at: at})
		case *icmp.DstUnreach:
			if seq, ok := p.quoted(b.Data); ok {
				warmDone(seq)
				offer(events, echoEvent{seq: seq, err: unreachText(m, peer), at: at})
			}
		case *icmp.TimeExceeded:
			if seq, ok := p.quoted(b.Data); ok {
				warmDone(seq)
				offer(events, echoEvent{seq: seq, err: "time to live exceeded from " + addrText(peer), at: at})
			}
		}
	}
}

// offer queues an event unless the queue is full: the events are read
// only after the receiver ends, so a flood of duplicates or ICMP errors
// must never block it (a check is bounded by its timeout, always).
func offer(events chan<- echoEvent, ev echoEvent) {
	select {
	case events <- ev:
	default:
	}
}

// quoted finds our echo request in the IP packet an ICMP error quotes and
// returns its sequence number.
func (p *pinger) quoted(d []byte) (int, bool) {
	hl := 40 // IPv6 header, without extension headers
	if !p.v6 {
		if len(d) < 1 {
			return 0, false
		}
		hl = int(d[0]&0x0f) * 4
	}
	if len(d) < hl+8 {
		return 0, false
	}
	e := d[hl:]
	if e[0] != 8 && e[0] != 128 { // echo request, v4 and v6
		return 0, false
	}
	if p.raw && int(binary.BigEndian.Uint16(e[4:6])) != p.id {
		return 0, false
	}
	return int(binary.BigEndian.Uint16(e[6:8])), true
}

func unreachText(m *icmp.Message, peer net.Addr) string {
	what := "destination unreachable"
	if m.Type == ipv4.ICMPTypeDestinationUnreachable {
		switch m.Code {
		case 0:
			what = "network unreachable"
		case 1:
			what = "destination host unreachable"
		case 3:
			what = "port unreachable"
		case 9, 10, 13:
			what = "administratively prohibited"
		}
	} else {
		switch m.Code {
		case 0:
			what = "no route to destination"
		case 1:
			what = "administratively prohibited"
		case 3:
			what = "address unreachable"
		}
	}
	return what + " from " + addrText(peer)
}

func addrText(a net.Addr) string {
	switch a := a.(type) {
	case *net.IPAddr:
		return a.IP.String()
	case *net.UDPAddr:
		return a.IP.String()
	case nil:
		return "?"
	}
	return a.String()
}

// sendErrText explains the send errors a missing route gives.
func sendErrText(err error) string {
	switch {
	case errors.Is(err, unix.ENETUNREACH):
		return "network is unreachable (no route in the from namespace)"
	case errors.Is(err, unix.EHOSTUNREACH):
		return "no route to host"
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return "operation not permitted (a firewall rule or prohibit route?)"
	}
	return err.Error()
}

// roundRTT keeps RTTs readable: 3 significant-ish digits.
func roundRTT(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}
