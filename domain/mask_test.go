package domain

import "testing"

// TestMaskHeadersOneRule: the names that carry credentials are masked
// wherever headers are shown; definitions keep placeholders visible, never a
// literal credential beside one.
func TestMaskHeadersOneRule(t *testing.T) {
	in := map[string]string{
		"Authorization": "Bearer abc", "Proxy-Authorization": "Basic x", "Cookie": "s=1", "Set-Cookie": "s=1",
		"X-Api-Key": "k", "X-Auth-Token": "t", "Private-Token": "p", "X-Session-Id": "s", "Client-Secret": "c",
		"Webhook-Signature": "v1,abc", "Accept": "json", "Idempotency-Key": "run-1", "X-Empty-Token": "",
	}
	got := MaskHeaders(in, false)
	for _, k := range []string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-Api-Key", "X-Auth-Token", "Private-Token", "X-Session-Id", "Client-Secret"} {
		if got[k] != Masked {
			t.Errorf("%s = %q, want masked", k, got[k])
		}
	}
	for _, k := range []string{"Webhook-Signature", "Accept", "Idempotency-Key", "X-Empty-Token"} {
		if got[k] != in[k] {
			t.Errorf("%s = %q, want %q", k, got[k], in[k])
		}
	}
	defs := MaskHeaders(map[string]string{"Authorization": "Bearer {{ token }}", "X-Api-Key": "{{ key }}", "X-Token": "abc{{ t }}", "Cookie": "s=1"}, true)
	if defs["Authorization"] != "Bearer {{ token }}" || defs["X-Api-Key"] != "{{ key }}" || defs["X-Token"] != Masked || defs["Cookie"] != Masked {
		t.Errorf("definitions = %v", defs)
	}
	if MaskHeaders(map[string]string{"Authorization": "Bearer {{ token }}"}, false)["Authorization"] != Masked {
		t.Error("rendered headers keep a template unmasked")
	}
}
