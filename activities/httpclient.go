// Package activities holds TriggerFlow's Temporal activities: structs that
// carry their dependencies (database, HTTP client), one file per action
// family. Workflows reference them through nil pointers; worker/ fills them.
package activities

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// MaxResponseBody is how much of a response body is read and kept: the seeds
// say responses over 10 KB are not processed.
const MaxResponseBody = 10 * 1024

// ErrEgressDenied means the destination address is private, loopback,
// link-local or otherwise not allowed for user-supplied URLs.
var ErrEgressDenied = errors.New("destination address is not allowed")

// EgressPolicy decides which addresses outbound requests may reach.
type EgressPolicy struct {
	allow []netip.Prefix
}

// NewEgressPolicy parses allowed CIDRs (e.g. "127.0.0.0/8", "10.1.2.3/32").
// Public addresses are always allowed; private ranges only when listed.
func NewEgressPolicy(allowCIDRs []string) (*EgressPolicy, error) {
	p := &EgressPolicy{}
	for _, c := range allowCIDRs {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if !strings.Contains(c, "/") {
			addr, err := netip.ParseAddr(c)
			if err != nil {
				return nil, fmt.Errorf("egress allow %q: not a CIDR or address", c)
			}
			c = netip.PrefixFrom(addr, addr.BitLen()).String()
		}
		pfx, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("egress allow %q: %w", c, err)
		}
		p.allow = append(p.allow, pfx.Masked())
	}
	return p, nil
}

// blockedRanges are never reached unless allowed: private, loopback,
// link-local (cloud metadata lives at 169.254.169.254), CGNAT, multicast,
// unspecified and documentation ranges, for IPv4 and IPv6.
var blockedRanges = mustPrefixes(
	"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
	"172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15",
	"198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
	"::/128", "::1/128", "64:ff9b::/96", "100::/64", "2001:db8::/32", "fc00::/7", "fe80::/10", "ff00::/8",
)

func mustPrefixes(cidrs ...string) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, c := range cidrs {
		out = append(out, netip.MustParsePrefix(c))
	}
	return out
}

// Allowed reports whether addr may be dialed.
func (p *EgressPolicy) Allowed(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, a := range p.allow {
		if a.Contains(addr) {
			return true
		}
	}
	for _, b := range blockedRanges {
		if b.Contains(addr) {
			return false
		}
	}
	return true
}

// control runs after DNS resolution, on the exact address being dialed, so a
// name that resolves to a private address (or re-resolves to one: DNS
// rebinding) is refused too.
func (p *EgressPolicy) control(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrEgressDenied, address)
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || !p.Allowed(addr) {
		return fmt.Errorf("%w: %s", ErrEgressDenied, host)
	}
	return nil
}

// NewHTTPClient is the one client for user-supplied URLs: dial-time address
// checks, no redirects followed (a redirect is the receiver's answer, recorded
// as such), keep-alive pooling sized for batch delivery, and no proxy from
// the environment (a proxy would bypass the address checks).
func NewHTTPClient(policy *EgressPolicy) *http.Client {
	if policy == nil {
		policy = &EgressPolicy{}
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, Control: policy.control}
	transport := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           1024,
		MaxIdleConnsPerHost:    256,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    5 * time.Second,
		ExpectContinueTimeout:  time.Second,
		ResponseHeaderTimeout:  30 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// readCapped reads at most limit bytes of r and reports whether more remained.
// The rest is drained a little (to let the connection be reused) but never
// stored.
func readCapped(r io.Reader, limit int) (body []byte, truncated bool, err error) {
	buf, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if len(buf) > limit {
		// Drain up to 64 KiB more so small overruns keep the connection alive.
		_, _ = io.CopyN(io.Discard, r, 64<<10)
		return buf[:limit], true, err
	}
	return buf, false, err
}

// IsEgressDenied reports whether err is a refused destination.
func IsEgressDenied(err error) bool { return errors.Is(err, ErrEgressDenied) }

// checkURLContext is a helper for callers that want a quick refusal of
// literal private IPs before dialing (the dial-time check still applies).
func (p *EgressPolicy) checkHost(ctx context.Context, host string) error {
	if addr, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil && !p.Allowed(addr) {
		return fmt.Errorf("%w: %s", ErrEgressDenied, host)
	}
	return nil
}
