package check

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/netcompose/netcompose/internal/nsrun"
)

// udpResend is how often a udp check repeats its datagram.
const udpResend = 500 * time.Millisecond

func probeTCP(ctx context.Context, s Spec) Result {
	addr := s.targetString()
	var r Result
	ours := false // our listener: it answers for the path, not a service
	if s.TargetNetns != "" {
		ln, err := listenIn(s.TargetNetns, func() (io.Closer, error) { return net.Listen("tcp", addr) })
		switch {
		case errors.Is(err, unix.EADDRINUSE):
			r.Detail = fmt.Sprintf("existing listener in %s", s.TargetNetns)
		case err != nil:
			r.Reason = listenFailure(s, err)
			return r
		default:
			defer ln.Close()
			go acceptAndClose(ln.(net.Listener))
			ours = true
			r.Detail = fmt.Sprintf("listener opened in %s for the check", s.TargetNetns)
		}
	}
	dctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	var conn net.Conn
	var dialErr error
	start := time.Now()
	err := nsrun.Do(nsrun.Path(s.FromNetns), func() error {
		// The socket is created and connected on this thread, inside
		// the namespace; the wait is bounded by dctx.
		var d net.Dialer
		conn, dialErr = d.DialContext(dctx, "tcp", addr)
		return nil
	})
	if err != nil {
		r.Reason = fmt.Sprintf("enter %s: %v", s.FromNetns, err)
		return r
	}
	if dialErr == nil {
		r.RTT = time.Since(start)
		conn.Close()
	}
	got := fmt.Sprintf("connected to %s in %s", addr, roundRTT(r.RTT))
	if ours {
		// Say whose listener answered: the path is proved, not a service.
		got += fmt.Sprintf(" (a listener the check opened in %s: nothing of the lab listens there)", s.TargetNetns)
	}
	r.Pass, r.Reason = verdict(s, dialErr == nil, got, connectFailure(s, dialErr))
	return r
}

func probeUDP(ctx context.Context, s Spec) Result {
	addr := s.targetString()
	var r Result
	ours := false // our responder: the reply must be our datagram
	if s.TargetNetns != "" {
		pc, err := listenIn(s.TargetNetns, func() (io.Closer, error) { return net.ListenPacket("udp", addr) })
		switch {
		case errors.Is(err, unix.EADDRINUSE):
			r.Detail = fmt.Sprintf("existing socket in %s: any reply counts", s.TargetNetns)
		case err != nil:
			r.Reason = listenFailure(s, err)
			return r
		default:
			defer pc.Close()
			go echo(pc.(net.PacketConn))
			ours = true
			r.Detail = fmt.Sprintf("echo responder opened in %s for the check", s.TargetNetns)
		}
	}
	var conn net.Conn
	err := nsrun.Do(nsrun.Path(s.FromNetns), func() error {
		var err error
		conn, err = net.Dial("udp", addr) // no packet sent: only a connected socket
		return err
	})
	if err != nil {
		r.Reason = fmt.Sprintf("udp socket in %s: %v", s.FromNetns, err)
		return r
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	defer stop()

	tok := make([]byte, 16)
	rand.Read(tok)
	start := time.Now()
	deadline := start.Add(s.Timeout)
	buf := make([]byte, 2048)
	var exErr error
	for {
		if _, err := conn.Write(tok); err != nil {
			exErr = err
			break
		}
		next := time.Now().Add(udpResend)
		if next.After(deadline) {
			next = deadline
		}
		conn.SetReadDeadline(next)
		n, err := conn.Read(buf)
		if err == nil && ours && !bytes.Equal(buf[:n], tok) {
			continue // a stray datagram; keep waiting
		}
		if err == nil {
			r.RTT = time.Since(start)
			exErr = nil
			break
		}
		exErr = err
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			break // refused: a port unreachable came back
		}
		if ctx.Err() != nil || !time.Now().Before(deadline) {
			break
		}
	}
	got := fmt.Sprintf("echo from %s in %s", addr, roundRTT(r.RTT))
	r.Pass, r.Reason = verdict(s, exErr == nil, got, exchangeFailure(s, exErr))
	return r
}

// listenIn opens a listening socket inside ns.
func listenIn(ns string, listen func() (io.Closer, error)) (io.Closer, error) {
	var c io.Closer
	var lerr error
	err := nsrun.Do(nsrun.Path(ns), func() error {
		c, lerr = listen()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, lerr
}

func acceptAndClose(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed at the end of the check
		}
		c.Close()
	}
}

// echo answers every datagram with itself until pc is closed.
func echo(pc net.PacketConn) {
	buf := make([]byte, 65536)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		pc.WriteTo(buf[:n], from)
	}
}

func listenFailure(s Spec, err error) string {
	msg := fmt.Sprintf("open %s listener at %s in %s: %v", s.Protocol, s.targetString(), s.TargetNetns, err)
	if errors.Is(err, unix.EADDRNOTAVAIL) {
		msg += fmt.Sprintf(" (%s is not an address of %s)", s.Target, s.TargetNetns)
	}
	return msg
}

func connectFailure(s Spec, err error) string {
	addr := s.targetString()
	var ne net.Error
	switch {
	case err == nil:
		return ""
	case errors.Is(err, unix.ECONNREFUSED):
		return fmt.Sprintf("connection to %s refused (nothing listens, or a reject rule)", addr)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return withHint(s, fmt.Sprintf("no answer from %s within %s", addr, s.Timeout), "dropped, or no route back")
	case errors.Is(err, unix.ENETUNREACH):
		return unreachable(s, "connect to", addr)
	case errors.Is(err, unix.EHOSTUNREACH):
		return withHint(s, fmt.Sprintf("connect to %s: no route to host", addr), "")
	}
	return fmt.Sprintf("connect to %s: %v", addr, err)
}

func exchangeFailure(s Spec, err error) string {
	addr := s.targetString()
	switch {
	case err == nil:
		return ""
	case errors.Is(err, unix.ECONNREFUSED):
		return fmt.Sprintf("port unreachable from %s (nothing listens, or a reject rule)", addr)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return withHint(s, fmt.Sprintf("no reply from %s within %s", addr, s.Timeout), "")
	case errors.Is(err, unix.ENETUNREACH):
		return unreachable(s, "send to", addr)
	case errors.Is(err, unix.EHOSTUNREACH):
		return withHint(s, fmt.Sprintf("send to %s: no route to host", addr), "")
	}
	return fmt.Sprintf("exchange with %s: %v", addr, err)
}
