package check

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"

	"github.com/netcompose/netcompose/internal/nsrun"
)

// url is the check's target as a URL: ws://IP:PORT/path or http://...
func (s Spec) url() string {
	scheme := "http"
	if s.Protocol == WebSocket {
		scheme = "ws"
	}
	path := s.Path
	if path == "" {
		path = "/"
	}
	return scheme + "://" + netip.AddrPortFrom(s.Target, s.Port).String() + path
}

// nsClient is an HTTP client whose every connection is made from a
// socket created inside the from namespace. It remembers the last
// connect error, so that a failure can be told apart: no connection
// (refused, no route: the network's answer) or an answer the check did
// not want (the service's).
type nsClient struct {
	*http.Client
	mu      sync.Mutex
	dialErr error
}

func newNSClient(ns string) *nsClient {
	c := &nsClient{}
	c.Client = &http.Client{
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				var conn net.Conn
				var derr error
				err := nsrun.Do(nsrun.Path(ns), func() error {
					var d net.Dialer
					conn, derr = d.DialContext(ctx, network, addr)
					return nil
				})
				if err == nil {
					err = derr
				}
				c.mu.Lock()
				c.dialErr = err
				c.mu.Unlock()
				return conn, err
			},
			DisableKeepAlives: true,
		},
		// A redirect is an answer: report it, do not follow it.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c
}

// connectError is the error of the connect, if that is what failed.
func (c *nsClient) connectError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dialErr
}

// tcpFailure explains a failed connect in the words of a tcp check
// (refused, no answer, no route), with the address rather than the URL.
func tcpFailure(s Spec, err error) string {
	s.Protocol = TCP
	return connectFailure(s, err)
}

// answerText is a response's status and the first line of its body,
// where a service says why it refused ("[service:echo]: origin ... not
// allowed").
func answerText(resp *http.Response) string {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if len(line) > 200 {
		line = line[:200] + "..."
	}
	if line == "" {
		return resp.Status
	}
	return resp.Status + ": " + line
}

// short quotes a message for a reason, cut to a readable length.
func short(b []byte) string {
	if len(b) > 64 {
		return fmt.Sprintf("%q... (%d bytes)", b[:64], len(b))
	}
	return fmt.Sprintf("%q", b)
}
