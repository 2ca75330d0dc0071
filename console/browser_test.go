//go:build !fuzzsmoke

package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/triggerflow/triggerflow/internal/testkit"
	"github.com/triggerflow/triggerflow/internal/teststack"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// chromiumPath is Debian's chromium, which `make test` installs
// (scripts/ensure-chromium.sh); the tests never download a browser.
const chromiumPath = "/usr/bin/chromium"

// envScreenshots names a directory; when set, the tests write each
// screen's PNG there (make console-screenshots uses docs/console).
const envScreenshots = "TRIGGERFLOW_SCREENSHOTS"

// console is a real stack (PostgreSQL, embedded Temporal, API, worker) with
// a headless chromium tab on its console.
type console struct {
	t     *testing.T
	stack *teststack.Stack
	ctx   context.Context

	mu     sync.Mutex
	errors []string
}

// startConsole starts the stack and the browser; both stop with the test.
func startConsole(t *testing.T) *console {
	t.Helper()
	return startConsoleWith(t, teststack.Options{})
}

// startConsoleWith is startConsole on a stack with opts (the worker's
// action settings, say); the console's Temporal UI link is always set.
func startConsoleWith(t *testing.T, opts teststack.Options) *console {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing; CI must install it (scripts/ensure-chromium.sh)", chromiumPath)
		}
		t.Skipf("%s is missing: run scripts/ensure-chromium.sh (make test does) to run the console's browser tests", chromiumPath)
	}
	opts.TemporalUIURL = "http://127.0.0.1:8233"
	stack := teststack.Start(t, opts)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 800))
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	c := &console{t: t, stack: stack, ctx: ctx}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	// A script error in the console fails the test that caused it.
	if err := chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
			c.mu.Lock()
			c.errors = append(c.errors, msg)
			c.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	origin := stack.URL
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		_, _ = chromedp.Run(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Call(ctx, browser.SetPermission, browser.SetPermissionParams{
				Permission: &browser.PermissionDescriptor{Name: name}, Setting: browser.PermissionSettingGranted, Origin: origin})
			return err
		}))
	}
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, e := range c.errors {
			t.Errorf("console script error: %s", e)
		}
	})
	return c
}

// do runs browser actions, failing the test on error.
func (c *console) do(actions ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		c.t.Fatalf("browser: %v", err)
	}
}

// eval runs JavaScript in the page and decodes its (awaited) result.
func eval[T any](c *console, js string) T {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		c.t.Fatalf("eval %.80s: %v", js, err)
	}
	return v
}

// open loads a console path (relative to /ui/), signed in with the admin
// token through the URL fragment, as the dev banner's link does.
func (c *console) open(path string) {
	c.t.Helper()
	c.openAs(teststack.Token, path)
}

func (c *console) openAs(token, path string) {
	c.t.Helper()
	c.do(chromedp.Navigate(c.stack.URL + "/ui/" + path + "#token=" + token))
	c.waitFor("the console to start", `!!document.querySelector('nav[aria-label="Main"]')`)
}

// finder is the page-side lookup by role and accessible name, as a screen
// reader finds controls. It searches the open dialog when there is one
// (the rest of the page is inert then), else the page, and marks the match
// with a data-testref attribute so chromedp can aim real input at it.
const finder = `(role, name, within) => {
  const norm = (s) => (s || '').replace(/\s+/g, ' ').trim();
  const byId = (i) => document.getElementById(i);
  // A label's own words, without the text of controls inside it.
  const labelText = (l) => { const k = l.cloneNode(true); k.querySelectorAll('select, textarea').forEach((x) => x.remove()); return norm(k.textContent); };
  const accName = (el) => {
    if (el.getAttribute('aria-label')) return norm(el.getAttribute('aria-label'));
    if (el.getAttribute('aria-labelledby')) return norm(el.getAttribute('aria-labelledby').split(/\s+/).map((i) => (byId(i) || {}).textContent).join(' '));
    if (el.id) { const l = document.querySelector('label[for="' + CSS.escape(el.id) + '"]'); if (l) return labelText(l); }
    const wrap = el.closest('label'); if (wrap && wrap !== el) return labelText(wrap);
    if (el.tagName === 'FIELDSET') { const lg = el.querySelector(':scope > legend'); if (lg) return norm(lg.textContent); }
    if (el.tagName === 'TABLE') { const cap = el.querySelector('caption'); if (cap) return norm(cap.textContent); }
    return norm(el.textContent);
  };
  const sel = {
    button: 'button, [role=button], input[type=submit]', link: 'a[href]', checkbox: 'input[type=checkbox]', switch: '[role=switch]',
    textbox: 'input:not([type]), input[type=text], input[type=url], input[type=search], input[type=password], input[type=number], input[type=datetime-local], textarea',
    combobox: 'select', dialog: '[role=dialog]', group: 'fieldset, [role=group]', table: 'table', heading: 'h1, h2, h3, h4',
    row: 'tbody tr', status: '[role=status]', alert: '[role=alert]',
  }[role];
  const dialogs = [...document.querySelectorAll('dialog[open]')];
  let root = role === 'dialog' || !dialogs.length ? document : dialogs[dialogs.length - 1];
  if (within) root = document.querySelector('[data-testref="' + within + '"]') || root;
  const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const hit = [...root.querySelectorAll(sel)].find((el) => visible(el) && (role === 'row' ? norm(el.textContent).includes(name) : accName(el) === name));
  if (!hit) return '';
  if (!hit.dataset.testref) hit.dataset.testref = String(++window.__testrefs || (window.__testrefs = 1));
  return hit.dataset.testref;
}`

// find waits for the element with role and accessible name (for a row: a
// row containing name) and returns its CSS selector.
func (c *console) find(role, name string) string {
	c.t.Helper()
	return c.findWithin("", role, name)
}

// findWithin looks inside the element of a selector find returned.
func (c *console) findWithin(scope, role, name string) string {
	c.t.Helper()
	within := strings.TrimSuffix(strings.TrimPrefix(scope, `[data-testref="`), `"]`)
	args, _ := json.Marshal([]string{role, name, within})
	deadline := time.Now().Add(20 * time.Second) // generous: CI shares two cores
	for {
		ref := eval[string](c, fmt.Sprintf("(%s)(...%s)", finder, args))
		if ref != "" {
			return fmt.Sprintf(`[data-testref="%s"]`, ref)
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no %s named %q on %s:\n%s", role, name, eval[string](c, "location.pathname"), c.pageText())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// absent checks that no element with role and name shows now.
func (c *console) absent(role, name string) {
	c.t.Helper()
	args, _ := json.Marshal([]string{role, name, ""})
	if ref := eval[string](c, fmt.Sprintf("(%s)(...%s)", finder, args)); ref != "" {
		c.t.Errorf("%s %q shows on %s, want none", role, name, eval[string](c, "location.pathname"))
	}
}

func (c *console) pageText() string {
	return eval[string](c, `document.readyState + ' | ' + (document.querySelector('dialog[open]') ? 'dialog open | ' : '') +
		(document.querySelector('dialog[open]') || document.body).innerText.slice(0, 3000) + ' | ' + document.body.innerHTML.slice(0, 600)`)
}

// click clicks the element with role and name, with a real mouse event.
func (c *console) click(role, name string) {
	c.t.Helper()
	sel := c.find(role, name)
	// Centred first, as a person scrolls to it: at a dialog's bottom edge
	// the sticky Save bar would take the click.
	eval[bool](c, fmt.Sprintf(`(document.querySelector(%q).scrollIntoView({block: 'center'}), true)`, sel))
	c.do(chromedp.Click(chromedp.CSS(sel)))
}

// fill types text into the labelled textbox, replacing what it holds.
func (c *console) fill(label, text string) {
	c.t.Helper()
	sel := c.find("textbox", label)
	eval[bool](c, fmt.Sprintf(`(() => { const el = document.querySelector(%q); el.value = ''; el.focus(); return true; })()`, sel))
	if text == "" {
		// Emptied as by select-all and Delete: the page hears the input.
		eval[bool](c, fmt.Sprintf(`document.querySelector(%q).dispatchEvent(new Event('input', {bubbles: true}))`, sel))
		return
	}
	c.do(chromedp.SendKeys(chromedp.CSS(sel), text))
}

// fillWithin is fill for a textbox inside the element of a selector find
// returned (one of several groups with the same field names).
func (c *console) fillWithin(scope, label, text string) {
	c.t.Helper()
	sel := c.findWithin(scope, "textbox", label)
	eval[bool](c, fmt.Sprintf(`(() => { const el = document.querySelector(%q); el.value = ''; el.focus(); return true; })()`, sel))
	c.do(chromedp.SendKeys(chromedp.CSS(sel), text))
}

// choose picks the option with value in the labelled select.
func (c *console) choose(label, value string) {
	c.t.Helper()
	sel := c.find("combobox", label)
	// Options may still be loading (flows come from the API): wait for them
	// as a person would.
	deadline := time.Now().Add(20 * time.Second)
	ok := false
	for !ok && time.Now().Before(deadline) {
		ok = eval[bool](c, fmt.Sprintf(`(() => { const s = document.querySelector(%q);
			if (![...s.options].some((o) => o.value === %q)) return false;
			s.focus(); s.value = %q; s.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`, sel, value, value))
		if !ok {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if !ok {
		c.t.Fatalf("select %q has no option %q: %s", label, value, eval[string](c, fmt.Sprintf(`[...document.querySelector(%q).options].map((o) => o.value).join(', ')`, sel)))
	}
}

// attr reads an attribute of the element of a selector.
func (c *console) attr(sel, name string) string {
	c.t.Helper()
	return eval[string](c, fmt.Sprintf(`document.querySelector(%q).getAttribute(%q) || ''`, sel, name))
}

// text reads the visible text of the element of a selector.
func (c *console) text(sel string) string {
	c.t.Helper()
	return eval[string](c, fmt.Sprintf(`document.querySelector(%q).innerText`, sel))
}

// waitFor polls a JavaScript condition until it is true.
func (c *console) waitFor(what, js string) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !eval[bool](c, "!!("+js+")") {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out waiting for %s on %s:\n%s", what, eval[string](c, "location.pathname"), c.pageText())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitText waits until the page (or the open dialog) shows text.
func (c *console) waitText(text string) {
	c.t.Helper()
	c.waitFor(fmt.Sprintf("%q to show", text), fmt.Sprintf(`(document.querySelector('dialog[open]') || document.body).innerText.includes(%q)`, text))
}

// waitRow waits until a table row containing name also contains every one
// of want (lists re-render after a refresh), and returns its selector.
func (c *console) waitRow(name string, want ...string) string {
	c.t.Helper()
	args, _ := json.Marshal(append([]string{}, want...))
	c.waitFor(fmt.Sprintf("a row with %q showing %v", name, want), fmt.Sprintf(`!document.querySelector('table[aria-busy]') && [...document.querySelectorAll('tbody tr')].some((tr) =>
		tr.innerText.includes(%q) && %s.every((w) => tr.innerText.includes(w)))`, name, args))
	return c.find("row", name)
}

// press sends a key to the focused element.
func (c *console) press(key string) { c.t.Helper(); c.do(chromedp.KeyEvent(key)) }

// escape presses Esc.
func (c *console) escape() { c.t.Helper(); c.press(kb.Escape) }

// screenshot writes the viewport to $TRIGGERFLOW_SCREENSHOTS/<name>.png.
func (c *console) screenshot(name string) {
	c.t.Helper()
	c.screenshotShowing(name, "")
}

// screenshotShowing is screenshot with the element sel scrolled into view
// ("" shows a dialog from its top).
func (c *console) screenshotShowing(name, sel string) {
	c.t.Helper()
	dir := os.Getenv(envScreenshots)
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, 20*time.Second)
	defer cancel()
	if sel == "" {
		eval[bool](c, `(() => { const b = document.querySelector('dialog[open] .dlg-body'); if (b) b.scrollTop = 0; return true; })()`)
	} else {
		eval[bool](c, `(() => { const e = document.querySelector(`+strconv.Quote(sel)+`); if (e) e.scrollIntoView({block: 'center'}); return true; })()`)
	}
	time.Sleep(150 * time.Millisecond) // let transitions and fonts settle
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		c.t.Fatalf("screenshot: %v", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// api calls the API as the admin, for setting up and checking.
func (c *console) api(want int, method, path string, body any) map[string]any {
	c.t.Helper()
	r := c.stack.MustDo(want, method, path, body)
	if len(r.Body) == 0 {
		return nil
	}
	return r.Map(c.t)
}

// total is the total of a list route.
func (c *console) total(path string) int {
	c.t.Helper()
	return int(c.api(http.StatusOK, "GET", path, nil)["total"].(float64))
}
