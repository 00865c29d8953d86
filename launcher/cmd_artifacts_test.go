package launcher

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/seeds"
)

// artifactExp is 2 points x = 0, 1 whose runs store the artifacts "coef"
// (format npy: coef.npy) and "note" (note.txt), each holding x.
func artifactExp() Experiment {
	return Experiment{Name: "art", Version: "1", Seeds: seeds.New(1, 1), Params: params.Grid{"x": {0, 1}},
		Operation: Op(func(p params.Point, c capture.Capture) {
			x := []byte{byte('0' + p.Int("x"))}
			c.Artifact("coef", x, "npy")
			c.Artifact("note.txt", x, "")
		})}
}

func sha(b string) string {
	s := sha256.Sum256([]byte(b))
	return hex.EncodeToString(s[:])
}

func TestRunArtifacts(t *testing.T) {
	exp := artifactExp()
	dir := localSweep(t, exp, 2)
	plan, err := NewPlan(&exp)
	if err != nil {
		t.Fatal(err)
	}
	run0 := plan.At(0).ID
	abs, _ := filepath.Abs(dir)
	tests := []struct {
		name   string
		opts   artifactsOptions
		code   int
		rows   int
		out    []string
		stderr string
	}{
		{name: "all", rows: 4, out: []string{"run_id            name", filepath.Join(abs, "artifacts", run0, "coef.npy"), sha("0")}},
		{name: "one run", opts: artifactsOptions{RunID: run0[:6]}, rows: 2},
		{name: "by name", opts: artifactsOptions{Name: "coef"}, rows: 2, out: []string{"coef.npy"}},
		{name: "by file name", opts: artifactsOptions{Name: "coef.npy"}, rows: 2},
		{name: "an unknown name", opts: artifactsOptions{Name: "cof"}, code: ExitUsage,
			stderr: "metalab: no artifact named \"cof\"\nhint: did you mean coef? artifacts of these runs: coef, note.txt\n"},
		{name: "an unknown run", opts: artifactsOptions{RunID: "ffffffffffffffff"}, code: ExitUsage, stderr: "no run \"ffffffffffffffff\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, _ := testApp(exp, nil)
			opts := tt.opts
			opts.Store = dir
			var out, errOut bytes.Buffer
			err := app.runArtifacts(context.Background(), opts, &out, &errOut)
			code, stderr := exitOutput(err)
			if got, want := code, tt.code; got != want {
				t.Fatalf("runArtifacts()=%v (exit %d), want exit %d", err, got, want)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q, want it to contain %q", stderr, tt.stderr)
			}
			if tt.code != 0 {
				return
			}
			if got, want := strings.Count(out.String(), "\n")-1, tt.rows; got != want {
				t.Errorf("%d rows, want %d:\n%s", got, want, out.String())
			}
			for _, s := range tt.out {
				if !strings.Contains(out.String(), s) {
					t.Errorf("output lacks %q:\n%s", s, out.String())
				}
			}
		})
	}

	// --json: the runs' params too, and paths that are the files.
	app, _ := testApp(exp, nil)
	var out bytes.Buffer
	if err := app.runArtifacts(context.Background(), artifactsOptions{Store: dir, Name: "coef", JSON: true}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var entries []map[string]any
	if err := json.Unmarshal(out.Bytes(), &entries); err != nil {
		t.Fatalf("%v:\n%s", err, out.String())
	}
	if len(entries) != 2 {
		t.Fatalf("%d entries, want 2:\n%s", len(entries), out.String())
	}
	for i, e := range entries {
		b, err := os.ReadFile(e["path"].(string))
		if err != nil || string(b) != string(rune('0'+i)) || e["params"].(map[string]any)["x"] != float64(i) || e["format"] != "npy" {
			t.Errorf("entry %d: %v (file %q, %v)", i, e, b, err)
		}
	}
}

// TestRunArtifactsCopy: --copy writes DIR/RUN_ID/FILE, checked against the
// record; a file changed since, or replaced by a symlink, is not copied.
func TestRunArtifactsCopy(t *testing.T) {
	exp := artifactExp()
	dir := localSweep(t, exp, 2)
	plan, err := NewPlan(&exp)
	if err != nil {
		t.Fatal(err)
	}
	run0, run1 := plan.At(0).ID, plan.At(1).ID
	app, _ := testApp(exp, nil)
	to := filepath.Join(t.TempDir(), "out")
	var errOut bytes.Buffer
	if err := app.runArtifacts(context.Background(), artifactsOptions{Store: dir, Copy: to}, &bytes.Buffer{}, &errOut); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ run, file, want string }{{run0, "coef.npy", "0"}, {run1, "note.txt", "1"}} {
		if b, err := os.ReadFile(filepath.Join(to, f.run, f.file)); err != nil || string(b) != f.want {
			t.Errorf("copy of %s/%s: %q, %v; want %q", f.run, f.file, b, err, f.want)
		}
	}
	if !strings.Contains(errOut.String(), "copied 4 artifacts to ") {
		t.Errorf("stderr %q", errOut.String())
	}

	tests := []struct {
		name   string
		tamper func(path string) error
		err    string
	}{
		{"changed", func(p string) error { return os.WriteFile(p, []byte("9"), 0o644) }, "does not hold what its record says"},
		{"a symlink", func(p string) error {
			victim := filepath.Join(t.TempDir(), "victim")
			if err := os.WriteFile(victim, []byte("0"), 0o644); err != nil {
				return err
			}
			os.Remove(p)
			return os.Symlink(victim, p)
		}, "symlink"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := localSweep(t, exp, 1)
			if err := tt.tamper(filepath.Join(dir, "artifacts", run0, "coef.npy")); err != nil {
				t.Fatal(err)
			}
			to := filepath.Join(t.TempDir(), "out")
			err := app.runArtifacts(context.Background(), artifactsOptions{Store: dir, Copy: to, Name: "coef"}, &bytes.Buffer{}, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("runArtifacts(--copy)=%v, want an error with %q", err, tt.err)
			}
			if _, err := os.Stat(filepath.Join(to, run0, "coef.npy")); err == nil {
				t.Errorf("%s was copied", tt.name)
			}
		})
	}
}
