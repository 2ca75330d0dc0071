package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/osteele/liquid/parser"
)

func TestTemplateRender(t *testing.T) {
	scope := ipscapeScope(t)
	scope["nums"] = []any{json.Number("3"), json.Number("1.5"), json.Number("10")}
	scope["html"] = "<b>&</b>"
	tests := []struct {
		name, src, want string
	}{
		{"plain text", "hello", "hello"},
		{"empty", "", ""},
		{"placeholder", "Hi {{ contact.first_name }}!", "Hi Ann!"},
		{"no spaces", "{{contact.first_name}}", "Ann"},
		{"numeric map key", "{{ contact.czCol.15 }}", "gold"},
		{"numeric map key via liquid", "{{ contact.czCol.15 | upcase }}", "GOLD"},
		{"array index", "{{ items.0.id }},{{ items.1.id }}", "a,b"},
		{"array index via liquid", "{{ items.1.id | upcase }}", "B"},
		{"phones map", "{{ lead.phones.1.phone }}", "+61400000000"},
		{"missing renders empty", "[{{ nope }}|{{ lead.nope.deeper }}|{{ items.9.id }}]", "[||]"},
		{"missing in liquid", "[{{ nope | upcase }}]", "[]"},
		{"null renders empty", "[{{ agentInteractionId }}]", "[]"},
		{"event envelope", "{{ event.id }} {{ event.type }}", "evt-1 lead.outcome_predictive"},
		{"json.Number text", "{{ durations.wrap }} {{ bigId }}", "7.5 12345678901234567891"},
		{"json.Number text via liquid", "{{ durations.wrap | default: 0 }} {{ bigId | default: 0 }}", "7.5 12345678901234567891"},
		{"object as JSON", "{{ contact }}", `{"czCol":{"15":"gold"},"first_name":"Ann"}`},
		{"array as JSON", "{{ nums }}", `[3,1.5,10]`},
		{"array as JSON via liquid", "{{ nums | default: 0 }}", `[3,1.5,10]`},
		{"bool", "{{ lead.completed }}", "false"},
		{"no HTML escaping in JSON", "{{ lead.phones }}", `{"1":{"completed":false,"count":"1","phone":"+61400000000"}}`},
		{"json filter", "{{ contact.czCol | json }}", `{"15":"gold"}`},
		{"html stays raw", "{{ html }}", "<b>&</b>"},
		{"escape filter", "{{ html | escape }}", "&lt;b&gt;&amp;&lt;/b&gt;"},
		{"numbers compare as numbers", "{% if durations.talk > 6 %}yes{% else %}no{% endif %}", "yes"},
		{"string numbers stay strings", `{% if lead.totalAttempts == "3" %}yes{% endif %}`, "yes"},
		{"math filters", "{{ durations.talk | plus: 1 }}", "8"},
		{"for with forloop", "{% for i in items %}{{ forloop.index }}:{{ i.id }}{% unless forloop.last %},{% endunless %}{% endfor %}", "1:a,2:b"},
		{"for over numbers", "{% for n in nums %}{{ n }};{% endfor %}", "3;1.5;10;"},
		{"for else", "{% for i in nope %}x{% else %}none{% endfor %}", "none"},
		{"for limit offset reversed", "{% for n in (1..10) offset: 2 limit: 3 reversed %}{{ n }}{% endfor %}", "543"},
		{"break and continue", "{% for n in (1..6) %}{% if n == 2 %}{% continue %}{% endif %}{% if n == 5 %}{% break %}{% endif %}{{ n }}{% endfor %}", "134"},
		{"nested loop restores variables", "{% for a in (1..2) %}{% for b in (1..2) %}{{ a }}{{ b }} {% endfor %}{{ forloop.index }} {% endfor %}", "11 12 1 21 22 2 "},
		{"for over object", "{% for kv in contact.czCol %}{{ kv[0] }}={{ kv[1] }}{% endfor %}", "15=gold"},
		{"numeric segment inside for", "{% for p in lead.phones.1 %}{{ p[0] }} {% endfor %}", "completed count phone "},
		{"assign and capture", `{% assign n = items.0.id | upcase %}{% capture c %}<{{ n }}>{% endcapture %}{{ c }}{{ c.size }}`, "<A>3"},
		{"case when", `{% case wrapCode %}{% when "5" %}five{% when "6", "7" %}six{% else %}other{% endcase %}`, "six"},
		{"case else", `{% case wrapCode %}{% when "5" %}five{% else %}other{% endcase %}`, "other"},
		{"unless elsif", `{% unless lead.completed %}open{% endunless %}`, "open"},
		{"elsif", `{% if wrapCode == "1" %}1{% elsif wrapCode == "6" %}6{% else %}x{% endif %}`, "6"},
		{"contains", `{% if lead.tags contains "vip" %}vip{% endif %}`, "vip"},
		{"array properties", "{{ items.size }} {{ items.first.id }} {{ items.last.id }}", "2 a b"},
		{"map and join", `{{ items | map: "id" | join: "," }}`, "a,b"},
		{"raw", "{% raw %}{{ contact.first_name }} {{ x.1 }}{% endraw %}", "{{ contact.first_name }} {{ x.1 }}"},
		{"comment", "a{% comment %}{{ nope | bogus }}{% endcomment %}b", "ab"},
		{"trim markers", "a  {{- contact.first_name -}}  b", "aAnnb"},
		{"string literal untouched", `{{ "x.1" | append: ".2" }}`, "x.1.2"},
		{"float literal untouched", `{{ 1.5 | plus: 1 }}`, "2.5"},
		{"range literal", `{% for i in (1..3) %}{{ i }}{% endfor %}`, "123"},
		{"range output", `{% assign r = (2..4) %}{{ r }}`, "2..4"},
		{"uniq", `{{ "b,a,b,a" | split: "," | uniq | join: "" }}`, "ba"},
		{"literal true", `{{ true }}`, "true"},
		{"JSON body", `{"name":"{{ contact.first_name }}","attempts":{{ lead.totalAttempts }},"lead":{{ lead.phones }}}`,
			`{"name":"Ann","attempts":3,"lead":{"1":{"completed":false,"count":"1","phone":"+61400000000"}}}`},
		{"multi-line", "line1\n{% if true %}\n{{ contact.first_name }}\n{% endif %}", "line1\n\nAnn\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tpl, err := ParseTemplate(tc.src)
			if err != nil {
				t.Fatalf("ParseTemplate(%q): %v", tc.src, err)
			}
			got, err := tpl.Render(scope)
			if err != nil {
				t.Fatalf("Render(%q): %v", tc.src, err)
			}
			if got != tc.want {
				t.Errorf("Render(%q) = %q, want %q", tc.src, got, tc.want)
			}
			if tpl.String() != tc.src {
				t.Errorf("String() = %q", tpl.String())
			}
		})
	}
}

func TestTemplateRenderDoesNotChangeScope(t *testing.T) {
	scope := map[string]any{"a": "1", "list": []any{"x"}}
	tpl, err := ParseTemplate(`{% assign a = "2" %}{% assign b = 3 %}{% for x in list %}{% endfor %}{{ a }}`)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := tpl.Render(scope); err != nil || out != "2" {
		t.Fatalf("Render = %q, %v", out, err)
	}
	if len(scope) != 2 || scope["a"] != "1" {
		t.Errorf("scope changed: %v", scope)
	}
	if _, ok := scope["list"].([]any); !ok {
		t.Errorf("scope list replaced: %T", scope["list"])
	}
}

func TestParseTemplateErrors(t *testing.T) {
	tests := []struct {
		name, src string
		line      int
		want      string
	}{
		{"too big", strings.Repeat("x", MaxTemplateSize+1), 0, "at most 65536"},
		{"unclosed object", "a\nb {{ contact.first_name", 2, `"{{" is not closed`},
		{"multi-line object", "{{ contact |\n upcase }}", 1, `"{{" is not closed`},
		{"unclosed tag", "x\n\n{% if a", 3, `"{%" is not closed`},
		{"unknown filter", "a\n{{ contact | nofilter }}", 2, `unknown filter "nofilter" in {{ contact | nofilter }}`},
		{"unknown filter in tag", "{% if a | nofilter %}{% endif %}", 1, `unknown filter "nofilter"`},
		{"include", `{% include "/etc/passwd" %}`, 1, `tag "include" is not supported`},
		{"render", `{% render "x" %}`, 1, `tag "render" is not supported`},
		{"tablerow", `{% tablerow x in y %}{% endtablerow %}`, 1, `tag "tablerow" is not supported`},
		{"unknown tag", "\n{% frobnicate %}", 2, `undefined tag "frobnicate"`},
		{"unterminated block", "{% if true %}\nx", 1, `unterminated "if" block`},
		{"syntax error shows what the user wrote", "a\n\n{{ contact.czCol.15 + }}", 3, `in {{ contact.czCol.15 + }}`},
		{"bad assign", "{% assign = 3 %}", 1, "syntax error"},
		{"capture name", "{% capture 1x %}{% endcapture %}", 1, "capture needs a variable name"},
		{"overflowing literal", "{{ 99999999999999999999999 }}", 0, "invalid template"},
		{"else not last", "{% if a %}{% else %}{% elsif b %}{% endif %}", 1, "else must be the last"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTemplate(tc.src)
			if err == nil {
				t.Fatalf("ParseTemplate(%.40q) succeeded", tc.src)
			}
			var te *TemplateError
			if !errors.As(err, &te) {
				t.Fatalf("error %T is not a *TemplateError", err)
			}
			if te.Line != tc.line {
				t.Errorf("line = %d, want %d (%v)", te.Line, tc.line, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if ValidateTemplate(tc.src) == nil {
				t.Error("ValidateTemplate accepted it")
			}
		})
	}
}

func TestTemplateLimits(t *testing.T) {
	big := strings.Repeat("x", MaxTemplateOutput/2+1)
	scope := map[string]any{"big": big, "n": json.Number("1000000000")}
	tests := []struct {
		name, src string
		want      error
	}{
		{"plain output", "{{ big }}{{ big }}", ErrTemplateTooLarge},
		{"liquid output", "{{ big | upcase }}{{ big }}", ErrTemplateTooLarge},
		{"loop output", "{% for i in (1..3) %}{{ big }}{% endfor %}", ErrTemplateTooLarge},
		{"capture", "{% capture c %}{{ big }}{{ big }}{% endcapture %}", ErrTemplateTooLarge},
		{"doubling assign", `{% assign s = "xx" %}{% for i in (1..60) %}{% assign s = s | append: s %}{% endfor %}`, ErrTemplateTooLarge},
		{"doubling json chain", `{% assign s = '""""' %}{{ s` + strings.Repeat(" | json", 30) + ` | size }}`, ErrTemplateTooLarge},
		{"doubling json loop", `{% assign s = '""""' %}{% for i in (1..40) %}{% assign s = s | json %}{% endfor %}`, ErrTemplateTooLarge},
		{"quadratic replace", `{{ big | replace: "x", big | size }}`, ErrTemplateTooLarge},
		{"quadratic join", `{% assign parts = big | split: "" %}{{ parts | join: big | size }}`, ErrTemplateTooLarge},
		{"huge range to a filter", `{{ (1..1000000000) | join: "," }}`, ErrTemplateTooLarge},
		{"huge range from data", `{{ (1..n) | size }}`, ErrTemplateTooLarge},
		{"huge loop without output", `{% for i in (1..1000000000) %}{% endfor %}`, ErrTemplateTooSlow},
		{"nested loops", `{% for i in (1..1000) %}{% for j in (1..1000) %}{% endfor %}{% endfor %}`, ErrTemplateTooSlow},
		{"loop over data range", `{% for i in (1..n) %}{% endfor %}`, ErrTemplateTooSlow},
		{"heavy loop body hits the deadline", `{% for i in (1..n) %}{% assign x = big | upcase | downcase | upcase | downcase %}{% endfor %}`, ErrTemplateTooSlow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tpl, err := ParseTemplate(tc.src)
			if err != nil {
				t.Fatalf("ParseTemplate: %v", err)
			}
			start := time.Now()
			out, err := tpl.Render(scope)
			if elapsed := time.Since(start); elapsed > 3*MaxTemplateRenderTime {
				t.Errorf("render took %v", elapsed)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Render = %d bytes, %v; want %v", len(out), err, tc.want)
			}
			if out != "" {
				t.Errorf("partial output returned with the error")
			}
		})
	}
}

func TestTemplateRenderErrors(t *testing.T) {
	scope := map[string]any{"a": map[string]any{"x": "1"}, "s": "text"}
	for _, src := range []string{
		`{% if a == a %}eq{% endif %}`, // Liquid panics comparing two objects
		`{% break %}`,
		`{% for i in (1..3) limit: "x" %}{% endfor %}`,
		`{{ s | divided_by: 0 }}`,
		`{{ "%" | url_decode }}`,
		`{{ s | date: 5 }}`,
	} {
		tpl, err := ParseTemplate(src)
		if err != nil {
			continue // a parse error is as good as a render error here
		}
		if out, err := tpl.Render(scope); err == nil {
			t.Logf("Render(%q) = %q without error", src, out)
		}
	}
}

func TestTemplateConcurrentRender(t *testing.T) {
	tpl, err := ParseTemplate(`{% for i in items %}{{ i.id }}{% assign last = i.id %}{% endfor %}-{{ last }}-{{ contact.czCol.15 }}`)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := ParseTemplate(`{{ items.0.id }}-{{ contact.czCol.15 }}`)
	if err != nil {
		t.Fatal(err)
	}
	scope := ipscapeScope(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if out, err := tpl.Render(scope); err != nil || out != "ab-b-gold" {
					t.Errorf("Render = %q, %v", out, err)
					return
				}
				if out, err := plain.Render(scope); err != nil || out != "a-gold" {
					t.Errorf("Render = %q, %v", out, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// renderBothWays renders a plain template with the plain renderer and with
// Liquid, which must agree.
func renderBothWays(t *testing.T, tpl *Template, scope map[string]any) {
	t.Helper()
	if tpl.parts == nil {
		return
	}
	prep, perr := preprocessTemplate(tpl.src)
	if perr != nil {
		t.Fatalf("preprocess: %v", perr)
	}
	root, err := liquidConfig().Compile(prep.source, parser.SourceLoc{LineNo: 1})
	if err != nil {
		t.Fatalf("plain template %q does not compile as Liquid: %v", tpl.src, err)
	}
	viaLiquid := &Template{src: tpl.src, root: root}
	a, errA := tpl.Render(scope)
	b, errB := viaLiquid.Render(scope)
	if a != b || (errA == nil) != (errB == nil) {
		t.Errorf("template %q: plain %q (%v), liquid %q (%v)", tpl.src, a, errA, b, errB)
	}
}

func TestTemplatePlainMatchesLiquid(t *testing.T) {
	scope := ipscapeScope(t)
	for _, src := range []string{
		"{{ contact.czCol.15 }}", "{{ items.0.id }}", "{{ items }}", "{{ lead }}", "{{ durations.wrap }}",
		"{{ nope }}", "{{ bigId }}", "{{ agentInteractionId }}", "{{ event }}", "x {{ lead.tags.2 }} y",
		"{{ lead.phones.1 }}", "{{ items.1 }}", "{{ items.01.id }}", "{{ lead.completed }}", "{{ A.-0 }}", "{{ odd.-x-.y }}",
	} {
		tpl, err := ParseTemplate(src)
		if err != nil {
			t.Fatal(err)
		}
		if tpl.parts == nil {
			t.Errorf("%q should use the plain renderer", src)
		}
		renderBothWays(t, tpl, scope)
	}
}

func TestTemplateReservedWordsAreNotPaths(t *testing.T) {
	scope := map[string]any{"in": "x", "null": "n"}
	for _, src := range []string{"{{ in }}", "{{ true.x }}", "{{ and.b }}"} {
		if tpl, err := ParseTemplate(src); err == nil && tpl.parts != nil {
			t.Errorf("%q took the plain path", src)
		}
	}
	tpl, err := ParseTemplate("{{ null }}") // an ordinary name in Liquid
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := tpl.Render(scope); out != "n" {
		t.Errorf("{{ null }} = %q", out)
	}
}

func FuzzTemplate(f *testing.F) {
	f.Add("Hi {{ contact.first_name }} {{ contact.czCol.15 }} {{ items.0.id }}", []byte(`{"contact":{"first_name":"Ann","czCol":{"15":"x"}},"items":[{"id":1}]}`))
	f.Add("{% for i in items %}{{ i }}{% endfor %}{{ items | size }}", []byte(`{"items":[1,2.5,"3",null,{"a":[]}]}`))
	f.Add(`{% assign s = a | append: a %}{% capture c %}{{ s }}{% endcapture %}{{ c | replace: "a", c }}`, []byte(`{"a":"aaaa"}`))
	f.Add(`{% if n > 2 and m contains "x" %}{{ n | times: 2 }}{% elsif n %}{% else %}{% endif %}`, []byte(`{"n":3,"m":["x"]}`))
	f.Add(`{% case x %}{% when 1, "1" %}one{% else %}{{ x | json }}{% endcase %}`, []byte(`{"x":1e300}`))
	f.Add(`{% for i in (1..n) reversed limit: 3 %}{% break %}{% endfor %}{{ (1..5) }}`, []byte(`{"n":-5}`))
	f.Add(`{% raw %}{{ x }}{% endraw %}{%- comment -%}{{ y }}{%- endcomment -%} {{- z -}}`, []byte(`{"z":"-"}`))
	f.Add(`{{ a.b.1.c["d"].0 | default: "x" | upcase | truncate: 3 }}`, []byte(`{"a":{"b":{"1":{"c":{"d":["q"]}}}}}`))
	f.Fuzz(func(t *testing.T, src string, data []byte) {
		tpl, err := ParseTemplate(src)
		if err != nil {
			var te *TemplateError
			if !errors.As(err, &te) {
				t.Fatalf("ParseTemplate error %T is not a *TemplateError", err)
			}
			return
		}
		scope, err := Event{ID: "x", Type: "case.created", Data: data}.Scope()
		if err != nil {
			scope = map[string]any{"data": string(data)}
		}
		out, err := tpl.Render(scope)
		if len(out) > MaxTemplateOutput {
			t.Fatalf("output of %d bytes", len(out))
		}
		if err != nil && out != "" {
			t.Fatalf("output with error %v", err)
		}
		renderBothWays(t, tpl, scope)
	})
}

func BenchmarkTemplateRenderPlain(b *testing.B) {
	scope := ipscapeScope(b)
	tpl, err := ParseTemplate(`{"name":"{{ contact.first_name }}","tier":"{{ contact.czCol.15 }}","lead":{{ lead.phones }},"event":"{{ event.id }}"}`)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tpl.Render(scope); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTemplateRenderLiquid(b *testing.B) {
	scope := ipscapeScope(b)
	tpl, err := ParseTemplate(`{"name":"{{ contact.first_name | upcase }}",{% if durations.talk > 5 %}"long":true,{% endif %}"ids":[{% for i in items %}"{{ i.id }}"{% unless forloop.last %},{% endunless %}{% endfor %}]}`)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tpl.Render(scope); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseTemplate(b *testing.B) {
	src := `{"name":"{{ contact.first_name | upcase }}",{% if durations.talk > 5 %}"long":true,{% endif %}"tier":"{{ contact.czCol.15 }}"}`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseTemplate(src); err != nil {
			b.Fatal(err)
		}
	}
}

func ExampleTemplate_Render() {
	tpl, _ := ParseTemplate(`{{ contact.first_name }} ({{ contact.czCol.15 }}) attempt {{ lead.totalAttempts }}: {{ lead }}`)
	out, _ := tpl.Render(map[string]any{
		"contact": map[string]any{"first_name": "Ann", "czCol": map[string]any{"15": "gold"}},
		"lead":    map[string]any{"totalAttempts": json.Number("3")},
	})
	fmt.Println(out)
	// Output: Ann (gold) attempt 3: {"totalAttempts":3}
}

// A template is parsed once however often it is asked for; the kept
// templates are bounded by the bytes of their sources; a template that does
// not parse is never kept.
func TestParsedTemplatesAreKeptWithinABound(t *testing.T) {
	src := `{"id": "{{ data.id }}", "n": {% if data.n %}{{ data.n }}{% else %}0{% endif %}}`
	a, err := ParseTemplate(src)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := ParseTemplate(src); a != b {
		t.Fatal("the same source was parsed twice")
	}
	if _, err := ParseTemplate("{{ data.id "); err == nil {
		t.Fatal("an unclosed placeholder parsed")
	}
	if parsedTemplates.get("{{ data.id ") != nil {
		t.Fatal("a template that does not parse was kept")
	}
	big := strings.Repeat("x", MaxTemplateSize-100)
	for i := range 2 * parsedTemplatesMaxBytes / len(big) {
		if _, err := ParseTemplate(fmt.Sprintf("%d %s", i, big)); err != nil {
			t.Fatal(err)
		}
		parsedTemplates.mu.RLock()
		n := parsedTemplates.bytes
		parsedTemplates.mu.RUnlock()
		if n > parsedTemplatesMaxBytes {
			t.Fatalf("%d bytes of sources kept", n)
		}
	}
	if got, _ := a.Render(map[string]any{"data": map[string]any{"id": "x"}}); got != `{"id": "x", "n": 0}` {
		t.Fatalf("rendered %q", got)
	}
}
