package domain

import "strings"

// Masked replaces a credential's value wherever TriggerFlow shows or stores
// what it sent or received.
const Masked = "***"

// credentialWords are the parts of header and field names that carry
// credentials: Authorization, Proxy-Authorization, Cookie, Set-Cookie,
// X-Api-Key, X-Auth-Token, Private-Token, X-Session-Id, …
var credentialWords = []string{
	"auth", "cookie", "token", "secret", "password", "passwd", "credential", "session",
	"signature", "apikey", "api-key", "api_key", "access-key", "access_key", "private-key", "private_key",
}

// IsCredentialName reports whether a header (or log field) name looks like it
// carries a credential. webhook-signature does not: it is derived from the
// secret, reveals nothing, and helps receivers debug their verification.
func IsCredentialName(name string) bool {
	n := strings.ToLower(strings.TrimSpace(name))
	if n == "webhook-signature" {
		return false
	}
	for _, w := range credentialWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// MaskHeaders is the one masking rule for headers and fields: a copy of h in
// which every credential-like name's value is Masked. Attempts (request and
// response headers), webhook definitions as the API shows them and the log
// action's fields all use it. A value that is a template ({{ token }}) names
// where the credential comes from rather than holding it; showTemplates
// keeps such values visible, for definitions only.
func MaskHeaders(h map[string]string, showTemplates bool) map[string]string {
	if h == nil {
		return nil
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		if v != "" && IsCredentialName(k) && !(showTemplates && isTemplateOnly(v)) {
			v = Masked
		}
		out[k] = v
	}
	return out
}

// isTemplateOnly reports a value made only of placeholders and spaces, with
// no literal text that could be part of a credential ("Bearer {{ t }}" has
// some: "Bearer" is harmless, but a literal token beside a placeholder is
// not, so anything beyond placeholders and a scheme word is masked).
func isTemplateOnly(v string) bool {
	rest := v
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			break
		}
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			return false
		}
		rest = rest[:i] + " " + rest[i+j+2:]
	}
	switch strings.ToLower(strings.TrimSpace(rest)) {
	case "", "bearer", "basic", "token":
		return strings.Contains(v, "{{")
	}
	return false
}
