package domain

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
)

// ErrURLTemplate means a URL template rendered to a URL that cannot be sent:
// its scheme or host is not what a URL may have, or a value tried to change
// the host. Retrying cannot help.
var ErrURLTemplate = errors.New("url template")

// URLTemplate is a request URL with placeholders, split where a URL splits so
// each part renders by its own rules:
//
//   - scheme://host[:port] renders as is, and when it holds placeholders the
//     result must still be a plain host (a name or an IP address without a
//     zone) and port: no credentials, no path, nothing that moves the request
//     to another host than the one written;
//   - the path, query and fragment escape every placeholder's value (a value
//     "a/../b?x" stays one path segment, "&admin=1" stays one query value),
//     so values fill the URL but cannot change its shape.
//
// The template's own text is kept as written in every part.
type URLTemplate struct {
	src       string
	authority *Template // "scheme://host:port"
	path      *Template
	query     *Template // without the "?"
	fragment  *Template // without the "#"
	hasQuery  bool
	hasFrag   bool
}

// ParseURLTemplate splits and parses a URL template. The scheme must be
// written out (http:// or https://); the definitions' validation refuses the
// rest of what cannot render to a URL.
func ParseURLTemplate(src string) (*URLTemplate, error) {
	src = strings.TrimSpace(src)
	i := strings.Index(src, "://")
	if i < 0 || strings.ContainsAny(src[:i], "{%}") {
		return nil, fmt.Errorf("%w: %q is not an absolute http(s) URL: its scheme must be written out", ErrURLTemplate, src)
	}
	authEnd := scanOutsidePlaceholders(src, i+3, "/?#")
	rest := src[authEnd:]
	pathEnd := scanOutsidePlaceholders(rest, 0, "?#")
	u := &URLTemplate{src: src}
	parts := []struct {
		dst **Template
		src string
	}{{&u.authority, src[:authEnd]}, {&u.path, rest[:pathEnd]}}
	rest = rest[pathEnd:]
	if strings.HasPrefix(rest, "?") {
		u.hasQuery = true
		qEnd := scanOutsidePlaceholders(rest, 1, "#")
		parts = append(parts, struct {
			dst **Template
			src string
		}{&u.query, rest[1:qEnd]})
		rest = rest[qEnd:]
	}
	if strings.HasPrefix(rest, "#") {
		u.hasFrag = true
		parts = append(parts, struct {
			dst **Template
			src string
		}{&u.fragment, rest[1:]})
	}
	for _, p := range parts {
		t, err := ParseTemplate(p.src)
		if err != nil {
			return nil, err
		}
		*p.dst = t
	}
	return u, nil
}

// scanOutsidePlaceholders returns the index of the first byte of s at or
// after from that is one of stops and not inside {{ … }} or {% … %}, or
// len(s).
func scanOutsidePlaceholders(s string, from int, stops string) int {
	for i := from; i < len(s); i++ {
		if s[i] == '{' && i+1 < len(s) && (s[i+1] == '{' || s[i+1] == '%') {
			closer := "}}"
			if s[i+1] == '%' {
				closer = "%}"
			}
			j := strings.Index(s[i+2:], closer)
			if j < 0 {
				return len(s)
			}
			i += 2 + j + 1
			continue
		}
		if strings.IndexByte(stops, s[i]) >= 0 {
			return i
		}
	}
	return len(s)
}

// hostPattern is a DNS name or an IPv4 address; IPv6 literals are checked
// with netip.
var hostPattern = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?$`)

// Render fills the template from scope and returns the URL to send.
func (u *URLTemplate) Render(scope map[string]any) (string, error) {
	authority, err := u.authority.Render(scope)
	if err != nil {
		return "", err
	}
	base, err := url.Parse(authority)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") {
		return "", fmt.Errorf("%w: %q is not an http(s) URL", ErrURLTemplate, authority)
	}
	if base.User != nil || base.Path != "" || base.RawQuery != "" || base.Fragment != "" || base.Opaque != "" {
		return "", fmt.Errorf("%w: the host part %q renders to more than a host and port", ErrURLTemplate, authority)
	}
	if err := checkHost(base); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(base.Scheme + "://" + base.Host)
	path, err := u.path.RenderEscaped(scope, url.PathEscape)
	if err != nil {
		return "", err
	}
	b.WriteString(path)
	if u.hasQuery {
		q, err := u.query.RenderEscaped(scope, url.QueryEscape)
		if err != nil {
			return "", err
		}
		b.WriteString("?" + q)
	}
	if u.hasFrag {
		f, err := u.fragment.RenderEscaped(scope, url.PathEscape)
		if err != nil {
			return "", err
		}
		b.WriteString("#" + f)
	}
	out := b.String()
	parsed, err := url.Parse(out)
	if err != nil {
		return "", fmt.Errorf("%w: %q does not parse: %v", ErrURLTemplate, out, err)
	}
	if parsed.Host != base.Host || parsed.User != nil {
		return "", fmt.Errorf("%w: %q changed its host", ErrURLTemplate, out)
	}
	return out, nil
}

// checkHost accepts a host that is a name, an IPv4 address or a bracketed
// IPv6 address without a zone, and a numeric port.
func checkHost(u *url.URL) error {
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return fmt.Errorf("%w: %q names no host", ErrURLTemplate, u.Host)
	}
	if strings.Contains(u.Host, "[") {
		addr, err := netip.ParseAddr(host)
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return fmt.Errorf("%w: %q is not an IPv6 address without a zone", ErrURLTemplate, host)
		}
	} else if !hostPattern.MatchString(host) {
		return fmt.Errorf("%w: %q is not a host name or address", ErrURLTemplate, host)
	}
	for _, r := range port {
		if r < '0' || r > '9' {
			return fmt.Errorf("%w: port %q is not a number", ErrURLTemplate, port)
		}
	}
	return nil
}

// String is the template's source.
func (u *URLTemplate) String() string { return u.src }

// RenderURL parses and renders a URL template once; callers that render the
// same template often keep the parsed URLTemplate instead.
func RenderURL(src string, scope map[string]any) (string, error) {
	u, err := ParseURLTemplate(src)
	if err != nil {
		return "", err
	}
	return u.Render(scope)
}
