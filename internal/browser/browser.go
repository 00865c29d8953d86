// Package browser opens pages in a real headless Chromium, driven through
// the DevTools protocol (github.com/chromedp/chromedp), for metalab's tests
// and benchmark of the HTML report. A [Page] records what a page logs as an
// error, the exceptions it throws and every request it makes, so that a
// test can say that a report draws without a script error and fetches
// nothing but itself.
//
// Tests skip when no Chromium is installed, except where the browser is
// required: under hack/test.sh, which installs Debian's chromium, and so in
// CI (testenv.Strict).
package browser

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/metalab-hpc/metalab/internal/testenv"
)

// Env names a Chromium binary to use instead of the one on $PATH.
const Env = "METALAB_CHROMIUM"

// Path is the Chromium binary: $METALAB_CHROMIUM, or chromium,
// chromium-browser, google-chrome from $PATH; "" when there is none.
func Path() string {
	if p := os.Getenv(Env); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Required reports whether tests must fail rather than skip without a
// browser: under hack/test.sh, and so in CI.
func Required() bool { return testenv.Strict() }

// Page is one browser tab and what it logged.
type Page struct {
	Ctx context.Context

	mu       sync.Mutex
	errors   []string
	requests []string
}

// New starts a headless Chromium for the test, and closes it at the end
// of the test. It skips the test when there is no browser, unless one is
// [Required].
func New(t testing.TB) *Page { return NewSize(t, 1280, 900) }

// NewSize is [New] with a window of width × height.
func NewSize(t testing.TB, width, height int) *Page {
	t.Helper()
	path := Path()
	if path == "" {
		if Required() {
			t.Fatalf("no Chromium found, and this run requires one (CI or hack/test.sh): apt-get install chromium, or set $%s", Env)
		}
		t.Skipf("skipped: no Chromium (apt-get install chromium, or set $%s)", Env)
	}
	p, cancel, err := Start(path, width, height)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cancel)
	return p
}

// Start starts a headless Chromium at path with a window of width × height
// and returns its tab and the function that stops it.
func Start(path string, width, height int) (*Page, func(), error) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // tests run as root, where Chromium's sandbox refuses to start
		chromedp.DisableGPU,
		chromedp.WindowSize(width, height),
		chromedp.Flag("allow-file-access-from-files", false),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	p := &Page{Ctx: ctx}
	cancel := func() { cancelCtx(); cancelAlloc() }
	// Both subscriptions start the browser, and see every message and
	// request from then on.
	console := chromedp.Console(ctx)
	requests := chromedp.Events(ctx, network.RequestWillBeSent)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException || m.Type == "assert" {
				p.mu.Lock()
				p.errors = append(p.errors, fmt.Sprintf("%s at %s:%d: %s", m.Type, m.URL, m.Line, m.Text))
				p.mu.Unlock()
			}
		}
	}()
	go func() {
		for ev, err := range requests {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.requests = append(p.requests, ev.Request.URL)
			p.mu.Unlock()
		}
	}()
	return p, cancel, nil
}

// Open loads url and waits, up to timeout, until the page's body has the
// attribute data-rendered (the report sets it when it has drawn). It
// returns how long that took, from the start of navigation.
func (p *Page) Open(url string, timeout time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(p.Ctx, timeout)
	defer cancel()
	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("body[data-rendered]"))); err != nil {
		return 0, fmt.Errorf("opening %s: %w (errors so far: %v)", url, err, p.Errors())
	}
	return time.Since(start), nil
}

// Errors is what the page logged as errors and the exceptions it threw.
func (p *Page) Errors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.errors...)
}

// Requests is the URL of every request the page made, its own included.
func (p *Page) Requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.requests...)
}

// Eval evaluates a JavaScript expression in the page p.
func Eval[T any](p *Page, expr string) (T, error) {
	return chromedp.Run(p.Ctx, chromedp.Evaluate[T](expr))
}

// Screenshot captures the window as PNG; full: the whole page.
func (p *Page) Screenshot(full bool) ([]byte, error) {
	if full {
		return chromedp.Run(p.Ctx, chromedp.FullScreenshot(100))
	}
	return chromedp.Run(p.Ctx, chromedp.CaptureScreenshot())
}
