package faults

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// crashOp is the operation of the crash sweep: it notes each execution in
// $EXEC_LOG, leaves an artifact naming its run, and reports y = 3x +
// replicate.
const crashOp = `#!/bin/sh
set -eu
echo "$METALAB_RUN_ID" >> "$EXEC_LOG"
echo "$METALAB_RUN_ID" > "$METALAB_ARTIFACT_DIR/id.txt"
echo "{\"metric\": \"y\", \"value\": $((METALAB_PARAM_X * 3 + METALAB_REPLICATE))}" >> "$METALAB_CAPTURE"
`

// TestCrashResume kills `metalab run` with SIGKILL at random moments of one
// sweep, at least 40 times, resuming after each; then runs it to the end.
// Every run must have exactly one completed record with its own result and
// artifact, torn lines must be skipped, and no scratch directory or
// temporary file may be left.
func TestCrashResume(t *testing.T) {
	bin := buildMetalab(t)
	const (
		points, replicates = 2000, 4
		wantKills          = 40
	)
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp") // the runs' $TMPDIR: scratch directories
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	exp := writeExperiment(t, dir, "crash", crashOp, points, replicates, "")
	st := filepath.Join(dir, "store")
	execLog := filepath.Join(dir, "exec.log")
	env := append(os.Environ(), "TMPDIR="+tmp, "EXEC_LOG="+execLog)
	runCmd := func() *exec.Cmd {
		cmd := exec.Command(bin, "run", exp, "--store", st, "--progress", "quiet", "--no-table", "--workers", "4")
		cmd.Env = env
		return cmd
	}

	rng := rand.New(rand.NewPCG(5, 40))
	kills, finished := 0, false
	for attempt := 0; kills < wantKills && attempt < 10*wantKills; attempt++ {
		cmd := runCmd()
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		// Early kills land in the start-up (Collect, opening the
		// indexes), later ones in the middle of runs and commits.
		delay := time.Duration(20+rng.IntN(280)) * time.Millisecond
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run %d ended by itself with %v:\n%s", attempt, err, out.String())
			}
			finished = true
		case <-time.After(delay):
			cmd.Process.Signal(syscall.SIGKILL)
			if err := <-done; err == nil {
				finished = true // it ended just before the signal
			} else {
				kills++
			}
		}
		if finished {
			break
		}
	}
	if kills < wantKills {
		t.Fatalf("only %d kills before the sweep ended; make it longer", kills)
	}

	// Resume to the end, then once more: nothing is left to run.
	if out, err := combined(runCmd()); err != nil {
		t.Fatalf("resume after %d kills: %v\n%s", kills, err, out)
	}
	out, err := combined(exec.Command(bin, "run", exp, "--store", st, "--progress", "quiet", "--no-table"))
	if err != nil || !strings.Contains(out, "nothing to run") {
		t.Errorf("second resume (want nothing to run): %v\n%s", err, out)
	}

	want := planIDs(t, exp)
	sc := scanSegments(t, st)
	v := check(t, st, want, sc, "id.txt")
	execs := 0
	if b, err := os.ReadFile(execLog); err == nil {
		execs = strings.Count(string(b), "\n")
	}
	left := leftovers(t, st, tmp)
	figures(t, "kills=%d runs=%d lost=%d duplicated=%d wrong=%d torn_ignored=%d reexecuted=%d leftovers=%d",
		kills, len(want), v.lost, v.duplicated, v.wrong, len(sc.torn), execs-len(want), len(left))
	for _, e := range v.examples {
		t.Error(e)
	}
	if len(left) > 0 {
		t.Errorf("temporary files left behind: %d:\n%s", len(left), strings.Join(left, "\n"))
	}
	if !finished && kills == 0 {
		t.Error("no kill")
	}
}
