package faults

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/metalab-hpc/metalab/store"
)

// hostileOp misbehaves as $METALAB_PARAM_MODE says; it notes the PIDs of
// the children it forks in $PIDS_DIR/<run ID>.
const hostileOp = `#!/bin/sh
pids="$PIDS_DIR/$METALAB_RUN_ID"
case "$METALAB_PARAM_MODE" in
hang)   exec sleep 600 ;;
fork)   sleep 600 & echo $! >> "$pids"
        sh -c 'sleep 600 & echo $! >> "$1"; sleep 600' x "$pids" & echo $! >> "$pids"
        sleep 600 ;;
daemon) sleep 600 & echo $! >> "$pids"
        exit 0 ;;
flood)  head -c 100000000 /dev/zero ;;
signal) kill -SEGV $$ ;;
esac
`

// TestHostileOperations runs operations that hang past the timeout, fork
// children and get killed, leave a background job, write 100 MB to stdout,
// and die by a signal: each must end as documented, and no process of
// theirs may outlive the sweep.
func TestHostileOperations(t *testing.T) {
	bin := buildMetalab(t)
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	if err := os.Mkdir(pids, 0o755); err != nil {
		t.Fatal(err)
	}
	toml := `name = "hostile"
version = "1"
command = ["sh", "op.sh"]
timeout = "2s"

[params.grid]
mode = ["hang", "fork", "daemon", "flood", "signal"]
`
	cmd, exp, st := sweepCmd(t, bin, dir, "hostile", hostileOp, toml, 5, "TMPDIR="+dir, "PIDS_DIR="+pids)
	start := time.Now()
	out, peakMB, err := combinedPeak(cmd)
	elapsed := time.Since(start)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("want exit 1 (some runs failed), got %v:\n%s", err, out)
	}

	// The winning record of each mode.
	recs := map[string]*store.Record{}
	for mode, rs := range winners(t, exp, st, "mode") {
		recs[mode] = rs[0]
	}
	expect := map[string]struct {
		status store.Status
		errSub string
	}{
		"hang":   {store.StatusFailed, "timed out after 2s"},
		"fork":   {store.StatusFailed, "timed out after 2s"},
		"daemon": {store.StatusCompleted, ""},
		"flood":  {store.StatusCompleted, ""},
		"signal": {store.StatusFailed, "killed by signal SIGSEGV"},
	}
	for m, want := range expect {
		r := recs[m]
		if r == nil {
			t.Errorf("%s: no record", m)
			continue
		}
		if r.Status != want.status || !strings.Contains(r.Error, want.errSub) {
			t.Errorf("%s: status %s error %q, want %s with %q", m, r.Status, r.Error, want.status, want.errSub)
		}
	}
	floodBytes := int64(-1)
	if r := recs["flood"]; r != nil && r.Stdout != nil {
		floodBytes = r.Stdout.Length
	}
	if floodBytes != 100_000_000 {
		t.Errorf("flood: the record says %d bytes of stdout, want 100000000", floodBytes)
	}
	signal := ""
	if r := recs["signal"]; r != nil {
		signal = r.Signal
	}

	// No child may outlive its run.
	forked, orphans := 0, 0
	entries, _ := os.ReadDir(pids)
	for _, en := range entries {
		b, _ := os.ReadFile(filepath.Join(pids, en.Name()))
		for _, f := range strings.Fields(string(b)) {
			pid, _ := strconv.Atoi(f)
			forked++
			if pid > 0 && alive(pid) {
				orphans++
				b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
				t.Logf("orphan %s (%s): %s", f, en.Name(), b)
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	if forked < 4 {
		t.Errorf("the operations noted %d children, want 4", forked)
	}
	if orphans > 0 {
		t.Errorf("%d of %d forked children outlived their run", orphans, forked)
	}
	if peakMB > 200 {
		t.Errorf("metalab's peak RSS was %d MiB with 100 MB of stdout; it should stream it", peakMB)
	}
	figures(t, "timeout=2s sweep_seconds=%.1f forked=%d orphans=%d flood_stdout_bytes=%d metalab_peak_rss_mb=%d signal=%s",
		elapsed.Seconds(), forked, orphans, floodBytes, peakMB, fmt.Sprint(signal))
}

// alive reports whether a process exists and is not a zombie (one that
// died but that no parent has reaped yet, which an init that does not reap
// keeps around).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}
