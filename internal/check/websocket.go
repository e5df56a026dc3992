package check

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// probeWebSocket opens a websocket from the from namespace, sends one
// text message and waits for the reply. It passes when the reply is the
// one expected (by default the echo of what was sent).
func probeWebSocket(ctx context.Context, s Spec) Result {
	var r Result
	url := s.url()
	send := s.Send
	if send == "" {
		tok := make([]byte, 8)
		rand.Read(tok)
		send = "netcompose-check-" + hex.EncodeToString(tok)
	}
	want := s.ExpectReply
	if want == "" {
		want = send
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	hc := newNSClient(s.FromNetns)
	opts := &websocket.DialOptions{HTTPClient: hc.Client, HTTPHeader: http.Header{}}
	if s.Origin != "" {
		opts.HTTPHeader.Set("Origin", s.Origin)
	}
	var listener *websocket.Conn
	if s.ReplyNetns != "" {
		lc, lresp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: newNSClient(s.ReplyNetns).Client, HTTPHeader: opts.HTTPHeader})
		if err != nil {
			if lresp != nil {
				r.Status = lresp.StatusCode
			}
			r.Pass, r.Reason = verdict(s, false, "", "the receiving client in "+s.ReplyNetns+": "+err.Error())
			return r
		}
		defer lc.CloseNow()
		lc.SetReadLimit(-1)
		listener = lc
	}
	c, resp, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		if resp != nil {
			r.Status = resp.StatusCode
		}
		r.Pass, r.Reason = verdict(s, false, "", handshakeFailure(s, hc, resp, err))
		return r
	}
	defer c.CloseNow()
	c.SetReadLimit(-1) // the reply is judged, not refused

	start := time.Now()
	if listener != nil {
		return relayed(ctx, s, c, listener, send, want, start)
	}
	got, err := exchangeOne(ctx, c, send)
	if err != nil {
		r.Pass, r.Reason = verdict(s, false, "", exchangeText(s, send, err))
		return r
	}
	r.RTT = time.Since(start)
	c.Close(websocket.StatusNormalClosure, "")
	ok := bytes.Equal(got, []byte(want))
	reply := fmt.Sprintf("reply %s from %s in %s", short(got), url, roundRTT(r.RTT))
	if s.ExpectReply == "" {
		reply = fmt.Sprintf("echo of %d bytes from %s in %s", len(got), url, roundRTT(r.RTT))
	}
	cause := fmt.Sprintf("reply %s from %s, want %s", short(got), url, short([]byte(want)))
	r.Pass, r.Reason = verdict(s, ok, reply, cause)
	return r
}

// exchangeOne sends msg as text and returns the next message.
func exchangeOne(ctx context.Context, c *websocket.Conn, msg string) ([]byte, error) {
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	_, got, err := c.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("read reply: %w", err)
	}
	return got, nil
}

// handshakeFailure says why no websocket was opened: no connection, a
// refusal by the server (its status and reason), or no answer.
func handshakeFailure(s Spec, hc *nsClient, resp *http.Response, err error) string {
	if derr := hc.connectError(); derr != nil {
		return tcpFailure(s, derr)
	}
	switch {
	case resp != nil && resp.StatusCode == http.StatusSwitchingProtocols:
		return fmt.Sprintf("handshake with %s failed: %v", s.url(), err)
	case resp != nil && resp.StatusCode == http.StatusForbidden:
		text := answerText(resp)
		if !strings.Contains(strings.ToLower(text), "origin") {
			text += " (origin not allowed?)"
		}
		return "handshake rejected: " + text
	case resp != nil:
		return "handshake rejected: " + answerText(resp)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no handshake answer from %s within %s", s.url(), s.Timeout)
	}
	return fmt.Sprintf("handshake with %s: %v", s.url(), err)
}

// exchangeText says why the message got no reply.
func exchangeText(s Spec, send string, err error) string {
	if code := websocket.CloseStatus(err); code != -1 {
		var ce websocket.CloseError
		errors.As(err, &ce)
		why := ""
		if ce.Reason != "" {
			why = ": " + ce.Reason
		}
		return fmt.Sprintf("%s closed the connection with %d (%s)%s", s.url(), int(code), closeName(code), why)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("no reply to %s from %s within %s", short([]byte(send)), s.url(), s.Timeout)
	}
	return fmt.Sprintf("exchange with %s: %v", s.url(), err)
}

// closeName names the close codes a lab service uses.
func closeName(code websocket.StatusCode) string {
	switch code {
	case websocket.StatusNormalClosure:
		return "normal closure"
	case websocket.StatusGoingAway:
		return "going away"
	case websocket.StatusPolicyViolation:
		return "policy violation"
	case websocket.StatusMessageTooBig:
		return "message too big"
	case websocket.StatusInternalError:
		return "internal error"
	case websocket.StatusTryAgainLater:
		return "try again later"
	case websocket.StatusBadGateway:
		return "bad gateway"
	}
	return "close code"
}

// relayed judges a message sent on c that another client, listener, must
// receive (a broadcast room): the sender's own connection gets nothing
// back. A room is joined just after the handshake, so the message is sent
// again every 100 ms until the listener has it or the check times out.
func relayed(ctx context.Context, s Spec, c, listener *websocket.Conn, send, want string, start time.Time) Result {
	var r Result
	// Others may speak in the room too: wait for the wanted message, and
	// report the last other one if it never comes.
	got := make(chan []byte, 1)
	var other []byte
	go func() {
		defer close(got)
		for {
			_, b, err := listener.Read(ctx)
			if err != nil {
				return
			}
			if bytes.Equal(b, []byte(want)) {
				got <- b
				return
			}
			other = b
		}
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := c.Write(ctx, websocket.MessageText, []byte(send)); err != nil {
			r.Pass, r.Reason = verdict(s, false, "", exchangeText(s, send, err))
			return r
		}
		select {
		case b, ok := <-got:
			if !ok {
				r.Pass, r.Reason = verdict(s, false, "", missed(s, want, other))
				return r
			}
			r.RTT = time.Since(start)
			c.Close(websocket.StatusNormalClosure, "")
			listener.Close(websocket.StatusNormalClosure, "")
			r.Pass, r.Reason = verdict(s, true,
				fmt.Sprintf("message of %d bytes relayed by %s to the client in %s in %s", len(b), s.url(), s.ReplyNetns, roundRTT(r.RTT)), "")
			return r
		case <-tick.C:
		case <-ctx.Done():
			<-got // the reader ends with ctx
			r.Pass, r.Reason = verdict(s, false, "", missed(s, want, other))
			return r
		}
	}
}

// missed says what the receiving client of a relayed check got instead.
func missed(s Spec, want string, other []byte) string {
	if other != nil {
		return fmt.Sprintf("the client in %s got %s from %s but never %s within %s", s.ReplyNetns, short(other), s.url(), short([]byte(want)), s.Timeout)
	}
	return fmt.Sprintf("the client in %s got nothing from %s within %s", s.ReplyNetns, s.url(), s.Timeout)
}
