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
	"net/url"
	"strings"
	"syscall"
	"time"

	"code.dny.dev/ssrf"
)

// MaxResponseBody is how much of a response body is read and kept: the seeds
// say responses over 10 KB are not processed.
const MaxResponseBody = 10 * 1024

// ErrEgressDenied means the destination address is private, loopback,
// link-local or otherwise not allowed for user-supplied URLs.
var ErrEgressDenied = errors.New("destination address is not allowed")

// EgressPolicy decides which addresses outbound requests may reach: the
// special-purpose ranges of IANA's IPv4 and IPv6 registries, and for IPv6
// everything outside global unicast (2000::/3: loopback, link-local, unique
// local, site-local fec0::/10, NAT64 64:ff9b::/96 and 64:ff9b:1::/48,
// IPv4-mapped addresses), as maintained by code.dny.dev/ssrf, are refused
// unless allowed. An address with a zone (fe80::1%eth0, ::1%lo) is always
// refused: a zone names an interface of this machine, and prefixes cannot
// tell where it leads.
type EgressPolicy struct {
	allow    []netip.Prefix
	guardian *ssrf.Guardian
}

// NewEgressPolicy parses allowed CIDRs (e.g. "127.0.0.0/8", "10.1.2.3/32").
// Public addresses are always allowed; special-purpose ones only when listed.
func NewEgressPolicy(allowCIDRs []string) (*EgressPolicy, error) {
	p := &EgressPolicy{}
	var v4, v6 []netip.Prefix
	for _, c := range allowCIDRs {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if !strings.Contains(c, "/") {
			addr, err := netip.ParseAddr(c)
			if err != nil || addr.Zone() != "" {
				return nil, fmt.Errorf("egress allow %q: not a CIDR or an address without a zone", c)
			}
			c = netip.PrefixFrom(addr, addr.BitLen()).String()
		}
		pfx, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("egress allow %q: %w", c, err)
		}
		pfx = pfx.Masked()
		p.allow = append(p.allow, pfx)
		if pfx.Addr().Is4() {
			v4 = append(v4, pfx)
		} else {
			v6 = append(v6, pfx)
		}
	}
	p.guardian = ssrf.New(ssrf.WithAnyPort(), ssrf.WithAnyNetwork(),
		ssrf.WithAllowedV4Prefixes(v4...), ssrf.WithAllowedV6Prefixes(v6...))
	return p, nil
}

// Allowed reports whether addr may be dialed.
func (p *EgressPolicy) Allowed(addr netip.Addr) bool {
	if !addr.IsValid() || addr.Zone() != "" {
		return false
	}
	g := p.guardian
	if g == nil {
		g = defaultGuardian
	}
	if addr.Is4In6() {
		// An IPv4-mapped address reaches the IPv4 address: judge that one,
		// so allowing 127.0.0.0/8 also allows ::ffff:127.0.0.1 and
		// refusing 10.0.0.0/8 refuses ::ffff:10.0.0.1.
		addr = addr.Unmap()
	}
	return g.SafeAddr(addr) == nil
}

// defaultGuardian serves an EgressPolicy made without NewEgressPolicy: it
// allows nothing special.
var defaultGuardian = ssrf.New(ssrf.WithAnyPort(), ssrf.WithAnyNetwork())

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

// exchange is what one outbound request got back.
type exchange struct {
	Status    int
	Header    http.Header
	Body      []byte // at most MaxResponseBody bytes, exactly as received
	Truncated bool   // the body was longer
	// ReadErr: the body could not be read to its end (below the cap).
	ReadErr  error
	Duration time.Duration // from sending to the body read
}

// roundTrip makes one outbound request within timeout and reads its answer
// up to MaxResponseBody: every request TriggerFlow makes — a webhook
// delivery's try, an http.request step's — goes through here; the callers
// build the request (after checking its URL with checkOutboundURL) and
// decide what the answer means. An error is no answer at all (refused,
// timed out, denied by the egress policy: IsEgressDenied).
func roundTrip(client *http.Client, req *http.Request, timeout time.Duration) (exchange, error) {
	ctx, cancel := context.WithTimeout(req.Context(), timeout)
	defer cancel()
	start := time.Now()
	resp, err := client.Do(req.WithContext(ctx))
	if err != nil {
		return exchange{Duration: time.Since(start)}, err
	}
	defer resp.Body.Close()
	body, truncated, readErr := readCapped(resp.Body, MaxResponseBody)
	return exchange{Status: resp.StatusCode, Header: resp.Header, Body: body, Truncated: truncated,
		ReadErr: readErr, Duration: time.Since(start)}, nil
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

// checkHost refuses a literal address that may not be dialed (the dial-time
// check still applies to names).
func (p *EgressPolicy) checkHost(ctx context.Context, host string) error {
	if addr, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil && !p.Allowed(addr) {
		return fmt.Errorf("%w: %s", ErrEgressDenied, host)
	}
	return nil
}

// checkOutboundURL is the last look at a rendered URL before it is sent: an
// absolute http(s) URL with a host, no credentials, and no zone on an IPv6
// literal (a zone would pick a local interface). Templates render through
// domain.URLTemplate, which already keeps values out of the host; this holds
// for URLs from anywhere.
func checkOutboundURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("url %q does not parse: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("url %q is not an absolute http(s) URL", raw)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("url %q names no host", raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("url must not carry credentials; send them in a header")
	}
	if strings.Contains(u.Host, "%") {
		return nil, fmt.Errorf("%w: %s has a zone", ErrEgressDenied, u.Host)
	}
	return u, nil
}
