package activities

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestEgressPolicyRefusesPrivateRanges(t *testing.T) {
	p, _ := NewEgressPolicy(nil)
	for _, a := range []string{"10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "127.0.0.1", "127.8.9.10",
		"169.254.169.254", "0.0.0.0", "100.64.0.1", "::1", "fc00::1", "fd12:3456::1", "fe80::1", "::ffff:10.0.0.1", "::ffff:127.0.0.1"} {
		if p.Allowed(netip.MustParseAddr(a)) {
			t.Errorf("%s allowed", a)
		}
	}
	for _, a := range []string{"8.8.8.8", "172.32.0.1", "1.1.1.1", "2606:4700::1111"} {
		if !p.Allowed(netip.MustParseAddr(a)) {
			t.Errorf("%s refused", a)
		}
	}
	allow, err := NewEgressPolicy([]string{"10.1.0.0/16", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	if !allow.Allowed(netip.MustParseAddr("10.1.2.3")) || allow.Allowed(netip.MustParseAddr("10.2.0.1")) || !allow.Allowed(netip.MustParseAddr("::1")) {
		t.Error("allow list not applied exactly")
	}
	if _, err := NewEgressPolicy([]string{"not-a-cidr"}); err == nil {
		t.Error("bad CIDR accepted")
	}
}

func TestClientRefusesAtDialTimeEvenForNames(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	c := NewHTTPClient(nil)
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	for _, u := range []string{srv.URL, "http://localhost" + port, "http://[::1]" + port, "http://169.254.169.254/latest/meta-data"} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
		_, err := c.Do(req)
		cancel()
		if err == nil || !IsEgressDenied(err) {
			t.Errorf("%s: err = %v, want egress denied", u, err)
		}
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		http.Redirect(w, r, "http://10.0.0.1/internal", http.StatusFound)
	}))
	defer srv.Close()
	p, _ := NewEgressPolicy([]string{"127.0.0.0/8"})
	res, _ := send(context.Background(), NewHTTPClient(p), outboundRequest{Method: "POST", URL: srv.URL, Body: []byte("{}")},
		"msg_1", 5*time.Second, time.Now(), NewSigningSecret())
	if res.Status != 302 || res.Success() || hits != 1 {
		t.Fatalf("status %d hits %d: a redirect is the receiver's answer, never followed", res.Status, hits)
	}
}

func TestReadCappedStopsAt10KB(t *testing.T) {
	body, truncated, err := readCapped(strings.NewReader(strings.Repeat("a", 20000)), MaxResponseBody)
	if err != nil || !truncated || len(body) != MaxResponseBody {
		t.Fatalf("len %d truncated %v err %v", len(body), truncated, err)
	}
	body, truncated, _ = readCapped(strings.NewReader("small"), MaxResponseBody)
	if truncated || string(body) != "small" {
		t.Fatal("small body")
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"120": 2 * time.Minute, "0": 0, "-5": 0, "": 0, "soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
	}
	for in, want := range cases {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("%q: %s, want %s", in, got, want)
		}
	}
}
