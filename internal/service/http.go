package service

import (
	"errors"
	"io"
	"net/http"
	"time"
)

// respond is the http builtin: after delay, status and body, for any
// method. A request body is read and dropped; one over max_message gets
// 413.
func (w *web) respond(rw http.ResponseWriter, r *http.Request) {
	w.in.Add(1)
	body := http.MaxBytesReader(rw, r.Body, int64(w.cfg.MaxMessage))
	if _, err := io.Copy(io.Discard, body); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			w.reject(rw, r, http.StatusRequestEntityTooLarge, "request body over max_message")
		}
		return
	}
	if d := w.cfg.Delay; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return // the client gave up
		case <-w.stopped:
			t.Stop() // answer now: Stop waits for requests in flight
		}
	}
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rw.WriteHeader(w.cfg.Status)
	io.WriteString(rw, w.cfg.Body)
	w.out.Add(1)
}
