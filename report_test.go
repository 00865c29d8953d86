package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/metalab-hpc/metalab/expfile"
	"github.com/metalab-hpc/metalab/internal/browser"
	"github.com/metalab-hpc/metalab/launcher"
)

var update = flag.Bool("update", false, "rewrite docs/report-pi.png, the README's screenshot of the report")

// reportSweep is a sweep of a shell command over lr (4 values over three
// decades) and batch (2), 3 replicates: a metric, a series of 10 steps and
// an artifact per run; the run lr=0.1, batch=32, replicate 0 fails after
// writing to stderr.
const reportSweep = `name = "fit"
version = "1"
command = ["sh", "op.sh"]

[params.grid]
lr = [0.0001, 0.001, 0.01, 0.1]
batch = [16, 32]

[seeds]
base = 7
replicates = 3
`

const reportOp = `set -eu
if [ "$METALAB_PARAM_LR" = "0.1" ] && [ "$METALAB_PARAM_BATCH" = "32" ] && [ "$METALAB_REPLICATE" = "0" ]; then
  echo "step 6: loss 4.1e+07" >&2
  echo "diverged: loss is NaN at step 7" >&2
  exit 3
fi
awk -v lr="$METALAB_PARAM_LR" -v b="$METALAB_PARAM_BATCH" -v r="$METALAB_REPLICATE" 'BEGIN {
  printf "{\"metric\": \"loss\", \"value\": %.6f}\n", 1 / (lr * 1000 + 1) + b / 1000 + r * 0.01
  for (s = 0; s < 10; s++) printf "{\"metric\": \"train_loss\", \"value\": %.6f, \"step\": %d}\n", 2 / (s + 1) + lr + r * 0.01, s
}' >> "$METALAB_CAPTURE"
echo "model of $METALAB_RUN_ID" > "$METALAB_SCRATCH/model.txt"
echo "{\"artifact\": \"model\", \"path\": \"$METALAB_SCRATCH/model.txt\"}" >> "$METALAB_CAPTURE"
`

// metalab runs the command line in-process and fails the test on a
// non-zero exit.
func metalab(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	a := &launcher.App{Name: "metalab", LoadFile: expfile.Load, Stdout: &out, Stderr: &errOut}
	if code := a.Run(context.Background(), append([]string{"metalab"}, args...)); code != 0 {
		t.Fatalf("metalab %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
	}
	return out.String() + errOut.String()
}

// TestReportInBrowser opens the report of a sweep with a failed run in
// headless Chromium: the charts draw the expected points and groups, the
// numbers are those of summary, the table filters and shows the error and
// log tail, artifacts are linked, no script error, no request but the file.
func TestReportInBrowser(t *testing.T) {
	page := browser.New(t)
	work := t.TempDir()
	for name, text := range map[string]string{"fit.toml": reportSweep, "op.sh": reportOp} {
		if err := os.WriteFile(filepath.Join(work, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	storeDir := filepath.Join(work, "store")
	var out, errOut bytes.Buffer
	a := &launcher.App{Name: "metalab", LoadFile: expfile.Load, Stdout: &out, Stderr: &errOut}
	if code := a.Run(context.Background(), []string{"metalab", "run", filepath.Join(work, "fit.toml"), "--store", storeDir, "--progress", "quiet", "--no-table"}); code != launcher.ExitRunsFailed {
		t.Fatalf("run: exit %d, want %d (one run fails)\n%s%s", code, launcher.ExitRunsFailed, out.String(), errOut.String())
	}
	html := filepath.Join(work, "report.html")
	metalab(t, "report", "--store", storeDir, "-o", html)
	if _, err := page.Open("file://"+html, 30*time.Second); err != nil {
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
	count := func(sel string) int {
		t.Helper()
		return int(eval(fmt.Sprintf("document.querySelectorAll(%q).length", sel)).(float64))
	}
	choose := func(sel, value string) {
		t.Helper()
		eval(fmt.Sprintf(`(() => { const s = document.querySelector(%q); s.value = %q; s.dispatchEvent(new Event("change")); return s.value })()`, sel, value))
	}

	// Metric vs param: lr on a log axis, grouped by batch: 2 lines of 4
	// points, each with the mean of summary --group-by lr,batch.
	choose(`#mvp-controls select[data-control="param"]`, "lr")
	choose(`#mvp-controls select[data-control="group by"]`, "batch")
	if got, want := count("#mvp g.series"), 2; got != want {
		t.Errorf("metric vs param: %d groups, want %d", got, want)
	}
	if got, want := count("#mvp circle.pt"), 8; got != want {
		t.Errorf("metric vs param: %d points, want %d", got, want)
	}
	if got := eval(`document.querySelector('#mvp-controls input[data-control="log x"]').checked`); got != true {
		t.Errorf("lr spans three decades, but log x is %v", got)
	}
	var summary bytes.Buffer
	sa := &launcher.App{Name: "metalab", Stdout: &summary, Stderr: &summary}
	if code := sa.Run(context.Background(), []string{"metalab", "summary", "--store", storeDir, "--group-by", "lr,batch", "--json"}); code != 0 {
		t.Fatalf("summary: exit %d\n%s", code, summary.String())
	}
	titles := eval(`Array.from(document.querySelectorAll("#mvp circle.pt title")).map(t => t.textContent).join("\n")`).(string)
	for _, want := range []struct {
		lr, batch string
		n         int
	}{{"0.1", "32", 2}, {"0.001", "16", 3}} {
		re := regexp.MustCompile(`batch=` + regexp.QuoteMeta(want.batch) + `, lr=` + regexp.QuoteMeta(want.lr) + `: mean ([-0-9.e]+), 95% CI \[([-0-9.e]+), ([-0-9.e]+)\], n=(\d+)`)
		m := re.FindStringSubmatch(titles)
		if m == nil {
			t.Fatalf("no point lr=%s batch=%s among:\n%s", want.lr, want.batch, titles)
		}
		if n, _ := strconv.Atoi(m[4]); n != want.n {
			t.Errorf("lr=%s batch=%s: n=%d, want %d", want.lr, want.batch, n, want.n)
		}
		mean, _ := strconv.ParseFloat(m[1], 64)
		wantMean := summaryMean(t, summary.String(), want.lr, want.batch)
		if math.Abs(mean-wantMean) > 1e-4*math.Abs(wantMean) {
			t.Errorf("lr=%s batch=%s: page mean %v, summary %v", want.lr, want.batch, mean, wantMean)
		}
	}

	// Series: one curve, two when grouped by batch.
	if got, want := count("#series-chart path.line"), 1; got != want {
		t.Errorf("series: %d curves, want %d", got, want)
	}
	choose(`#series-controls select[data-control="group by"]`, "batch")
	if got, want := count("#series-chart path.line"), 2; got != want {
		t.Errorf("series by batch: %d curves, want %d", got, want)
	}

	// Parallel coordinates: a line per completed run; importance: a bar per param.
	if got, want := count("#pc path.pc"), 23; got != want {
		t.Errorf("parallel coordinates: %d lines, want %d", got, want)
	}
	if got, want := count("#importance-table tr"), 2; got != want {
		t.Errorf("importance: %d params, want %d", got, want)
	}
	if got := count("#ended-chart rect"); got == 0 {
		t.Errorf("timings: no bar of runs ended")
	}

	// The table: 24 rows in pages of 50; filtered to the failed run, whose
	// error shows in its row and whose log tail shows when it is opened.
	if got, want := count("#runs-table tbody tr.run"), 24; got != want {
		t.Errorf("table: %d rows, want %d", got, want)
	}
	choose(`#table-filters select[data-filter="status"]`, "failed")
	if got, want := count("#runs-table tbody tr.run"), 1; got != want {
		t.Fatalf("table filtered to failed runs: %d rows, want %d", got, want)
	}
	if got := eval(`document.querySelector("#runs-table tbody td.err").textContent`).(string); !strings.Contains(got, "3") {
		t.Errorf("the failed run's error cell says %q, want its exit status", got)
	}
	eval(`document.querySelector("#runs-table tbody tr.run").click()`)
	if got := eval(`document.querySelector("#runs-table tr.detail pre.tail").textContent`).(string); !strings.Contains(got, "diverged: loss is NaN at step 7") {
		t.Errorf("the failed run's log tail is %q", got)
	}
	choose(`#table-filters select[data-filter="status"]`, "")
	choose(`#table-filters select[data-filter="lr"]`, "0.01")
	if got, want := count("#runs-table tbody tr.run"), 6; got != want {
		t.Errorf("table filtered to lr=0.01: %d rows, want %d", got, want)
	}

	// Artifacts: linked relative to the report, to the file in the store.
	eval(`document.querySelector("#runs-table tbody tr.run").click()`)
	href := eval(`document.querySelector("#runs-table tr.detail a").getAttribute("href")`).(string)
	if !strings.HasPrefix(href, "store/artifacts/") {
		t.Errorf("artifact link %q, want one under store/artifacts/", href)
	} else if p, err := url.PathUnescape(href); err != nil {
		t.Error(err)
	} else if b, err := os.ReadFile(filepath.Join(work, filepath.FromSlash(p))); err != nil || !strings.HasPrefix(string(b), "model of ") {
		t.Errorf("artifact link %q: %v %q", href, err, b)
	}

	if errs := page.Errors(); len(errs) > 0 {
		t.Errorf("the page logged errors:\n%s", strings.Join(errs, "\n"))
	}
	for _, u := range page.Requests() {
		if u != "file://"+html {
			t.Errorf("the page requested %s; it may load nothing but itself", u)
		}
	}
}

// summaryMean is the mean of loss for lr and batch in summary's JSON.
func summaryMean(t *testing.T, js, lr, batch string) float64 {
	t.Helper()
	var stats []struct {
		Group  map[string]any `json:"group"`
		Metric *string        `json:"metric"`
		Mean   *float64       `json:"mean"`
	}
	if err := json.Unmarshal([]byte(js), &stats); err != nil {
		t.Fatalf("summary --json: %v\n%s", err, js)
	}
	for _, s := range stats {
		if s.Metric != nil && *s.Metric == "loss" && fmt.Sprint(s.Group["lr"]) == lr && fmt.Sprint(s.Group["batch"]) == batch {
			return *s.Mean
		}
	}
	t.Fatalf("summary has no loss for lr=%s batch=%s", lr, batch)
	return 0
}

// TestReportScreenshot makes the report of examples/pi in the browser; with
// -update it writes the README's screenshot, docs/report-pi.png.
func TestReportScreenshot(t *testing.T) {
	page := browser.NewSize(t, 1200, 1500)
	work := t.TempDir()
	for _, dir := range []string{"examples", "python"} { // pi.py imports python/metalab_capture.py
		if err := copyDir(dir, filepath.Join(work, dir)); err != nil {
			t.Fatal(err)
		}
	}
	repo, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PYTHONDONTWRITEBYTECODE", "1")
	t.Chdir(work) // the page names the store as the README's commands do
	metalab(t, "run", "examples/pi/pi.toml", "--store", "runs/pi", "--progress", "quiet", "--no-table")
	metalab(t, "report", "--store", "runs/pi", "-o", "report.html")
	if _, err := page.Open("file://"+filepath.Join(work, "report.html"), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if dump := os.Getenv("METALAB_REPORT_FULL_PNG"); dump != "" {
		if full, err := page.Screenshot(true); err == nil {
			os.WriteFile(dump, full, 0o644)
		}
	}
	png, err := page.Screenshot(false)
	if err != nil {
		t.Fatal(err)
	}
	if errs := page.Errors(); len(errs) > 0 {
		t.Errorf("the page logged errors:\n%s", strings.Join(errs, "\n"))
	}
	if got, want := len(png) > 8 && string(png[1:4]) == "PNG", true; got != want {
		t.Fatalf("screenshot is not a PNG (%d bytes)", len(png))
	}
	path := filepath.Join(repo, "docs", "report-pi.png")
	if *update {
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("%v (go test -run TestReportScreenshot -update writes it)", err)
	}
}
