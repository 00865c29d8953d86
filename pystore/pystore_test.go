package pystore

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metalab-hpc/metalab/store"
)

// sharedStore is the store the Python library wrote, kept in the
// project's shared test data.
const sharedStore = "../../shared/testdata/python-metalab-store"

// copyShared copies the shared Python store into a temporary directory:
// tests never touch the original.
func copyShared(t *testing.T) string {
	t.Helper()
	src, err := filepath.Abs(sharedStore)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(src); err != nil {
		t.Skipf("the Python store written by the Python library is not here: %v", err)
	}
	dst := filepath.Join(t.TempDir(), "py")
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	return dst
}

func TestReadShared(t *testing.T) {
	exps, err := Read(copyShared(t))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(exps), 2; got != want {
		t.Fatalf("%d experiments, want %d", got, want)
	}
	byRef := map[string]*Experiment{}
	for i := range exps {
		byRef[exps[i].Info.Ref()] = &exps[i]
	}
	pi, train := byRef["pi_mc@0.1"], byRef["train@2"]
	if pi == nil || train == nil {
		t.Fatalf("experiments %v, want pi_mc@0.1 and train@2", byRef)
	}
	if got, want := len(pi.Runs), 9; got != want {
		t.Fatalf("pi_mc: %d runs, want %d", got, want)
	}
	if got, want := len(train.Runs), 8; got != want {
		t.Fatalf("train: %d runs, want %d", got, want)
	}
	reps := map[int]int{}
	for _, r := range pi.Runs {
		rec := r.Record
		if rec.Status != store.StatusCompleted || rec.Metrics["pi_estimate"] < 3 || rec.Metrics["pi_estimate"] > 3.3 {
			t.Errorf("pi_mc run %s: %s, pi_estimate %v", rec.RunID, rec.Status, rec.Metrics["pi_estimate"])
		}
		if rec.SeedBase != 42 || rec.Seed == 0 || rec.Code == "" || rec.Started.IsZero() || rec.Ended.Before(rec.Started) {
			t.Errorf("pi_mc run %s: seed base %d, seed %d, code %q, %v to %v", rec.RunID, rec.SeedBase, rec.Seed, rec.Code, rec.Started, rec.Ended)
		}
		reps[rec.Replicate]++
	}
	if len(reps) != 3 || reps[0] != 3 || reps[1] != 3 || reps[2] != 3 {
		t.Errorf("pi_mc replicates %v, want 3 runs of each of 0, 1, 2", reps)
	}
	var failed, series, withArtifacts int
	for _, r := range train.Runs {
		rec := r.Record
		if !strings.Contains(rec.Warnings[len(rec.Warnings)-1], "imported from the Python metalab store: train_2/runs/"+rec.RunID+".json") {
			t.Errorf("run %s does not say it was imported: %q", rec.RunID, rec.Warnings)
		}
		switch rec.Status {
		case store.StatusFailed:
			failed++
			if !strings.HasPrefix(rec.Error, "RuntimeError: diverged") || !strings.Contains(rec.Stack, "Traceback") {
				t.Errorf("failed run %s: error %q, stack %.40q", rec.RunID, rec.Error, rec.Stack)
			}
		case store.StatusCompleted:
			if len(rec.Series["loss"]) != 5 || rec.Series["loss"][4].Step != 4 || *rec.Series["loss"][4].Value != rec.Metrics["final_loss"] {
				t.Errorf("run %s: loss series %v, final_loss %v", rec.RunID, rec.Series["loss"], rec.Metrics["final_loss"])
			}
			if len(rec.Data["weights"]) == 0 || len(rec.Logs) != 1 || !strings.Contains(rec.Logs[0], "done lr=") {
				t.Errorf("run %s: weights %s, logs %q", rec.RunID, rec.Data["weights"], rec.Logs)
			}
		}
		if len(rec.Series) > 0 {
			series++
		}
		if len(r.Artifacts) > 0 {
			withArtifacts++
			if b, err := os.ReadFile(r.Artifacts[0].Path); err != nil || !strings.Contains(string(b), `"opt"`) {
				t.Errorf("artifact of run %s: %q, %v", rec.RunID, b, err)
			}
		}
	}
	// Of the 8 runs, the two of lr 0.9 in replicate 0 failed before they
	// captured anything, and sgd at lr 0.9 in replicate 1 failed after.
	if failed != 3 || series != 6 || withArtifacts != 6 {
		t.Errorf("train: %d failed, %d with series, %d with artifacts; want 3, 6, 6", failed, series, withArtifacts)
	}
}

func TestReadBroken(t *testing.T) {
	for _, tc := range []struct {
		name, file, content, want string
	}{
		{"broken run", "train_2/runs/c45e6e13952e9632.json", `{"run_id": "c45e6e13952e9632", "status": `, "not valid JSON"},
		{"broken result", "train_2/results/c45e6e13952e9632/loss.json", `{"data": [[0, 1.0], [1,`, "not valid JSON"},
		{"unknown status", "pi_mc_0.1/runs/552df7c6f8908796.json", `{"run_id": "552df7c6f8908796", "status": "exploded"}`, `status "exploded"`},
		{"broken meta", "pi_mc_0.1/_meta.json", `{"experiment_id": "pi_mc"}`, "is not NAME:VERSION"},
		{"bad time", "pi_mc_0.1/runs/552df7c6f8908796.json", `{"run_id": "552df7c6f8908796", "status": "success", "started_at": "yesterday"}`, "not an ISO 8601 time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyShared(t)
			if err := os.WriteFile(filepath.Join(dir, tc.file), []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Read(dir)
			var fe *FileError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) || !strings.HasSuffix(fe.Path, tc.file) {
				t.Fatalf("Read: %v, want a *FileError on %s saying %q", err, tc.file, tc.want)
			}
		})
	}
}

// TestReadRefusesSymlinks: an artifact or a run file that is a symlink
// (to a file the importer could read, and the Python store's writer not)
// is refused.
func TestReadRefusesSymlinks(t *testing.T) {
	for _, file := range []string{
		"train_2/artifacts/c45e6e13952e9632/notes.json",
		"train_2/runs/c45e6e13952e9632.json",
	} {
		dir := copyShared(t)
		secret := filepath.Join(t.TempDir(), "secret")
		if err := os.WriteFile(secret, []byte(`{"secret": true}`), 0o600); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, file)
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(secret, p); err != nil {
			t.Fatal(err)
		}
		_, err := Read(dir)
		var fe *FileError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("Read with %s a symlink: %v, want a *FileError saying it is not a regular file", file, err)
		}
	}
}
