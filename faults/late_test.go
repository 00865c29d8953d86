package faults

import (
	"errors"
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

// lateOp leaves a daemon behind (setsid, so it leaves the run's process
// group) that writes a metric and an artifact after the run has ended (it
// waits for the run's process to be gone, then 0.3 s); in
// mode "noenv" the daemon also clears its environment, so that metalab
// cannot tell which run it came from. It notes the daemon's PID in
// $PIDS_DIR/<run ID>.
const lateOp = `#!/bin/sh
echo '{"metric": "y", "value": 1}' >> "$METALAB_CAPTURE"
late='while kill -0 "$3" 2>/dev/null; do sleep 0.05; done; sleep 0.3; echo "{\"metric\": \"late\", \"value\": 1}" >> "$1"; echo late > "$2/late.txt"'
if [ "$METALAB_PARAM_MODE" = noenv ]; then
  env -i setsid sh -c "$late" x "$METALAB_CAPTURE" "$METALAB_ARTIFACT_DIR" $$ </dev/null >/dev/null 2>&1 &
else
  setsid sh -c "$late" x "$METALAB_CAPTURE" "$METALAB_ARTIFACT_DIR" $$ </dev/null >/dev/null 2>&1 &
fi
echo $! > "$PIDS_DIR/$METALAB_RUN_ID"
sleep 0.2
`

// TestLateWritersNotCredited runs, one after the other in one slot,
// operations whose daemons write a metric and an artifact after their run
// ended: no record may hold them, and every daemon that kept its
// environment is dead when its run's record is written.
func TestLateWritersNotCredited(t *testing.T) {
	bin := buildMetalab(t)
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	os.Mkdir(pids, 0o755)
	tmp := filepath.Join(dir, "tmp")
	os.Mkdir(tmp, 0o755)
	toml := `name = "late"
version = "1"
command = ["sh", "op.sh"]

[params.grid]
mode = ["tagged", "noenv"]

[seeds]
replicates = 5
`
	cmd, exp, st := sweepCmd(t, bin, dir, "late", lateOp, toml, 1, "TMPDIR="+tmp, "PIDS_DIR="+pids)
	out, err := combined(cmd)
	if err != nil {
		t.Fatalf("metalab run: %v\n%s", err, out)
	}
	// The sweep is over; the daemons that metalab could not find (noenv)
	// may still be waiting: give them the time to try to write.
	time.Sleep(time.Second)

	recs := winners(t, exp, st, "mode")
	credited := 0
	for _, rs := range recs {
		for _, r := range rs {
			if _, ok := r.Metrics["late"]; ok {
				credited++
				t.Errorf("run %s holds a metric written after its own or another run ended: %v", r.RunID, r.Metrics)
			}
			for _, a := range r.Artifacts {
				if a.Name == "late.txt" {
					credited++
					t.Errorf("run %s holds an artifact written late: %v", r.RunID, a)
				}
			}
			if r.Status != store.StatusCompleted || r.Metrics["y"] != 1 {
				t.Errorf("run %s: %s %v, want completed with y=1", r.RunID, r.Status, r.Metrics)
			}
		}
	}
	// Daemons that kept the run's tag were killed with their run: they
	// never wrote. Those that cleared their environment are out of
	// metalab's reach, and wrote into names no run reads.
	killed, escaped := 0, 0
	for _, rs := range recs {
		for _, r := range rs {
			b, err := os.ReadFile(filepath.Join(pids, r.RunID))
			if err != nil {
				t.Fatal(err)
			}
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			mode := "tagged"
			if _, ok := recs["noenv"]; ok && contains(recs["noenv"], r.RunID) {
				mode = "noenv"
			}
			switch {
			case mode == "tagged" && alive(pid):
				t.Errorf("run %s: its daemon %d is alive after its run ended", r.RunID, pid)
				syscall.Kill(pid, syscall.SIGKILL)
			case mode == "tagged":
				killed++
			default:
				escaped++
			}
		}
	}
	if left := leftovers(t, tmp); len(left) > 0 {
		t.Errorf("left in $TMPDIR: %v", left)
	}
	figures(t, "runs=%d daemons_killed_with_their_run=%d daemons_out_of_reach=%d late_writes_credited=%d",
		killed+escaped, killed, escaped, credited)
}

func contains(rs []*store.Record, id string) bool {
	for _, r := range rs {
		if r.RunID == id {
			return true
		}
	}
	return false
}

// latePersistentOp is a persistent operation (a shell loop) whose runs
// leave a background job that writes a capture line to the channel after
// the run's done line, tagged with its run as the Python helper tags
// lines: odd runs leave the job and end at once, even runs take long
// enough for the late line of the run before to arrive while they run.
const latePersistentOp = `#!/bin/sh
n=0
while read -r req; do
  id=$(printf '%s' "$req" | sed 's/.*"run_id":"\([0-9a-f]*\)".*/\1/')
  n=$((n+1))
  printf '{"metric": "y", "value": %d, "run": "%s"}\n' "$n" "$id" >&3
  if [ $((n % 2)) = 1 ]; then
    ( sleep 0.2; printf '{"metric": "late", "value": 1, "run": "%s"}\n' "$id" >&3 ) &
  else
    sleep 0.5
  fi
  printf '{"done": "%s"}\n' "$id" >&3
done
`

// TestPersistentLateLinesRejected: capture lines that a persistent
// process's background job writes after its run's done line are rejected,
// with a warning that names the run that wrote them, never credited.
func TestPersistentLateLinesRejected(t *testing.T) {
	bin := buildMetalab(t)
	dir := t.TempDir()
	toml := `name = "latep"
version = "1"
command = ["sh", "op.sh"]
mode = "persistent"

[params.grid]
i = [1, 2, 3, 4, 5, 6]
`
	cmd, exp, st := sweepCmd(t, bin, dir, "latep", latePersistentOp, toml, 1, "TMPDIR="+dir)
	out, err := combined(cmd)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("metalab run: %v\n%s", err, out)
	}
	recs := winners(t, exp, st, "i")
	credited, warned := 0, 0
	for _, rs := range recs {
		r := rs[0]
		if _, ok := r.Metrics["late"]; ok {
			credited++
			t.Errorf("run %s was credited a late line: %v", r.RunID, r.Metrics)
		}
		if r.Status != store.StatusCompleted {
			t.Errorf("run %s: %s %s", r.RunID, r.Status, r.Error)
		}
		for _, w := range r.Warnings {
			if strings.Contains(w, "wrote after it had ended") {
				warned++
			}
		}
	}
	if warned == 0 {
		t.Errorf("no run's record warns of the rejected late lines:\n%s", out)
	}
	if !strings.Contains(out, "late_run_id") {
		t.Errorf("the sweep's log does not name the run that wrote late:\n%s", out)
	}
	figures(t, "runs=%d late_lines_credited=%d records_warning_of_late_lines=%d", len(recs), credited, warned)
}

// floodCaptureOp writes one capture line of 300 MB (mode "line"), or 100
// lines of 1 MB (mode "lines"), between two good metrics.
const floodCaptureOp = `#!/bin/sh
cap="$METALAB_CAPTURE"
echo '{"metric": "before", "value": 1}' >> "$cap"
case "$METALAB_PARAM_MODE" in
line)  { printf '{"log": "'; head -c 300000000 /dev/zero | tr '\0' a; echo '"}'; } >> "$cap" ;;
lines) i=0; while [ $i -lt 100 ]; do { printf '{"log": "'; head -c 1000000 /dev/zero | tr '\0' b; echo '"}'; } >> "$cap"; i=$((i+1)); done ;;
esac
echo '{"metric": "after", "value": 1}' >> "$cap"
`

// TestCaptureMemoryBounded: a run that writes a 300 MB capture line, or
// more capture lines than max_capture_size, fails with a message that says
// so, and metalab's peak memory does not grow with what the run wrote.
func TestCaptureMemoryBounded(t *testing.T) {
	bin := buildMetalab(t)
	dir := t.TempDir()
	toml := `name = "flood"
version = "1"
command = ["sh", "op.sh"]
max_capture_size = "20MiB"

[params.grid]
mode = ["line", "lines"]
`
	cmd, exp, st := sweepCmd(t, bin, dir, "flood", floodCaptureOp, toml, 1, "TMPDIR="+dir)
	out, peakMB, err := combinedPeak(cmd)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("want exit 1 (runs failed), got %v:\n%s", err, out)
	}
	recs := winners(t, exp, st, "mode")
	want := map[string]string{
		"line":  "capture line 2: capture line too long: 300000012 bytes, the limit is 16 MiB (max_capture_line); skipped",
		"lines": "the run's capture lines exceed the limit of 20 MiB (max_capture_size)",
	}
	for mode, sub := range want {
		r := recs[mode][0]
		if r.Status != store.StatusFailed || !strings.Contains(r.Error, sub) {
			t.Errorf("%s: %s %q, want failed with %q", mode, r.Status, r.Error, sub)
		}
		if r.Metrics["before"] != 1 {
			t.Errorf("%s: metrics %v, want the line before the flood kept", mode, r.Metrics)
		}
	}
	if r := recs["line"][0]; r.Metrics["after"] != 1 {
		t.Errorf("line: metrics %v, want the line after the long one kept", r.Metrics)
	}
	// Bounded by the limits (a 16 MiB line buffer, 20 MiB of lines kept,
	// encoded into a record and buffered for the segment, and the
	// collector's headroom), far below the 300 MB the run wrote.
	if peakMB <= 0 || peakMB > 200 {
		t.Errorf("metalab's peak RSS was %d MiB after a 300 MB capture line; want it bounded by the limits (<200 MiB)", peakMB)
	}
	figures(t, "capture_line_bytes=300000012 metalab_peak_rss_mb=%d max_capture_line=16MiB max_capture_size=20MiB", peakMB)
}
