// Package httpserver makes the HTTP servers the binary runs (the API, the
// worker's health and metrics), all with the same bounded timeouts, so a
// slow or idle client cannot hold a connection and its goroutine forever.
package httpserver

import (
	"net/http"
	"time"
)

// Timeouts bound each phase of a connection.
type Timeouts struct {
	// ReadHeader bounds reading the request line and headers (slowloris).
	ReadHeader time.Duration
	// Read bounds reading the whole request, body included.
	Read time.Duration
	// Write bounds the time from the end of the request headers to the end
	// of the answer: the slowest handler (a test send waits up to a
	// webhook's 30 s timeout) must fit in it.
	Write time.Duration
	// Idle bounds how long a keep-alive connection waits for its next request.
	Idle time.Duration
}

// DefaultTimeouts are the binary's: a 4 MiB body over a slow link, a webhook
// test send (30 s at most) and keep-alive for busy publishers.
var DefaultTimeouts = Timeouts{ReadHeader: 10 * time.Second, Read: 60 * time.Second, Write: 75 * time.Second, Idle: 120 * time.Second}

// New returns a server for h with the given timeouts; zero fields take the
// defaults.
func New(h http.Handler, t Timeouts) *http.Server {
	def := DefaultTimeouts
	pick := func(v, d time.Duration) time.Duration {
		if v > 0 {
			return v
		}
		return d
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: pick(t.ReadHeader, def.ReadHeader),
		ReadTimeout:       pick(t.Read, def.Read),
		WriteTimeout:      pick(t.Write, def.Write),
		IdleTimeout:       pick(t.Idle, def.Idle),
		MaxHeaderBytes:    64 << 10,
	}
}
