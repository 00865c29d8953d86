package faults

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fullOp reports y like crashOp and leaves a 64 KiB artifact besides, so
// that a small filesystem fills after a few dozen runs.
const fullOp = `#!/bin/sh
set -eu
echo "$METALAB_RUN_ID" > "$METALAB_ARTIFACT_DIR/id.txt"
head -c 65536 /dev/zero > "$METALAB_ARTIFACT_DIR/big.bin"
sleep 0.05
echo "{\"metric\": \"y\", \"value\": $((METALAB_PARAM_X * 3 + METALAB_REPLICATE))}" >> "$METALAB_CAPTURE"
`

// mountTmpfs mounts a tmpfs of the given size (as for mount -o size=) at a
// new directory and unmounts it at the end of the test. Without the
// privilege to mount, the test skips.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// TestFullFilesystem runs a sweep into a store on a 2 MiB tmpfs, which fills
// part-way: metalab must stop with a clear error and record no run as
// completed whose result is not whole on disk. After the filesystem grows,
// the same command completes the sweep, each run once.
func TestFullFilesystem(t *testing.T) {
	bin := buildMetalab(t)
	fs := mountTmpfs(t, "2m")
	dir := t.TempDir()
	exp := writeExperiment(t, dir, "fullfs", fullOp, 50, 2, "")
	st := filepath.Join(fs, "store")
	runCmd := func() *exec.Cmd {
		cmd := exec.Command(bin, "run", exp, "--store", st, "--progress", "quiet", "--no-table", "--workers", "2")
		cmd.Env = append(os.Environ(), "TMPDIR="+dir)
		return cmd
	}
	full, err := combined(runCmd())
	code := -1
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if err == nil {
		t.Fatalf("the sweep fit on a 2 MiB filesystem; make it bigger:\n%s", full)
	}
	if !strings.Contains(full, "no space left on device") {
		t.Errorf("full filesystem: exit %d, and the output does not say \"no space left on device\":\n%s", code, full)
	}
	want := planIDs(t, exp)
	sc := scanSegments(t, st)
	completedFull := len(sc.completed)
	v := check(t, st, want, sc, "id.txt")
	if v.duplicated+v.wrong > 0 {
		t.Errorf("with the filesystem full: %d duplicated, %d wrong: %s", v.duplicated, v.wrong, strings.Join(v.examples, "; "))
	}
	lastLine := strings.TrimSpace(full)
	if i := strings.LastIndex(lastLine, "\n"); i >= 0 {
		lastLine = lastLine[i+1:]
	}

	if out, err := exec.Command("mount", "-o", "remount,size=64m", fs).CombinedOutput(); err != nil {
		t.Fatalf("growing the tmpfs: %v %s", err, out)
	}
	if out, err := combined(runCmd()); err != nil {
		t.Fatalf("resume after space was freed: %v\n%s", err, out)
	}
	sc = scanSegments(t, st)
	v = check(t, st, want, sc, "id.txt")
	left := leftovers(t, st, dir)
	figures(t, "runs=%d completed_when_full=%d exit_when_full=%d lost=%d duplicated=%d wrong=%d torn_ignored=%d leftovers=%d (store on a 2 MiB tmpfs, then 64 MiB)",
		len(want), completedFull, code, v.lost, v.duplicated, v.wrong, len(sc.torn), len(left))
	t.Logf("message when full: %s", lastLine)
	for _, e := range v.examples {
		t.Error(e)
	}
	if len(left) > 0 {
		t.Errorf("temporary files left behind:\n%s", strings.Join(left, "\n"))
	}
}
