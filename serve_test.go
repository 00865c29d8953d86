package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/metalab-hpc/metalab/expfile"
	"github.com/metalab-hpc/metalab/internal/browser"
	"github.com/metalab-hpc/metalab/launcher"
	"github.com/metalab-hpc/metalab/store"
)

// slowSweep is 40 runs of a command that sleeps a little and writes a line
// to stderr, one at a time: a sweep that lasts long enough to be watched.
const slowSweep = `name = "slow"
version = "1"
command = ["sh", "-c", "sleep 0.3; echo \"log line of $METALAB_RUN_ID\" >&2; echo \"{\\\"metric\\\": \\\"y\\\", \\\"value\\\": $METALAB_PARAM_X}\" >> \"$METALAB_CAPTURE\""]

[params.grid]
x = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]

[seeds]
base = 1
replicates = 2
`

// syncBuffer is a buffer that a command writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeInBrowser opens `metalab serve`'s page in headless Chromium
// while `metalab run` writes the store: the completed count changes by
// itself, the charts redraw with the newer runs on request, clicking a run
// shows its log; no script error, no request but to the server.
func TestServeInBrowser(t *testing.T) {
	page := browser.New(t)
	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "slow.toml"), []byte(slowSweep), 0o644); err != nil {
		t.Fatal(err)
	}
	storeDir := filepath.Join(work, "store")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var runOut syncBuffer
	runDone := make(chan int, 1)
	go func() {
		a := &launcher.App{Name: "metalab", LoadFile: expfile.Load, Stdout: &runOut, Stderr: &runOut}
		runDone <- a.Run(ctx, []string{"metalab", "run", filepath.Join(work, "slow.toml"), "--store", storeDir, "--workers", "1", "--progress", "quiet", "--no-table"})
	}()
	// serve needs a store: wait for the run to make it and record a run.
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := store.OpenExisting(storeDir)
		if err == nil {
			st.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sweep made no store in 30 s: %v\n%s", err, runOut.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	var serveOut syncBuffer
	serveDone := make(chan int, 1)
	go func() {
		a := &launcher.App{Name: "metalab", Stdout: &serveOut, Stderr: &serveOut}
		serveDone <- a.Run(ctx, []string{"metalab", "serve", "--store", storeDir, "--refresh", "1s"})
	}()
	urlRE := regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+/\?token=[0-9a-f]+`)
	var url string
	for url == "" {
		url = urlRE.FindString(serveOut.String())
		select {
		case code := <-serveDone:
			t.Fatalf("serve: exit %d\n%s", code, serveOut.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	origin := url[:strings.Index(url, "/?")+1]

	if _, err := page.Open(url, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	eval := func(expr string) any {
		t.Helper()
		v, err := browser.Eval[any](page, expr)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}
	// waitFor polls expr until it is true.
	waitFor := func(what, expr string, timeout time.Duration) {
		t.Helper()
		end := time.Now().Add(timeout)
		for eval(expr) != true {
			if time.Now().After(end) {
				t.Fatalf("%s: not within %v (errors: %v)", what, timeout, page.Errors())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	completed := func() int {
		t.Helper()
		var n int
		fmt.Sscan(eval(`document.getElementById("live-completed").textContent`).(string), &n)
		return n
	}
	waitFor("the first counts", `document.getElementById("live-completed").textContent !== "-"`, 20*time.Second)
	first := completed()
	if first >= 40 {
		t.Fatalf("the sweep had ended (%d completed) before the page was open: make it slower", first)
	}
	waitFor("the completed count to change by itself", fmt.Sprintf(`+document.getElementById("live-completed").textContent > %d`, first), 30*time.Second)
	if got, want := eval(`document.getElementById("live-total").textContent`), "40"; got != want {
		t.Errorf("total %v, want %v", got, want)
	}

	// The charts redraw with the newer runs when asked.
	rows := func() int { return int(eval(`document.querySelectorAll("#runs-table tbody tr.run").length`).(float64)) }
	before := rows()
	waitFor("the update button", `!document.getElementById("live-update").hidden`, 20*time.Second)
	eval(`document.getElementById("live-update").click()`)
	waitFor("the table to grow", fmt.Sprintf(`document.querySelectorAll("#runs-table tbody tr.run").length > %d`, before), 20*time.Second)

	// A run's log, on click: what `metalab logs` prints.
	runID := eval(`document.querySelector("#runs-table tbody tr.run td").textContent`).(string)
	eval(`document.querySelector("#runs-table tbody tr.run").click()`)
	waitFor("the run's log", `!!document.querySelector("#runs-table tr.detail pre.log") && document.querySelector("#runs-table tr.detail pre.log").textContent !== "loading..."`, 20*time.Second)
	if got, want := eval(`document.querySelector("#runs-table tr.detail pre.log").textContent`).(string), "log line of "+runID; !strings.Contains(got, want) {
		t.Errorf("the log shown is %q, want it to contain %q", got, want)
	}

	if errs := page.Errors(); len(errs) > 0 {
		t.Errorf("the page logged errors:\n%s", strings.Join(errs, "\n"))
	}
	for _, u := range page.Requests() {
		if !strings.HasPrefix(u, origin) {
			t.Errorf("the page requested %s; it may ask nothing but %s", u, origin)
		}
	}

	cancel() // as SIGINT does
	for _, c := range []struct {
		name string
		done chan int
	}{{"serve", serveDone}, {"run", runDone}} {
		select {
		case <-c.done:
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not end after its context was cancelled", c.name)
		}
	}
	if !strings.Contains(serveOut.String(), "stopped serving") {
		t.Errorf("serve did not stop cleanly:\n%s", serveOut.String())
	}
}

// TestServeSignal: SIGINT stops `metalab serve` cleanly, exit 0, and so
// does SIGTERM.
func TestServeSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			work := t.TempDir()
			if err := os.WriteFile(filepath.Join(work, "s.toml"), []byte("name = \"s\"\ncommand = [\"true\"]\n\n[params.grid]\nx = [1, 2]\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			storeDir := filepath.Join(work, "store")
			metalab(t, "run", filepath.Join(work, "s.toml"), "--store", storeDir, "--progress", "quiet", "--no-table")
			var out syncBuffer
			done := make(chan int, 1)
			go func() {
				a := &launcher.App{Name: "metalab", Stdout: &out, Stderr: &out}
				done <- a.Run(context.Background(), []string{"metalab", "serve", "--store", storeDir})
			}()
			// Once it has printed its URL, it listens, and catches signals.
			for !strings.Contains(out.String(), "?token=") {
				select {
				case code := <-done:
					t.Fatalf("serve: exit %d\n%s", code, out.String())
				case <-time.After(20 * time.Millisecond):
				}
			}
			if err := syscall.Kill(os.Getpid(), sig); err != nil {
				t.Fatal(err)
			}
			select {
			case code := <-done:
				if code != 0 {
					t.Errorf("serve: exit %d after %v, want 0\n%s", code, sig, out.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("serve did not stop on %v", sig)
			}
			if !strings.Contains(out.String(), "stopped serving") {
				t.Errorf("serve did not say it stopped:\n%s", out.String())
			}
		})
	}
}
