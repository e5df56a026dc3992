package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// maxBody bounds how much of a response an http check reads.
const maxBody = 1 << 20

// probeHTTP sends GET path from the from namespace and passes when the
// status is the one wanted (200 by default) and, if a body substring is
// given, the body contains it.
func probeHTTP(ctx context.Context, s Spec) Result {
	var r Result
	url := s.url()
	want := s.Status
	if want == 0 {
		want = http.StatusOK
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	hc := newNSClient(s.FromNetns)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		r.Reason = fmt.Sprintf("request %s: %v", url, err)
		return r
	}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		cause := fmt.Sprintf("GET %s: %v", url, err)
		if derr := hc.connectError(); derr != nil {
			cause = tcpFailure(s, derr)
		} else if errors.Is(err, context.DeadlineExceeded) {
			cause = fmt.Sprintf("no answer to GET %s within %s", url, s.Timeout)
		}
		r.Pass, r.Reason = verdict(s, false, "", cause)
		return r
	}
	defer resp.Body.Close()
	r.RTT = time.Since(start)
	r.Status = resp.StatusCode
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	got := fmt.Sprintf("%s from %s in %s", resp.Status, url, roundRTT(r.RTT))
	var cause string
	switch {
	case resp.StatusCode != want:
		cause = fmt.Sprintf("%s from %s, want %d", resp.Status, url, want)
		if line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n"); line != "" {
			cause += ": " + short([]byte(line))
		}
	case err != nil:
		cause = fmt.Sprintf("%s from %s, reading the body: %v", resp.Status, url, err)
	case s.Body != "" && !strings.Contains(string(body), s.Body):
		cause = fmt.Sprintf("%s from %s, body %s lacks %q", resp.Status, url, short(body), s.Body)
	}
	if s.Body != "" {
		got += fmt.Sprintf(", body has %q", s.Body)
	}
	r.Pass, r.Reason = verdict(s, cause == "", got, cause)
	return r
}
