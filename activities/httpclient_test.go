package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/triggerflow/triggerflow/domain"
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

// TestEgressPolicyCoversTheSpecialPurposeRegistries: ranges a hand-kept list
// missed (6to4, Teredo and other IETF assignments, NAT64's local prefix,
// the 6to4 relay anycast, site-local) are refused, as is every address with
// a zone, even one an allow rule covers.
func TestEgressPolicyCoversTheSpecialPurposeRegistries(t *testing.T) {
	p, err := NewEgressPolicy(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"2002:a00:1::1", "2002:7f00:1::1", "2001::1", "2001:0:4136:e378::1", "64:ff9b:1::a00:1",
		"64:ff9b::7f00:1", "192.88.99.1", "fec0::1", "3fff::1", "::ffff:169.254.169.254", "::7f00:1", "100::1"} {
		if p.Allowed(netip.MustParseAddr(a)) {
			t.Errorf("%s allowed", a)
		}
	}
	loopback, err := NewEgressPolicy([]string{"127.0.0.0/8", "::1/128", "fe80::/10"})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"::1%lo", "fe80::1%eth0", "fe80::1%1"} {
		if loopback.Allowed(netip.MustParseAddr(a)) {
			t.Errorf("zoned %s allowed", a)
		}
	}
	if !loopback.Allowed(netip.MustParseAddr("::1")) || !loopback.Allowed(netip.MustParseAddr("127.0.0.1")) ||
		!loopback.Allowed(netip.MustParseAddr("::ffff:127.0.0.1")) {
		t.Error("allow rules not applied")
	}
	if _, err := NewEgressPolicy([]string{"fe80::1%eth0"}); err == nil {
		t.Error("an allow rule with a zone was accepted")
	}
}

// TestClientRefusesZonedLoopback: http://[::1%25lo]:port/ reached loopback
// through a policy that allowed only ::1 without a zone.
func TestClientRefusesZonedLoopback(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	hits := 0
	srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits++ })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	p, err := NewEgressPolicy([]string{"::1/128"})
	if err != nil {
		t.Fatal(err)
	}
	c := NewHTTPClient(p)
	for _, zone := range []string{"lo", "1"} {
		u := fmt.Sprintf("http://[::1%%25%s]:%d/", zone, port)
		req, _ := http.NewRequest("GET", u, nil)
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			t.Errorf("%s: answered %d", u, resp.StatusCode)
		} else if !IsEgressDenied(err) {
			t.Errorf("%s: err = %v, want egress denied", u, err)
		}
	}
	// Without a zone the allow rule applies: the check above is about zones.
	resp, err := c.Get(fmt.Sprintf("http://[::1]:%d/", port))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if hits != 1 {
		t.Fatalf("hits = %d, want 1", hits)
	}
	if _, err := checkOutboundURL(fmt.Sprintf("http://[fe80::1%%25eth0]:%d/", port)); !IsEgressDenied(err) {
		t.Fatalf("checkOutboundURL let a zone through: %v", err)
	}
}

// TestRenderRequestEscapesValuesInTheURL: a webhook's URL template keeps its
// host whatever the event holds.
func TestRenderRequestEscapesValuesInTheURL(t *testing.T) {
	w := &domain.Webhook{Method: "POST", URL: "https://crm.example.com/contacts/{{ contact.id }}?src={{ src }}"}
	ev := domain.Event{Data: json.RawMessage(`{"contact": {"id": "7/../../admin#x"}, "src": "a&b=c"}`)}
	req, err := renderRequest(w, ev)
	if err != nil {
		t.Fatal(err)
	}
	if req.URL != "https://crm.example.com/contacts/7%2F..%2F..%2Fadmin%23x?src=a%26b%3Dc" {
		t.Fatalf("url = %s", req.URL)
	}
	w.URL = "https://crm.example.com{{ contact.id }}/x"
	ev.Data = json.RawMessage(`{"contact": {"id": "@169.254.169.254"}}`)
	if req, err := renderRequest(w, ev); err == nil {
		t.Fatalf("host changed by a value: %s", req.URL)
	}
}
