package testkit

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Received is one request the receiver got.
type Received struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
	At     time.Time
}

// Response is what the receiver answers to one request.
type Response struct {
	Status     int
	Body       []byte
	Header     map[string]string
	Delay      time.Duration
	RetryAfter string
}

// Receiver is a real HTTP server on loopback that records every request and
// answers as scripted: by default 200 "ok"; Script decides per request.
type Receiver struct {
	URL string

	mu       sync.Mutex
	received []Received
	script   func(n int, r Received) Response
	notify   chan struct{}
	srv      *httptest.Server
}

// NewReceiver starts a receiver that is closed when the test ends.
func NewReceiver(t testing.TB) *Receiver {
	t.Helper()
	rc := &Receiver{notify: make(chan struct{}, 1)}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	rc.URL = rc.srv.URL
	t.Cleanup(rc.srv.Close)
	return rc
}

// Script sets how the receiver answers: f gets the 1-based number of the
// request and the request itself.
func (rc *Receiver) Script(f func(n int, r Received) Response) {
	rc.mu.Lock()
	rc.script = f
	rc.mu.Unlock()
}

// FailFirst answers status to the first n requests, then 200.
func (rc *Receiver) FailFirst(n, status int) {
	rc.Script(func(i int, _ Received) Response {
		if i <= n {
			return Response{Status: status}
		}
		return Response{Status: 200}
	})
}

func (rc *Receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec := Received{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body, At: time.Now()}
	rc.mu.Lock()
	rc.received = append(rc.received, rec)
	n := len(rc.received)
	script := rc.script
	rc.mu.Unlock()
	select {
	case rc.notify <- struct{}{}:
	default:
	}
	resp := Response{Status: 200, Body: []byte("ok")}
	if script != nil {
		resp = script(n, rec)
	}
	if resp.Delay > 0 {
		select {
		case <-time.After(resp.Delay):
		case <-r.Context().Done():
			return
		}
	}
	for k, v := range resp.Header {
		w.Header().Set(k, v)
	}
	if resp.RetryAfter != "" {
		w.Header().Set("Retry-After", resp.RetryAfter)
	}
	if resp.Status == 0 {
		resp.Status = 200
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(resp.Body)))
	w.WriteHeader(resp.Status)
	_, _ = io.Copy(w, bytes.NewReader(resp.Body))
}

// Requests returns a copy of everything received so far.
func (rc *Receiver) Requests() []Received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Received(nil), rc.received...)
}

// Count is how many requests arrived.
func (rc *Receiver) Count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.received)
}

// WaitFor waits until at least n requests arrived or timeout passes, and
// returns what arrived.
func (rc *Receiver) WaitFor(t testing.TB, n int, timeout time.Duration) []Received {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if got := rc.Requests(); len(got) >= n {
			return got
		}
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("receiver got %d requests, want %d within %s", rc.Count(), n, timeout)
		}
		select {
		case <-rc.notify:
		case <-time.After(min(left, 50*time.Millisecond)):
		}
	}
}

// Failing makes the receiver answer status to every request until the
// returned heal func is called; from then on it answers 200.
func (rc *Receiver) Failing(status int) (heal func()) {
	var healed atomic.Bool
	rc.Script(func(int, Received) Response {
		if healed.Load() {
			return Response{Status: 200}
		}
		return Response{Status: status}
	})
	return func() { healed.Store(true) }
}
