package command

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunCopiesArtifactWhenLineIsRead: a run that names a temporary file
// as an artifact and removes it before it exits has it stored, since the
// capture line is read while the run runs. The script waits until the
// copy is in the store before it removes the file: it would wait forever
// (until its 10 s) if the line were read only after it exited.
func TestRunCopiesArtifactWhenLineIsRead(t *testing.T) {
	dir := t.TempDir()
	name := script(t, dir, "tmpart.sh", `
tmp=$(mktemp -d)
echo coefs > "$tmp/coef.npy"
echo "{\"artifact\": \"coef\", \"path\": \"$tmp/coef.npy\", \"format\": \"npy\"}" >> "$METALAB_CAPTURE"
for i in $(seq 1000); do
  [ -f "$METALAB_STORE/artifacts/r1/coef.npy" ] && break
  sleep 0.01
done
rm -r "$tmp"
[ -f "$METALAB_STORE/artifacts/r1/coef.npy" ] || { echo "not copied while the run ran" >&2; exit 3; }
`)
	op, err := New(Spec{Argv: []string{name}, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	r := execute(t, context.Background(), op, t.TempDir(), nil, "s0")
	if r.err != nil || r.rec.Err() != nil {
		t.Fatalf("run: %v, capture: %v", r.err, r.rec.Err())
	}
	arts := r.rec.Result().Artifacts
	if len(arts) != 1 || arts[0].Name != "coef" || arts[0].Path != "artifacts/r1/coef.npy" {
		t.Fatalf("artifacts %+v, want coef as artifacts/r1/coef.npy", arts)
	}
	if b, err := os.ReadFile(filepath.Join(r.store, "artifacts", "r1", "coef.npy")); err != nil || string(b) != "coefs\n" {
		t.Errorf("stored coef.npy: %q, %v", b, err)
	}
}

// TestRunLinesAfterExitStillCount: lines the run appended just before it
// exited, and a last line without a newline, are read after it exited.
func TestRunLinesAfterExitStillCount(t *testing.T) {
	dir := t.TempDir()
	name := script(t, dir, "burst.sh", `
for i in $(seq 200); do echo "{\"metric\": \"loss\", \"value\": $i, \"step\": $i}" >> "$METALAB_CAPTURE"; done
printf '{"metric": "final", "value": 1}' >> "$METALAB_CAPTURE"
`)
	op, err := New(Spec{Argv: []string{name}, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	r := execute(t, context.Background(), op, t.TempDir(), nil, "s0")
	if r.err != nil || r.rec.Err() != nil {
		t.Fatalf("run: %v, capture: %v", r.err, r.rec.Err())
	}
	res := r.rec.Result()
	if got, want := len(res.Series["loss"]), 200; got != want {
		t.Errorf("%d points of loss, want %d", got, want)
	}
	if got, want := res.Metrics["final"], 1.0; got != want {
		t.Errorf("final=%v, want %v", got, want)
	}
}

// TestRunScratchCwd: with ScratchCwd each run starts in its own scratch
// directory, the script argument is made absolute, and a relative artifact
// path is taken relative to the scratch directory.
func TestRunScratchCwd(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "op.sh"), []byte(`
[ "$(pwd -P)" = "$(cd "$METALAB_SCRATCH" && pwd -P)" ] || { echo "cwd $(pwd), not $METALAB_SCRATCH" >&2; exit 3; }
echo "$0" > out.txt
echo '{"artifact": "out", "path": "out.txt"}' >> "$METALAB_CAPTURE"
`), 0o644); err != nil {
		t.Fatal(err)
	}
	op, err := New(Spec{Argv: []string{"sh", "op.sh"}, Dir: dir, ScratchCwd: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := op.Argv()[1], filepath.Join(dir, "op.sh"); got != want {
		t.Errorf("Argv()[1]=%q, want %q", got, want)
	}
	r := execute(t, context.Background(), op, t.TempDir(), nil, "s0")
	if r.err != nil || r.rec.Err() != nil {
		t.Fatalf("run: %v, capture: %v", r.err, r.rec.Err())
	}
	b, err := os.ReadFile(filepath.Join(r.store, "artifacts", "r1", "out"))
	if err != nil || strings.TrimSpace(string(b)) != filepath.Join(dir, "op.sh") {
		t.Errorf("artifact out: %q, %v; want the script's absolute path", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.txt")); err == nil {
		t.Errorf("the run wrote out.txt into the experiment's directory")
	}
}
