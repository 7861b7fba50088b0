package ui_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"corral/masterd/marathon/marathontest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	marathontest.RemoveBinaries()
	os.Exit(code)
}

// browser is a headless Chromium (Debian's chromium) driven over the
// DevTools protocol; JavaScript exceptions in the page fail the test.
type browser struct {
	t     testing.TB
	ctx   context.Context
	shots string // where shot saves screenshots

	mu     sync.Mutex // guards errors, streams and netlog
	errors []string
	// streams are the requests for /v2/events, and netlog what the
	// network said of them: a page that stays "connecting" shows why.
	streams map[network.RequestID]bool
	netlog  []string
}

// logStream notes a network event of an event-stream request.
func (b *browser) logStream(id network.RequestID, format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.streams[id] {
		b.netlog = append(b.netlog, time.Now().Format("15:04:05.000 ")+string(id)+" "+fmt.Sprintf(format, args...))
	}
}

// newBrowser starts Chromium with a viewport of w×h until the test ends.
// It trusts any certificate: the test cluster's is self-signed.
func newBrowser(t testing.TB, w, h int, shots string) *browser {
	t.Helper()
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Fatal("the browser tests need Debian's chromium (apt-get install chromium; make deps installs it)")
	}
	b := &browser{t: t, shots: shots, streams: map[network.RequestID]bool{}}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath("/usr/bin/chromium"),
		chromedp.NoSandbox, // root
		chromedp.DisableGPU,
		chromedp.WindowSize(w, h),
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg = d.Exception.Description
			}
			b.mu.Lock()
			b.errors = append(b.errors, fmt.Sprintf("%s (%s:%d)", msg, d.URL, d.LineNumber))
			b.mu.Unlock()
		case *network.EventRequestWillBeSent:
			if strings.Contains(ev.Request.URL, "/v2/events") {
				b.mu.Lock()
				b.streams[ev.RequestID] = true
				b.mu.Unlock()
				b.logStream(ev.RequestID, "requested")
			}
		case *network.EventRequestWillBeSentExtraInfo:
			_, auth := ev.Headers["Authorization"]
			_, auth2 := ev.Headers["authorization"]
			b.logStream(ev.RequestID, "sent, with credentials %v", auth || auth2)
		case *network.EventResponseReceivedExtraInfo:
			b.logStream(ev.RequestID, "response headers, status %d", ev.StatusCode)
		case *network.EventResponseReceived:
			b.logStream(ev.RequestID, "response %d over %s", ev.Response.Status, ev.Response.Protocol)
		case *network.EventLoadingFailed:
			b.logStream(ev.RequestID, "failed: %s (canceled %v)", ev.ErrorText, ev.Canceled)
		}
	}))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting chromium: %v", err)
	}
	b.ctx = ctx
	return b
}

// checkErrors fails the test for every exception the page threw.
func (b *browser) checkErrors() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errors {
		b.t.Errorf("the page threw: %s", e)
	}
	b.errors = nil
}

// do runs steps, failing the test with what they were for.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.checkErrors()
		b.t.Fatalf("%s: %v\npage text:\n%s\nevent-stream requests:\n%s", what, err, b.pageText(), b.netLog())
	}
}

// eval returns the value of a JavaScript expression.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// waitJS waits until the JavaScript expression is truthy.
func (b *browser) waitJS(timeout time.Duration, what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout+5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		b.checkErrors()
		b.t.Fatalf("waiting for %s: %v\npage text:\n%s\nevent-stream requests:\n%s", what, err, b.pageText(), b.netLog())
	}
}

// waitText waits until the element's text contains want.
func (b *browser) waitText(timeout time.Duration, sel, want string) {
	b.t.Helper()
	b.waitJS(timeout, fmt.Sprintf("%s to read %q", sel, want),
		fmt.Sprintf(`(document.querySelector(%q)?.textContent || '').includes(%q)`, sel, want))
}

// netLog is what the network said of the page's event-stream requests,
// for failure messages.
func (b *browser) netLog() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.netlog, "\n")
}

// pageText is the page's visible text, for failure messages.
func (b *browser) pageText() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + '\n' + document.body.innerText`))
	if err != nil {
		return "(unavailable: " + err.Error() + ")"
	}
	if len(s) > 4000 {
		s = s[:4000] + "…"
	}
	return s
}

// shot saves a screenshot of the viewport as <name>.png.
func (b *browser) shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// choose sets a <select>'s value as a user does, firing change.
func choose(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
			`(() => { const s = document.querySelector(%q); s.value = %q; s.dispatchEvent(new Event('change', {bubbles: true})); })()`, sel, value))(ctx, t)
		return err
	})
}

// clearAndType replaces an input's text by typing.
func clearAndType(sel, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
			`(() => { const e = document.querySelector(%q); e.value = ''; e.dispatchEvent(new Event('input', {bubbles: true})); })()`, sel)),
		chromedp.SendKeys(chromedp.CSS(sel), text),
	)
}

// withCredentials puts user:password into an http(s) URL.
func withCredentials(u, creds string) string {
	scheme, rest, _ := strings.Cut(u, "://")
	return scheme + "://" + creds + "@" + rest
}
