package faults

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// lockOp notes each execution in $EXEC_LOG, outside the store, waits for
// the file $GO (if set) to exist, takes a little time, and reports y = 3x +
// replicate.
const lockOp = `#!/bin/sh
set -eu
echo "$METALAB_RUN_ID" >> "$EXEC_LOG"
while [ -n "${GO:-}" ] && [ ! -e "$GO" ]; do sleep 0.01; done
sleep 0.05
echo "{\"metric\": \"y\", \"value\": $((METALAB_PARAM_X * 3 + METALAB_REPLICATE))}" >> "$METALAB_CAPTURE"
`

func countLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("\n"))
}

// TestTwoRunsOneStore starts two `metalab run` of one store at the same
// moment, several times: one runs the sweep, the other is refused with a
// message that names the first (host and pid); every run executes exactly
// once. With --wait, the second waits for the first and then has nothing
// to run.
func TestTwoRunsOneStore(t *testing.T) {
	bin := buildMetalab(t)
	const points, replicates, rounds = 20, 2, 4
	host, _ := os.Hostname()
	refused, named, waited := 0, 0, 0
	execsTotal, runsTotal := 0, 0
	for round := range rounds + 1 {
		wait := round == rounds // the last round: the second one waits
		dir := t.TempDir()
		exp := writeExperiment(t, dir, "twice", lockOp, points, replicates, "")
		st := filepath.Join(dir, "store")
		execLog := filepath.Join(dir, "exec.log")
		// The runs wait for the file goFile, made once the second process
		// has met the first (refused, or waiting): on a loaded machine
		// one process may otherwise start after the other has finished.
		goFile := filepath.Join(dir, "go")
		var cmds [2]*exec.Cmd
		var outs [2]string
		exited := make(chan int, 2)
		for i := range cmds {
			args := []string{"run", exp, "--store", st, "--progress", "quiet", "--no-table", "--workers", "2"}
			if wait {
				args = append(args, "--wait")
			}
			cmds[i] = exec.Command(bin, args...)
			cmds[i].Env = append(os.Environ(), "EXEC_LOG="+execLog, "GO="+goFile)
			outs[i] = filepath.Join(dir, fmt.Sprintf("out%d", i))
			f, err := os.Create(outs[i])
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			cmds[i].Stdout, cmds[i].Stderr = f, f
		}
		for i, c := range cmds {
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { c.Wait(); exited <- i }()
		}
		met := func() bool {
			for _, o := range outs {
				if b, _ := os.ReadFile(o); bytes.Contains(b, []byte("waiting: store")) {
					return true
				}
			}
			return false
		}
		var first []int
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && len(first) == 0 && !(wait && met()); {
			select {
			case i := <-exited:
				first = append(first, i)
			case <-time.After(20 * time.Millisecond):
			}
		}
		if err := os.WriteFile(goFile, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		for len(first) < 2 {
			first = append(first, <-exited)
		}
		var codes [2]int
		for i, c := range cmds {
			codes[i] = c.ProcessState.ExitCode()
			b, _ := os.ReadFile(outs[i])
			outs[i] = string(b)
		}
		execs := countLines(t, execLog)
		execsTotal += execs
		runsTotal += points * replicates
		if execs != points*replicates {
			t.Errorf("round %d: %d executions of %d runs\n%s\n%s", round, execs, points*replicates, outs[0], outs[1])
		}
		v := check(t, st, planIDs(t, exp), scanSegments(t, st), "")
		if v.lost+v.duplicated+v.wrong > 0 {
			t.Errorf("round %d: lost=%d duplicated=%d wrong=%d: %v", round, v.lost, v.duplicated, v.wrong, v.examples)
		}
		if entries, _ := os.ReadDir(filepath.Join(st, "locks")); len(entries) != 0 {
			t.Errorf("round %d: lock entries left: %v", round, entries)
		}
		if wait {
			if codes != [2]int{0, 0} {
				t.Errorf("with --wait: exit codes %v, want 0 and 0\n%s\n%s", codes, outs[0], outs[1])
			}
			for _, o := range outs {
				if strings.Contains(o, "nothing to run") && strings.Contains(o, "waiting: store") {
					waited++
				}
			}
			continue
		}
		// Which one was refused, and does it name the other?
		loser := -1
		switch codes {
		case [2]int{0, 1}:
			loser = 1
		case [2]int{1, 0}:
			loser = 0
		default:
			t.Errorf("round %d: exit codes %v, want one 0 and one 1\n%s\n%s", round, codes, outs[0], outs[1])
			continue
		}
		refused++
		msg := outs[loser]
		winner := cmds[1-loser].Process.Pid
		if strings.Contains(msg, "is in use by metalab run") && strings.Contains(msg, "host "+host) &&
			strings.Contains(msg, fmt.Sprintf("pid %d", winner)) && strings.Contains(msg, "hint: ") {
			named++
		} else {
			t.Errorf("round %d: the refused run does not name host %s, pid %d, with a hint:\n%s", round, host, winner, msg)
		}
	}
	figures(t, "rounds=%d runs=%d executions=%d refused=%d named_holder=%d waited_then_nothing_to_run=%d",
		rounds+1, runsTotal, execsTotal, refused, named, waited)
	if waited != 1 {
		t.Errorf("with --wait, %d runs waited and found nothing to run, want 1", waited)
	}
}

// TestKilledRunLockTakenOver kills a `metalab run` with SIGKILL in the
// middle of its sweep, which leaves its lock entry; the next run on the
// same host takes the lock over at once (the PID is gone), even while the
// killed process is a zombie that its parent has not reaped, and finishes
// the sweep.
func TestKilledRunLockTakenOver(t *testing.T) {
	bin := buildMetalab(t)
	const points, replicates = 30, 2
	dir := t.TempDir()
	exp := writeExperiment(t, dir, "killed", lockOp, points, replicates, "")
	st := filepath.Join(dir, "store")
	execLog := filepath.Join(dir, "exec.log")
	runCmd := func() *exec.Cmd {
		cmd := exec.Command(bin, "run", exp, "--store", st, "--progress", "quiet", "--no-table", "--workers", "2")
		cmd.Env = append(os.Environ(), "EXEC_LOG="+execLog)
		return cmd
	}
	first := runCmd()
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for countLines(t, execLog) < 6 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Not reaped yet: the killed run stays a zombie until Wait.
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", first.Process.Pid))
		if i := bytes.LastIndexByte(b, ')'); i < 0 || bytes.HasPrefix(b[i+1:], []byte(" Z")) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	left, _ := filepath.Glob(filepath.Join(st, "locks", "x.*"))
	out, err := combined(runCmd())
	first.Wait()
	if err != nil {
		t.Fatalf("the run after the kill: %v\n%s", err, out)
	}
	takenOver := strings.Contains(out, "took over the store's lock") && strings.Contains(out, fmt.Sprint(first.Process.Pid))
	if !takenOver {
		t.Errorf("the run after the kill does not say it took over pid %d's lock:\n%s", first.Process.Pid, out)
	}
	if len(left) != 1 {
		t.Errorf("the killed run left %d lock entries, want 1", len(left))
	}
	v := check(t, st, planIDs(t, exp), scanSegments(t, st), "")
	execs := countLines(t, execLog)
	entries, _ := os.ReadDir(filepath.Join(st, "locks"))
	figures(t, "runs=%d executions=%d reexecuted=%d lost=%d duplicated=%d lock_left_by_kill=%d taken_over=%v entries_after=%d",
		points*replicates, execs, execs-points*replicates, v.lost, v.duplicated, len(left), takenOver, len(entries))
	for _, e := range v.examples {
		t.Error(e)
	}
	if len(entries) != 0 {
		t.Errorf("lock entries left after the sweep: %v", entries)
	}
}
