package launcher

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/metalab-hpc/metalab/internal/host"
	"github.com/metalab-hpc/metalab/store"
)

// storeWithRunning makes a store of sweepExp("rc", 5) (10 runs) whose
// first runs have a start record and no end, written by the writers given:
// a SLURM task "ARRAY_TASK", or "local:PID" for a process of this host.
// The store's submission is that of slurm/testdata/squeue_identity.txt.
func storeWithRunning(t *testing.T, writers ...string) (dir string, ids []string) {
	t.Helper()
	exp := sweepExp("rc", 5)
	plan, err := NewPlan(&exp)
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Init(plan.Manifest()); err != nil {
		t.Fatal(err)
	}
	w, err := st.NewWriter(store.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, wr := range writers {
		spec := plan.At(i)
		r := &store.Record{RunID: spec.ID, Status: store.StatusRunning, Experiment: "rc", Version: "1",
			Params: spec.Params, Started: time.Now(), Host: host.Short()}
		if pid, ok := strings.CutPrefix(wr, "local:"); ok {
			r.PID = atoi(t, pid)
		} else {
			job, task, _ := strings.Cut(wr, "_")
			r.Host, r.PID = "n1", 4242
			r.SlurmArrayJobID, r.SlurmTaskID, r.SlurmJobID = job, task, "9"+job+task
		}
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, spec.ID)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	recordRecordedSubmission(t, dir, "rc")
	return dir, ids
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if err := json.Unmarshal([]byte(s), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestLostRuns: of the runs a store has as running, those of a SLURM task
// that is not running (pending again, or not the store's), or of a local
// process that holds no lock entry, are lost: status counts them as
// pending and names their writers, collect counts them as missing and
// resubmits them; the others are running.
func TestLostRuns(t *testing.T) {
	const dead = 1 << 22 // above pid_max's default
	dir, ids := storeWithRunning(t, "204_0", "204_5", "99_0", "local:"+itoa(os.Getpid()), "local:"+itoa(dead))
	// This process holds the store as a local run would.
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	lock, err := st.Lock(context.Background(), store.LockOptions{Mode: store.Shared, Purpose: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	st.Close()

	exp := sweepExp("rc", 5)
	sched := newStubScheduler(t, map[string]string{"squeue": withStoreID(t, dir, queueOf(t))})
	app, _ := testApp(exp, sched)
	var out bytes.Buffer
	if err := app.runStatus(context.Background(), statusOptions{Store: dir}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\n10 runs: 0 completed, 0 failed, 0 cancelled, 2 running, 8 pending\n",
		"\nlost: 3 runs left running by job 204_5, job 99_0, host " + host.Short() + " pid 4194304, which ended without recording them; counted as pending ('metalab collect --resubmit --store " + dir + "' runs them again)\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := app.runStatus(context.Background(), statusOptions{Store: dir, JSON: true}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"running":2,"pending":8,`) || !strings.Contains(out.String(), `"interrupted":3,`) {
		t.Errorf("status --json: %s", out.String())
	}

	out.Reset()
	err = app.runCollect(context.Background(), zerolog.Nop(), collectOptions{Store: dir, JSON: true}, &out)
	if code, _ := exitOutput(err); code != ExitRunsFailed {
		t.Errorf("collect=%v (exit %d), want exit 1", err, code)
	}
	var res collectResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(res.LostIDs, " "), strings.Join([]string{ids[1], ids[2], ids[4]}, " "); got != want {
		t.Errorf("collect: lost %s, want %s", got, want)
	}
	if got, want := strings.Join(res.RunningIDs, " "), ids[0]+" "+ids[3]; got != want {
		t.Errorf("collect: running %s, want %s", got, want)
	}
	if len(res.MissingIDs) != 8 {
		t.Errorf("collect: %d missing, want 8 (5 never run, 3 lost)", len(res.MissingIDs))
	}

	// Without the scheduler, the runs of SLURM tasks may be running.
	down := newStubScheduler(t, map[string]string{"squeue": recorded(t, "stderr/squeue_down.txt") + " >&2; exit 1"})
	app, _ = testApp(exp, down)
	out.Reset()
	if err := app.runStatus(context.Background(), statusOptions{Store: dir}, &out); err != nil {
		t.Fatal(err)
	}
	if want := "\n10 runs: 0 completed, 0 failed, 0 cancelled, 4 running, 6 pending\nlost: 1 run left running by host "; !strings.Contains(out.String(), want) {
		t.Errorf("status with the scheduler down lacks %q:\n%s", want, out.String())
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
