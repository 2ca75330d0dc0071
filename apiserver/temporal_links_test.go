package apiserver

import "testing"

func TestTemporalUIURL(t *testing.T) {
	cases := []struct {
		base, ns, wf, run, want string
	}{
		{"", "default", "delivery-1", "r1", ""},
		{"http://ui:8233", "default", "", "r1", ""},
		{"http://ui:8233/", "default", "delivery-1", "r1", "http://ui:8233/namespaces/default/workflows/delivery-1/r1"},
		{"http://ui:8233", "", "trigger-t/e 1", "", "http://ui:8233/namespaces/default/workflows/trigger-t%2Fe%201"},
		{"https://ops.example/temporal", "prod", "webhook-a-b", "", "https://ops.example/temporal/namespaces/prod/workflows/webhook-a-b"},
	}
	for _, c := range cases {
		s := &Server{opts: Options{TemporalUIURL: c.base, Namespace: c.ns}}
		if got := s.temporalUIURL(c.wf, c.run); got != c.want {
			t.Errorf("temporalUIURL(%q, %q) with base %q = %q, want %q", c.wf, c.run, c.base, got, c.want)
		}
	}
}
