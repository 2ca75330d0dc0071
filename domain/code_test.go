package domain

import (
	"strings"
	"testing"
)

func TestSuggestCode(t *testing.T) {
	tests := []struct{ name, want string }{
		{"Order Webhook", "order_webhook"},
		{"  Send   to  CRM ", "send_to_crm"},
		{"new-lead -- hook", "new_lead_hook"},
		{"Nouvelle Tâche — urgent!", "nouvelle_tache_urgent"},
		{"Crème brûlée façade", "creme_brulee_facade"},
		{"Straße Ærø Łódź", "strasse_aero_lodz"},
		{"Сповіщення клієнта", "spovishchennia_kliienta"},
		{"Новый заказ", "novyy_zakaz"},
		{"___a__b___", "a_b"},
		{"a_-_b", "a_b"},
		{"Tab\tand\nnewline", "tab_and_newline"},
		{"100% done", "100_done"},
		{"!!!", ""},
		{"", ""},
		{"日本語", ""},
		{"emoji 🎉 hook", "emoji_hook"},
		{strings.Repeat("ab ", 40), strings.TrimSuffix(strings.Repeat("ab_", 22), "_")[:64]},
	}
	for _, tc := range tests {
		got := SuggestCode(tc.name)
		if got != tc.want {
			t.Errorf("SuggestCode(%q) = %q, want %q", tc.name, got, tc.want)
		}
		if got != "" {
			if err := ValidateCode(got); err != nil {
				t.Errorf("SuggestCode(%q) = %q is not a valid code: %v", tc.name, got, err)
			}
		}
	}
}

func TestValidateCode(t *testing.T) {
	for _, ok := range []string{"a", "order_webhook", "x_1", strings.Repeat("a", 64), "_", "1"} {
		if err := ValidateCode(ok); err != nil {
			t.Errorf("ValidateCode(%q): %v", ok, err)
		}
	}
	for bad, sub := range map[string]string{
		"":                      "is required",
		strings.Repeat("a", 65): "at most 64",
		"Order":                 `'O' is not allowed`,
		"a-b":                   `'-' is not allowed`,
		"a b":                   `' ' is not allowed`,
		"tâche":                 `'â' is not allowed`,
	} {
		err := ValidateCode(bad)
		if err == nil || !strings.Contains(err.Error(), sub) {
			t.Errorf("ValidateCode(%q) = %v, want %q", bad, err, sub)
		}
	}
}

func FuzzSuggestCode(f *testing.F) {
	f.Add("Order Webhook")
	f.Add("Nouvelle Tâche — urgent!")
	f.Add("Сповіщення")
	f.Add("\xff\xfe bad utf8")
	f.Fuzz(func(t *testing.T, name string) {
		code := SuggestCode(name)
		if code == "" {
			return
		}
		if err := ValidateCode(code); err != nil {
			t.Fatalf("SuggestCode(%q) = %q: %v", name, code, err)
		}
		if strings.HasPrefix(code, "_") || strings.HasSuffix(code, "_") || strings.Contains(code, "__") {
			t.Fatalf("SuggestCode(%q) = %q has stray underscores", name, code)
		}
		if again := SuggestCode(code); again != code {
			t.Fatalf("SuggestCode is not idempotent: %q → %q", code, again)
		}
	})
}

func BenchmarkSuggestCode(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = SuggestCode("Nouvelle Tâche — urgent order webhook")
	}
}
