package httpserver

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestSlowClientsAreCutOff: a client that sends headers but stalls its body,
// or sends nothing at all after connecting, is disconnected by the read
// timeouts instead of holding the connection.
func TestSlowClientsAreCutOff(t *testing.T) {
	srv := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.ReadAll(r.Body) }),
		Timeouts{ReadHeader: 200 * time.Millisecond, Read: 300 * time.Millisecond, Idle: 300 * time.Millisecond})
	if srv.WriteTimeout != DefaultTimeouts.Write {
		t.Fatalf("write timeout = %s", srv.WriteTimeout)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	for name, send := range map[string]string{
		"stalled body":    "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc",
		"stalled headers": "POST / HTTP/1.1\r\nHost: x\r\n",
		"nothing":         "",
	} {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, _ = conn.Write([]byte(send))
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.ReadAll(conn) // returns when the server closes the connection
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s: connection held for %s", name, d)
		}
		conn.Close()
	}
}
