package launcher

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/report"
	"github.com/metalab-hpc/metalab/seeds"
	"github.com/metalab-hpc/metalab/serve"
	"github.com/metalab-hpc/metalab/store"
)

const serveSecret = "VICTIM-SECRET-5f1c0d"

// serveExp is a sweep of 3 points x 2 replicates whose runs log a line,
// record y and store an artifact; x=2 fails.
func serveExp() Experiment {
	return Experiment{
		Name: "srv", Version: "1", Seeds: seeds.New(1, 2), Params: params.Grid{"x": seqAny(3)},
		Operation: Op(func(p params.Point, c capture.Capture) error {
			x := int(p.Int("x"))
			c.Log("hello from x=%d", x)
			c.Artifact("model.txt", []byte(fmt.Sprintf("model of x=%d", x)), "text")
			if x == 2 {
				return fmt.Errorf("x=%d fails", x)
			}
			c.Metric("y", float64(x))
			return nil
		}),
	}
}

// serveFixture is a store of serveExp served by httptest, a victim tree
// beside it that symlinks in the store point at, and the run whose
// artifacts directory holds those symlinks.
type serveFixture struct {
	dir, victim string
	run         *store.Record
	srv         *httptest.Server
	token       string
	src         *countingSource
}

func newServeFixture(t *testing.T, refresh time.Duration) *serveFixture {
	t.Helper()
	f := &serveFixture{dir: localSweep(t, serveExp(), 6), victim: t.TempDir()}
	if err := os.WriteFile(filepath.Join(f.victim, "secret.txt"), []byte(serveSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenExisting(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Collect(context.Background()); err != nil {
		t.Fatal(err)
	}
	st.Records(func(r *store.Record) error {
		if f.run == nil && len(r.Artifacts) > 0 {
			f.run = r
		}
		return nil
	})
	st.Close()
	if f.run == nil {
		t.Fatal("no run stored an artifact")
	}
	// What a hostile run could leave in its artifacts, and in the store.
	runDir := filepath.Join(f.dir, "artifacts", f.run.RunID)
	for link, target := range map[string]string{
		filepath.Join(runDir, "link.txt"):                   filepath.Join(f.victim, "secret.txt"),
		filepath.Join(runDir, "linkdir"):                    f.victim,
		filepath.Join(f.dir, "artifacts", "ffffffffffffff"): f.victim,
		filepath.Join(runDir, "up.txt"):                     "../../../" + filepath.Base(f.victim) + "/secret.txt",
	} {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	f.src = &countingSource{Source: &serveSource{dir: f.dir, prog: "metalab"}}
	f.token = serve.NewToken()
	h, err := serve.New(serve.Options{Store: f.dir, Token: f.token, Source: f.src, Refresh: refresh})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	return f
}

// countingSource counts the calls to the store's source it wraps.
type countingSource struct {
	serve.Source
	status, data atomic.Int32
}

func (c *countingSource) Status(ctx context.Context) (serve.Status, time.Duration, error) {
	c.status.Add(1)
	return c.Source.Status(ctx)
}

func (c *countingSource) Data(ctx context.Context) (*report.Data, error) {
	c.data.Add(1)
	return c.Source.Data(ctx)
}

// get requests path with the token's cookie (with token false: none).
func (f *serveFixture) get(t *testing.T, method, path string, token bool) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token {
		req.Header.Set("Cookie", f.cookie())
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// cookie is the token's cookie, as the server sets it.
func (f *serveFixture) cookie() string {
	resp, err := noRedirect.Get(f.srv.URL + "/?token=" + f.token)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		return c.Name + "=" + c.Value
	}
	panic("no cookie set by a request with the token")
}

// raw sends request line target as it is, unencoded and uncleaned by any
// client, with the token's cookie, and returns the status and body.
func (f *serveFixture) raw(t *testing.T, target string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(f.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nCookie: %s\r\nConnection: close\r\n\r\n", target, f.cookie())
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeToken: every request needs the token; the token in the URL
// sets a cookie and sends the browser to the bare URL.
func TestServeToken(t *testing.T) {
	f := newServeFixture(t, time.Second)
	art := "/store/" + f.run.Artifacts[0].Path
	tests := []struct {
		name, target, cookie string
		code                 int
	}{
		{name: "no token", target: "/", code: 403},
		{name: "no token, state", target: "/api/state", code: 403},
		{name: "no token, artifact", target: art, code: 403},
		{name: "wrong token", target: "/?token=" + strings.Repeat("0", len(f.token)), code: 403},
		{name: "token prefix", target: "/?token=" + f.token[:len(f.token)-1], code: 403},
		{name: "wrong cookie", target: "/", cookie: f.cookie()[:strings.Index(f.cookie(), "=")+1] + "nope", code: 403},
		{name: "another server's cookie", target: "/", cookie: "metalab_00000000=" + f.token, code: 403},
		{name: "token in the URL", target: "/?token=" + f.token, code: 303},
		{name: "token for the counts", target: "/api/state?token=" + f.token, code: 200},
		{name: "cookie", target: "/", cookie: f.cookie(), code: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", f.srv.URL+tt.target, nil)
			if tt.cookie != "" {
				req.Header.Set("Cookie", tt.cookie)
			}
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if got, want := resp.StatusCode, tt.code; got != want {
				t.Fatalf("GET %s: %d, want %d\n%s", tt.target, got, want, b)
			}
			switch tt.code {
			case 403:
				if strings.Contains(string(b), "model of") || strings.Contains(string(b), "report-data") {
					t.Errorf("a refused request got content: %q", b)
				}
				if !strings.Contains(string(b), "needs its token") {
					t.Errorf("refusal %q does not say why", b)
				}
			case 303:
				if got, want := resp.Header.Get("Location"), "/"; got != want {
					t.Errorf("Location=%q, want %q", got, want)
				}
				c := resp.Cookies()
				if len(c) != 1 || !c[0].HttpOnly || c[0].SameSite != http.SameSiteStrictMode {
					t.Errorf("cookies %v, want one HttpOnly SameSite=Strict", c)
				}
			}
		})
	}
}

// TestServeReadOnly: only GET and HEAD are answered.
func TestServeReadOnly(t *testing.T) {
	f := newServeFixture(t, time.Second)
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND"} {
		for _, p := range []string{"/", "/api/state", "/store/" + f.run.Artifacts[0].Path} {
			resp, _ := f.get(t, m, p, true)
			if got, want := resp.StatusCode, 405; got != want {
				t.Errorf("%s %s: %d, want %d", m, p, got, want)
			}
			if got, want := resp.Header.Get("Allow"), "GET, HEAD"; got != want {
				t.Errorf("%s %s: Allow=%q, want %q", m, p, got, want)
			}
		}
	}
	if resp, body := f.get(t, "HEAD", "/", true); resp.StatusCode != 200 || body != "" {
		t.Errorf("HEAD /: %d %q, want 200 and no body", resp.StatusCode, body)
	}
}

// TestServeConfinement: only regular files under artifacts/ of the store
// are served, through no symlink; the victim tree the symlinks point at
// never shows in a response, and is left as it was.
func TestServeConfinement(t *testing.T) {
	f := newServeFixture(t, time.Second)
	run := f.run.RunID
	victim := filepath.Base(f.victim)
	good := "/store/" + f.run.Artifacts[0].Path
	if code, body := f.raw(t, good); code != 200 || !strings.HasPrefix(body, "model of x=") {
		t.Fatalf("GET %s: %d %q, want the artifact", good, code, body)
	}
	for _, target := range []string{
		"/store/artifacts/" + run + "/link.txt",
		"/store/artifacts/" + run + "/linkdir/secret.txt",
		"/store/artifacts/" + run + "/up.txt",
		"/store/artifacts/ffffffffffffff/secret.txt",
		"/store/artifacts/" + run + "/../../../" + victim + "/secret.txt",
		"/store/artifacts/" + run + "/%2e%2e/%2e%2e/%2e%2e/" + victim + "/secret.txt",
		"/store/artifacts/" + run + "/..%2f..%2f..%2f" + victim + "%2fsecret.txt",
		"/store/artifacts/%2e%2e%2f%2e%2e%2f" + victim + "%2fsecret.txt",
		"/store/" + f.victim + "/secret.txt",
		"/store/artifacts/" + run + "/" + f.victim + "/secret.txt",
		"/store/artifacts/" + run + "//" + f.victim + "/secret.txt",
		"//" + f.victim + "/secret.txt",
		f.victim + "/secret.txt",
		"/store/artifacts/" + run + "/%00",
		"/store/artifacts/" + run + "/..\\..\\..\\" + victim + "\\secret.txt",
		"/api/logs/..%2f..%2f" + victim,
		"/api/logs/" + run + "%2f..%2f..",
		// Inside the store, but not an artifact; and directories.
		"/store/metalab.json",
		"/store/segments/",
		"/store/artifacts/",
		"/store/artifacts/" + run,
		"/store/artifacts/" + run + "/",
		"/store/artifacts/" + run + "/linkdir/",
		"/store/",
	} {
		code, body := f.raw(t, target)
		t.Logf("%s -> %d %.80q", target, code, body)
		if code == 200 || strings.Contains(body, serveSecret) {
			t.Errorf("GET %s: %d %q, want it refused", target, code, body)
		}
		if strings.Contains(body, run+"/model.txt") || strings.Contains(body, "<a href") {
			t.Errorf("GET %s lists a directory: %q", target, body)
		}
	}
	b, err := os.ReadFile(filepath.Join(f.victim, "secret.txt"))
	if err != nil || string(b) != serveSecret {
		t.Errorf("the victim changed: %q %v", b, err)
	}
	entries, _ := os.ReadDir(f.victim)
	if len(entries) != 1 {
		t.Errorf("the victim tree holds %d entries, want 1", len(entries))
	}
}

// TestServeArtifactSandboxed: an artifact is sent with a sandboxing CSP,
// so that a run's HTML cannot script the page's origin.
func TestServeArtifactSandboxed(t *testing.T) {
	f := newServeFixture(t, time.Second)
	resp, body := f.get(t, "GET", "/store/"+f.run.Artifacts[0].Path, true)
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "model of") {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "sandbox") {
		t.Errorf("artifact CSP %q, want sandbox", csp)
	}
	if got, want := resp.Header.Get("X-Content-Type-Options"), "nosniff"; got != want {
		t.Errorf("X-Content-Type-Options=%q, want %q", got, want)
	}
}

// TestServeStateAndLogs: the counts are status's, a run's log is what
// logs prints, an unknown run is 404, and the page links artifacts to the
// server.
func TestServeStateAndLogs(t *testing.T) {
	f := newServeFixture(t, time.Second)
	resp, body := f.get(t, "GET", "/api/state", true)
	if resp.StatusCode != 200 {
		t.Fatalf("state: %d %s", resp.StatusCode, body)
	}
	var st serve.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if got, want := [3]int{st.Total, st.Completed, st.Failed}, [3]int{6, 4, 2}; got != want {
		t.Errorf("state total, completed, failed = %v, want %v", got, want)
	}

	var want bytes.Buffer
	app := &App{Name: "metalab", Stdout: &want, Stderr: io.Discard}
	if err := app.runLogs(context.Background(), logsOptions{Store: f.dir, RunID: f.run.RunID}, &want); err != nil {
		t.Fatal(err)
	}
	resp, body = f.get(t, "GET", "/api/logs/"+f.run.RunID, true)
	if resp.StatusCode != 200 || body != want.String() || !strings.Contains(body, "hello from x=") {
		t.Errorf("log: %d %q, want %q", resp.StatusCode, body, want.String())
	}
	if resp, body := f.get(t, "GET", "/api/logs/0123456789abcdef", true); resp.StatusCode != 404 || !strings.Contains(body, "no run") {
		t.Errorf("log of no run: %d %q, want 404", resp.StatusCode, body)
	}

	resp, body = f.get(t, "GET", "/", true)
	if resp.StatusCode != 200 || !strings.Contains(body, `id="live-config"`) {
		t.Fatalf("page: %d", resp.StatusCode)
	}
	if !strings.Contains(body, `"href":"store/`+f.run.Artifacts[0].Path+`"`) {
		t.Errorf("the page does not link %s to the server", f.run.Artifacts[0].Path)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("page CSP %q", csp)
	}
}

// TestServeShared: however many clients ask at once, the store is read
// once per refresh interval.
func TestServeShared(t *testing.T) {
	f := newServeFixture(t, time.Hour)
	cookie := f.cookie()
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for _, p := range []string{"/api/state", "/", "/api/data"} {
				req, _ := http.NewRequest("GET", f.srv.URL+p, nil)
				req.Header.Set("Cookie", cookie)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("GET %s: %d", p, resp.StatusCode)
				}
			}
		})
	}
	wg.Wait()
	if got, want := [2]int32{f.src.status.Load(), f.src.data.Load()}, [2]int32{1, 1}; got != want {
		t.Errorf("16 clients made %d status and %d data reads, want %v", got[0], got[1], want)
	}
}

// TestRunServe starts the command: it prints the URL with its token and
// the ssh line, answers, and ends cleanly when its context ends (as on
// SIGINT).
func TestRunServe(t *testing.T) {
	dir := localSweep(t, serveExp(), 6)
	app, stderr := testApp(serveExp(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- app.runServe(ctx, serveOptions{Store: dir, Listen: "127.0.0.1:0", Refresh: time.Second, started: func(u string) { urls <- u }}, &out)
	}()
	var page string
	select {
	case page = <-urls:
	case err := <-done:
		t.Fatalf("runServe()=%v\n%s", err, stderr)
	}
	jar, _ := cookiejar.New(nil)
	resp, err := (&http.Client{Jar: jar}).Get(page) // as a browser: the redirect, with the cookie
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "metalab report: srv@1") {
		t.Errorf("GET %s: %d", page, resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("runServe()=%v after its context ended, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("runServe did not stop")
	}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(strings.Split(page, "/?")[0], "http://"))
	for _, want := range []string{page, "ssh -N -L " + port + ":127.0.0.1:" + port + " ", "stopped serving"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(page, "http://127.0.0.1:") || !strings.Contains(page, "?token=") {
		t.Errorf("URL %q, want one on 127.0.0.1 with a token", page)
	}
}

// TestServeSchedulerCalls: the page's counts ask squeue no more often
// than `status --watch` does (10 s, longer while nothing changes),
// however many clients ask and however often.
func TestServeSchedulerCalls(t *testing.T) {
	exp := sweepExp("st", 5)
	dir := localSweep(t, exp, 10)
	recordRecordedSubmission(t, dir, "st")
	sched := newStubScheduler(t, map[string]string{"squeue": withStoreID(t, dir, queueOf(t))})
	now := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	token := serve.NewToken()
	h, err := serve.New(serve.Options{Store: dir, Token: token, Refresh: time.Second, Now: clock,
		Source: &serveSource{dir: dir, prog: "metalab", client: sched.Client}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	srv := httptest.NewServer(h)
	defer srv.Close()
	f := &serveFixture{srv: srv, token: token}
	ask := func() serve.Status {
		t.Helper()
		var st serve.Status
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				resp, body := f.get(t, "GET", "/api/state", true)
				if resp.StatusCode != 200 {
					t.Errorf("state: %d %s", resp.StatusCode, body)
					return
				}
				mu.Lock()
				json.Unmarshal([]byte(body), &st)
				mu.Unlock()
			})
		}
		wg.Wait()
		return st
	}
	for _, step := range []struct {
		after time.Duration // since the previous step
		calls int           // squeue calls so far
	}{
		{0, 1},
		{5 * time.Second, 1},
		{6 * time.Second, 2},  // 11 s: past the first 10 s
		{10 * time.Second, 2}, // 21 s: nothing changed, so 15 s after the second
		{5 * time.Second, 3},  // 26 s
		{1 * time.Second, 3},
	} {
		mu.Lock()
		now = now.Add(step.after)
		mu.Unlock()
		st := ask()
		if got, want := len(sched.calls(t, "squeue")), step.calls; got != want {
			t.Fatalf("at %s: %d squeue calls, want %d", now.Format(time.TimeOnly), got, want)
		}
		if len(st.Notes) == 0 || !strings.Contains(strings.Join(st.Notes, "\n"), "scheduler: ") {
			t.Errorf("notes %q, want the scheduler's line", st.Notes)
		}
	}
}
