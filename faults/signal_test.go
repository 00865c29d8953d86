package faults

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/metalab-hpc/metalab/command"
	"github.com/metalab-hpc/metalab/store"
)

// stubbornOp ignores SIGTERM and SIGINT and hangs, after it tells the test
// it runs.
const stubbornOp = `#!/bin/sh
trap '' TERM INT
echo '{"metric": "started", "value": 1}' >> "$METALAB_CAPTURE"
touch "$MARKS/$METALAB_RUN_ID"
sleep 600 &
wait
`

// TestSignalsEndASweepOfStubbornRuns: runs that ignore SIGTERM cannot keep
// metalab from ending. One SIGTERM (or SIGINT) ends the sweep within the
// grace metalab gives a run's processes, recording the runs as cancelled
// with what they captured; a second one ends metalab at once.
func TestSignalsEndASweepOfStubbornRuns(t *testing.T) {
	bin := buildMetalab(t)
	for _, tt := range []struct {
		name    string
		signals []syscall.Signal
		within  time.Duration
	}{
		{"one SIGTERM", []syscall.Signal{syscall.SIGTERM}, command.DefaultGrace + 5*time.Second},
		{"two SIGINTs", []syscall.Signal{syscall.SIGINT, syscall.SIGINT}, 3 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			marks := filepath.Join(dir, "marks")
			os.Mkdir(marks, 0o755)
			exp := writeExperiment(t, dir, "stubborn", stubbornOp, 2, 1, "")
			st := filepath.Join(dir, "store")
			cmd := exec.Command(bin, "run", exp, "--store", st, "--progress", "quiet", "--no-table", "--workers", "2")
			cmd.Env = append(os.Environ(), "TMPDIR="+dir, "MARKS="+marks)
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 20*time.Second, func() bool {
				names, _ := os.ReadDir(marks)
				return len(names) == 2
			})
			start := time.Now()
			for _, sig := range tt.signals {
				cmd.Process.Signal(sig)
				time.Sleep(200 * time.Millisecond)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(tt.within):
				cmd.Process.Kill()
				<-done
				t.Fatalf("metalab still ran %v after %v:\n%s", tt.within, tt.signals, out.String())
			}
			elapsed := time.Since(start)
			if len(tt.signals) == 1 {
				if !strings.Contains(out.String(), "interrupted: cancelling the runs in flight") {
					t.Errorf("metalab did not say what it does on the signal:\n%s", out.String())
				}
				if code := cmd.ProcessState.ExitCode(); code != 130 {
					t.Errorf("exit code %d, want 130 (interrupted):\n%s", code, out.String())
				}
				sc := winningRecords(t, st)
				for id, r := range sc {
					if r.Status != store.StatusCancelled || r.Metrics["started"] != 1 {
						t.Errorf("run %s: %s %v, want cancelled with what it captured", id, r.Status, r.Metrics)
					}
				}
				if len(sc) != 2 {
					t.Errorf("%d runs recorded, want 2", len(sc))
				}
			}
			figures(t, "signals=%d seconds_to_exit=%.1f grace=%v", len(tt.signals), elapsed.Seconds(), command.DefaultGrace)
		})
	}
}

// waitFor polls cond until it holds, or fails the test after d.
func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
