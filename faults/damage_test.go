package faults

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// damageOp notes each execution in $EXEC_LOG and reports y = 3x + replicate.
const damageOp = `#!/bin/sh
set -eu
echo "$METALAB_RUN_ID" >> "$EXEC_LOG"
echo "{\"metric\": \"y\", \"value\": $((METALAB_PARAM_X * 3 + METALAB_REPLICATE))}" >> "$METALAB_CAPTURE"
`

// segLine is one line of a segment as the sweep wrote it.
type segLine struct {
	off, end int
	runID    string
	status   string
}

func segmentLines(t *testing.T, path string) []segLine {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []segLine
	off := 0
	for _, l := range bytes.SplitAfter(b, []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var r struct {
			RunID  string `json:"run_id"`
			Status string `json:"status"`
		}
		if err := json.Unmarshal(l, &r); err != nil {
			t.Fatalf("%s at byte %d: %v", path, off, err)
		}
		lines = append(lines, segLine{off: off, end: off + len(l), runID: r.RunID, status: r.Status})
		off += len(l)
	}
	return lines
}

// zeroLines overwrites with zeros the segment at path from the middle of
// line first to the middle of line last, as a failing disk does, and
// returns the runs whose completed record was in one of those lines. With
// keepTime, the modification time is put back, so that nothing but the
// bytes tells.
func zeroLines(t *testing.T, path string, lines []segLine, first, last int, keepTime bool) []string {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	from, to := (lines[first].off+lines[first].end)/2, (lines[last].off+lines[last].end)/2
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, to-from), int64(from)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if keepTime {
		if err := os.Chtimes(path, info.ModTime(), info.ModTime()); err != nil {
			t.Fatal(err)
		}
	}
	var lost []string
	for _, l := range lines[first : last+1] {
		if l.status == "completed" {
			lost = append(lost, l.runID)
		}
	}
	slices.Sort(lost)
	return lost
}

// executions counts how often each run executed, from the operation's log.
func executions(t *testing.T, path string) map[string]int {
	t.Helper()
	n := map[string]int{}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return n
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n[sc.Text()]++
	}
	return n
}

// exitCode runs cmd and returns its combined output and exit code.
func exitCode(t *testing.T, cmd *exec.Cmd) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return stdout.String(), stderr.String(), ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), 0
}

// TestDamagedSegment damages the segment of a finished sweep three times,
// in the middle, with zeros, and drives the metalab binary through it:
//
//  1. damage with the modification time put back (nothing but the bytes
//     tells): status cannot know; results prints what it can read, says
//     what it skipped, and exits 3 with a hint; the hinted command repairs;
//     results then succeeds cleanly, status counts the lost runs as
//     pending, and run executes exactly them;
//  2. damage in place (the modification time changes): status finds it by
//     itself, warns and counts the lost runs as pending; run executes
//     exactly them;
//  3. silent damage met by summary, which prints what it can read and
//     exits 3; the next command that collects (status) repairs it.
//
// At the end every run of the plan has its completed record with its own
// result, and no run executed more than its first time and its reruns.
func TestDamagedSegment(t *testing.T) {
	bin := buildMetalab(t)
	const points, replicates = 40, 2
	dir := t.TempDir()
	exp := writeExperiment(t, dir, "damage", damageOp, points, replicates, "")
	st := filepath.Join(dir, "store")
	execLog := filepath.Join(dir, "exec.log")
	want := planIDs(t, exp)
	env := append(os.Environ(), "TMPDIR="+t.TempDir(), "EXEC_LOG="+execLog)
	metalab := func(args ...string) (string, string, int) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		return exitCode(t, cmd)
	}
	run := func() map[string]int {
		t.Helper()
		before := executions(t, execLog)
		if out, errOut, code := metalab("run", exp, "--store", st, "--progress", "quiet", "--no-table"); code != 0 {
			t.Fatalf("run exited %d:\n%s%s", code, out, errOut)
		}
		after := executions(t, execLog)
		for id, n := range before {
			after[id] -= n
			if after[id] == 0 {
				delete(after, id)
			}
		}
		return after
	}
	statusLine := func() (string, string) {
		t.Helper()
		out, errOut, code := metalab("status", "--store", st)
		if code != 0 {
			t.Fatalf("status exited %d:\n%s%s", code, out, errOut)
		}
		line := regexp.MustCompile(`\d+ runs: .*`).FindString(out)
		return line, errOut
	}
	ranAll := func(ran map[string]int, ids []string) {
		t.Helper()
		got := slices.Sorted(func(yield func(string) bool) {
			for id, n := range ran {
				if n != 1 {
					t.Errorf("run %s executed %d times", id, n)
				}
				if !yield(id) {
					return
				}
			}
		})
		if !slices.Equal(got, ids) {
			t.Errorf("run executed %v, want exactly the lost runs %v", got, ids)
		}
	}

	if ran := run(); len(ran) != len(want) {
		t.Fatalf("first run executed %d runs, want %d", len(ran), len(want))
	}
	if got, _ := statusLine(); got != "80 runs: 80 completed, 0 failed, 0 cancelled, 0 running, 0 pending" {
		t.Fatalf("status before the damage: %q", got)
	}
	segs, _ := filepath.Glob(filepath.Join(st, "segments", "*.jsonl"))
	if len(segs) != 1 {
		t.Fatalf("segments %v, want one", segs)
	}
	seg := segs[0]
	lines := segmentLines(t, seg)

	// 1. Damage that leaves no trace but in the bytes.
	lost1 := zeroLines(t, seg, lines, 40, 47, true)
	if len(lost1) < 2 {
		t.Fatalf("the damage hit %d completed records, want a few", len(lost1))
	}
	if got, _ := statusLine(); got != "80 runs: 80 completed, 0 failed, 0 cancelled, 0 running, 0 pending" {
		t.Errorf("status after silent damage: %q (it cannot know yet)", got)
	}
	out, errOut, code := metalab("results", "--store", st, "--format", "csv")
	resCode := code
	if code != 3 {
		t.Errorf("results on a damaged store exited %d, want 3\n%s", code, errOut)
	}
	if got, want := strings.Count(out, ",completed,"), 80-len(lost1); got != want {
		t.Errorf("results printed %d completed rows, want the %d readable ones", got, want)
	}
	readErr := regexp.MustCompile(`metalab: store .*: segment (\S+) is damaged at byte (\d+) \((\d+) bytes\): (\d+) records could not be read and were skipped`).FindStringSubmatch(errOut)
	if readErr == nil || readErr[1] != strings.TrimSuffix(filepath.Base(seg), ".jsonl") || readErr[4] != strconv.Itoa(len(lost1)) {
		t.Errorf("results stderr:\n%s\nwant the damaged segment, offset, length and %d records skipped", errOut, len(lost1))
	}
	hint := regexp.MustCompile(`hint: '([^']+)' repairs the indexes`).FindStringSubmatch(errOut)
	if hint == nil {
		t.Fatalf("results stderr has no hint that names a repair:\n%s", errOut)
	}
	// The hinted command, as printed.
	args := strings.Fields(hint[1])
	if args[0] != "metalab" {
		t.Fatalf("hint names %q, want a metalab command", hint[1])
	}
	colOut, colErr, colCode := metalab(args[1:]...)
	if colCode != 0 {
		t.Fatalf("%s exited %d:\n%s%s", hint[1], colCode, colOut, colErr)
	}
	if !strings.Contains(colOut, "damaged segment "+strings.TrimSuffix(filepath.Base(seg), ".jsonl")) ||
		!strings.Contains(colOut, "repaired the indexes: "+strconv.Itoa(len(lost1))+" runs lost") {
		t.Errorf("%s printed:\n%s\nwant the damaged range and %d runs lost", hint[1], colOut, len(lost1))
	}
	out, errOut, code = metalab("results", "--store", st, "--format", "csv")
	if code != 0 || errOut != "" {
		t.Errorf("results after the repair: exit %d, stderr %q; want 0 and nothing", code, errOut)
	}
	if got, want := strings.Count(out, ",completed,"), 80-len(lost1); got != want {
		t.Errorf("results after the repair: %d completed rows, want %d", got, want)
	}
	if got, want := func() string { s, _ := statusLine(); return s }(), "80 runs: "+strconv.Itoa(80-len(lost1))+" completed, 0 failed, 0 cancelled, 0 running, "+strconv.Itoa(len(lost1))+" pending"; got != want {
		t.Errorf("status after the repair: %q, want %q", got, want)
	}
	ran1 := run()
	ranAll(ran1, lost1)

	// 2. Damage in place, found by status itself.
	time.Sleep(10 * time.Millisecond) // a modification time of its own
	lost2 := zeroLines(t, seg, lines, 100, 104, false)
	line, warn := statusLine()
	if want := "80 runs: " + strconv.Itoa(80-len(lost2)) + " completed, 0 failed, 0 cancelled, 0 running, " + strconv.Itoa(len(lost2)) + " pending"; line != want {
		t.Errorf("status after damage in place: %q, want %q", line, want)
	}
	if !strings.Contains(warn, "warning: "+strconv.Itoa(len(lost2))+" runs lost their records to a damaged segment") {
		t.Errorf("status stderr:\n%s\nwant a warning about %d lost runs", warn, len(lost2))
	}
	ran2 := run()
	ranAll(ran2, lost2)

	// 3. Silent damage again, met by summary; the next command that
	// collects (status here) repairs it.
	lost3 := zeroLines(t, seg, lines, 140, 145, true)
	sumOut, sumErr, sumCode := metalab("summary", "--store", st)
	if sumCode != 3 || !strings.Contains(sumErr, "could not be read") || !strings.Contains(sumErr, "hint: 'metalab collect --store") ||
		!regexp.MustCompile(`\by +`+strconv.Itoa(80-len(lost3))+` `).MatchString(sumOut) {
		t.Errorf("summary on a damaged store: exit %d\n%s%s\nwant exit 3, the summary of %d runs, and the damage", sumCode, sumOut, sumErr, 80-len(lost3))
	}
	line, warn = statusLine()
	if want := "80 runs: " + strconv.Itoa(80-len(lost3)) + " completed, 0 failed, 0 cancelled, 0 running, " + strconv.Itoa(len(lost3)) + " pending"; line != want {
		t.Errorf("status after summary met damage: %q, want %q\n%s", line, want, warn)
	}
	ran3 := run()
	ranAll(ran3, lost3)

	out, errOut, code = metalab("collect", "--store", st, exp)
	if code != 0 || strings.Count(out, "damaged segment ") != 3 || !strings.Contains(out, "80 runs (80 completed") || !strings.Contains(out, "0 missing, 0 failed") {
		t.Errorf("collect at the end: exit %d\n%s%s\nwant 80 completed, both damaged ranges, nothing missing", code, out, errOut)
	}
	if out, errOut, code := metalab("results", "--store", st, "--format", "csv"); code != 0 || errOut != "" || strings.Count(out, ",completed,") != 80 {
		t.Errorf("results at the end: exit %d, %d completed rows, stderr %q", code, strings.Count(out, ",completed,"), errOut)
	}
	sc := scanSegments(t, st)
	v := check(t, st, want, sc, "")
	if v.lost != 0 || v.wrong != 0 {
		t.Errorf("at the end: lost=%d wrong=%d: %v", v.lost, v.wrong, v.examples)
	}
	total := executions(t, execLog)
	extra := 0
	for _, n := range total {
		extra += n - 1
	}
	figures(t, "runs=%d damaged=3 (zeros over 8, 5 and 6 lines) lost=%d+%d+%d results_exit=%d summary_exit=%d collect_exit=%d rerun=%d extra_executions=%d lost_at_end=%d wrong=%d",
		len(want), len(lost1), len(lost2), len(lost3), resCode, sumCode, colCode, len(ran1)+len(ran2)+len(ran3), extra, v.lost, v.wrong)
	if want := len(lost1) + len(lost2) + len(lost3); extra != want {
		t.Errorf("%d executions beyond the first of each run, want %d (the lost runs, once each)", extra, want)
	}
}

// TestForgedCollectState forges index/collect-state.json, as a user of a
// group-shared store could, to match the store index's stamp and claim 600
// failed runs: status must report the true counts.
func TestForgedCollectState(t *testing.T) {
	bin := buildMetalab(t)
	dir := t.TempDir()
	exp := writeExperiment(t, dir, "forged", damageOp, 10, 2, "")
	st := filepath.Join(dir, "store")
	env := append(os.Environ(), "TMPDIR="+t.TempDir(), "EXEC_LOG="+filepath.Join(dir, "exec.log"))
	status := func() string {
		t.Helper()
		cmd := exec.Command(bin, "status", "--store", st)
		cmd.Env = env
		out, errOut, code := exitCode(t, cmd)
		if code != 0 {
			t.Fatalf("status exited %d:\n%s%s", code, out, errOut)
		}
		return regexp.MustCompile(`\d+ runs: .*`).FindString(out)
	}
	cmd := exec.Command(bin, "run", exp, "--store", st, "--progress", "quiet", "--no-table")
	cmd.Env = env
	if out, errOut, code := exitCode(t, cmd); code != 0 {
		t.Fatalf("run exited %d:\n%s%s", code, out, errOut)
	}
	const truth = "20 runs: 20 completed, 0 failed, 0 cancelled, 0 running, 0 pending"
	if got := status(); got != truth {
		t.Fatalf("status: %q, want %q", got, truth)
	}
	// The stamp of the store index as Collect takes it: size,
	// modification time and SQLite's file change counter.
	index := filepath.Join(st, "index", "store.sqlite")
	info, err := os.Stat(index)
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 28)
	f, err := os.Open(index)
	if err != nil {
		t.Fatal(err)
	}
	f.ReadAt(head, 0)
	f.Close()
	stamp := `{"size": ` + strconv.FormatInt(info.Size(), 10) + `, "mtime_ns": ` + strconv.FormatInt(info.ModTime().UnixNano(), 10) +
		`, "counter": ` + strconv.FormatUint(uint64(head[24])<<24|uint64(head[25])<<16|uint64(head[26])<<8|uint64(head[27]), 10) + `}`
	forged := `{"store": ` + stamp + `, "nodes": {}, "segments": {},
		"summary": {"Runs": 600, "Completed": 0, "Failed": 600},
		"counts": {"runs": 600, "failed": 600}}`
	state := filepath.Join(st, "index", "collect-state.json")
	if err := os.WriteFile(state, []byte(forged), 0o644); err != nil {
		t.Fatal(err)
	}
	got := status()
	figures(t, "forged=\"600 failed\" status=%q", got)
	if got != truth {
		t.Errorf("status with a forged collect state: %q, want %q", got, truth)
	}
}
