package domain

import (
	"errors"
	"testing"
)

// TestURLTemplateValuesCannotChangeTheHostOrShape renders URL templates with
// values that try to move the request elsewhere: out of the path, into the
// query, into credentials, to another host or interface. Values are escaped
// where they stand; in the host they may only be a host.
func TestURLTemplateValuesCannotChangeTheHostOrShape(t *testing.T) {
	scope := map[string]any{
		"id": "1/../../admin?x=1#f", "q": "a&admin=1 b", "tenant": "acme", "space": "a b",
		"at": "@evil.example", "slash": "evil.example/", "zone": "[::1%25lo]", "port": "80@evil.example",
		"dots": "evil.example", "on": true, "n": 42,
	}
	ok := []struct{ src, want string }{
		{"https://a.example.com/cases/{{ id }}", "https://a.example.com/cases/1%2F..%2F..%2Fadmin%3Fx=1%23f"},
		{"https://a.example.com/x?q={{ q }}&n={{ n }}", "https://a.example.com/x?q=a%26admin%3D1+b&n=42"},
		{"https://a.example.com/x#{{ space }}", "https://a.example.com/x#a%20b"},
		{"https://{{ tenant }}.example.com/v1/{{ n }}", "https://acme.example.com/v1/42"},
		{"  http://a.example.com:8080/{% if on %}yes/{% endif %}{{ space }}  ", "http://a.example.com:8080/yes/a%20b"},
		{"https://a.example.com", "https://a.example.com"},
		{"https://a.example.com?x={{ n }}", "https://a.example.com?x=42"},
		{"http://[2001:db8::1]:9000/{{ n }}", "http://[2001:db8::1]:9000/42"},
	}
	for _, c := range ok {
		got, err := RenderURL(c.src, scope)
		if err != nil || got != c.want {
			t.Errorf("%s: got %q, %v; want %q", c.src, got, err, c.want)
		}
	}
	refused := []string{
		"https://api.example.com{{ at }}/x",      // credentials: the host would become evil.example
		"https://{{ slash }}x/",                  // a path in the host position
		"http://{{ zone }}:9100/",                // an interface zone
		"http://a.example.com:{{ port }}/",       // a port that is not a number
		"{{ q }}",                                // no scheme written
		"https://{{ missing }}/x",                // no host at all
		"https://a.example.com{{ slash }}x/path", // a value ending the host early
	}
	for _, src := range refused {
		if got, err := RenderURL(src, scope); err == nil {
			t.Errorf("%s rendered to %q", src, got)
		} else if !errors.Is(err, ErrURLTemplate) {
			t.Errorf("%s: %v is not ErrURLTemplate", src, err)
		}
	}
	// The host a template spells with a value must still be a host name: a
	// value may complete it ({{ tenant }}.example.com) but not add to it.
	if got, _ := RenderURL("https://{{ dots }}/x", scope); got != "https://evil.example/x" {
		t.Errorf("a host that is all placeholder renders %q", got)
	}
}

// TestRenderParamsEscapesURLValues: an action's url param renders by the
// same rules as a webhook's URL.
func TestRenderParamsEscapesURLValues(t *testing.T) {
	spec := ActionSpec{Name: "call", Description: "d", Params: []ParamSpec{
		{Name: "url", Type: ParamString, Required: true, Format: FormatURL, Description: "u"},
	}}
	out, err := spec.RenderParams(map[string]any{"url": "https://a.example.com/u/{{ id }}"}, map[string]any{"id": "../x?y"})
	if err != nil || out["url"] != "https://a.example.com/u/..%2Fx%3Fy" {
		t.Fatalf("url = %v, %v", out["url"], err)
	}
	if _, err := spec.RenderParams(map[string]any{"url": "https://a.example.com{{ id }}"}, map[string]any{"id": "@evil.example"}); err == nil {
		t.Fatal("a value that changes the host was sent")
	}
}
