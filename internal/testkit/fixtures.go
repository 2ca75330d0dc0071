package testkit

import "github.com/triggerflow/triggerflow/domain"

// Webhook is an enabled webhook definition for tests, code as its name, on
// types, posting to example.com; mod, when given, changes it before it is
// normalized.
func Webhook(code string, types []string, mod func(*domain.Webhook)) *domain.Webhook {
	w := &domain.Webhook{Name: code, Code: code, URL: "https://example.com/" + code, EventTypes: types, Enabled: true, Secret: "whsec_x"}
	if mod != nil {
		mod(w)
	}
	w.Normalize()
	return w
}
