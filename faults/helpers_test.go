package faults

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metalab-hpc/metalab/expfile"
	"github.com/metalab-hpc/metalab/internal/testexp"
	"github.com/metalab-hpc/metalab/launcher"
	"github.com/metalab-hpc/metalab/store"
)

// metalabBin is the metalab binary, built once for all tests.
var metalabBin struct {
	once sync.Once
	path string
	err  error
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// buildMetalab compiles the metalab command into a directory that outlives
// the tests of this process (removed by TestMain).
func buildMetalab(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the metalab binary")
	}
	metalabBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "metalab-faults-bin-")
		if err != nil {
			metalabBin.err = err
			return
		}
		binDir = dir
		metalabBin.path = filepath.Join(dir, "metalab")
		cmd := exec.Command("go", "build", "-o", metalabBin.path, ".")
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			metalabBin.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if metalabBin.err != nil {
		t.Fatal(metalabBin.err)
	}
	return metalabBin.path
}

var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// writeExperiment writes op.sh and NAME.toml into dir: a grid of points
// values of x times replicates runs whose operation is op, and returns the
// experiment file's path.
func writeExperiment(t *testing.T, dir, name, op string, points, replicates int, extra string) string {
	return testexp.Write(t, dir, testexp.Spec{Name: name, Op: op, Points: points, Replicates: replicates,
		SeedBase: 11, Top: extra})
}

// planIDs loads the experiment file and returns its run IDs with the
// value of y = 3x + replicate that each run must report.
func planIDs(t *testing.T, file string) map[string]float64 {
	t.Helper()
	exp, err := expfile.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := launcher.NewPlan(exp)
	if err != nil {
		t.Fatal(err)
	}
	ids := make(map[string]float64, plan.Len())
	for i := range plan.Len() {
		r := plan.At(i)
		ids[r.ID] = float64(3*r.Params.Int("x") + int64(r.Replicate))
	}
	return ids
}

// segmentScan is what every segment of a store holds.
type segmentScan struct {
	completed map[string][]*store.Record // end records with status completed
	records   int
	torn      []store.Torn
}

func scanSegments(t *testing.T, dir string) segmentScan {
	t.Helper()
	sc := segmentScan{completed: map[string][]*store.Record{}}
	files, _ := filepath.Glob(filepath.Join(dir, "segments", "*.jsonl"))
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := store.ReadSegment(fh, func(r *store.Record, off int64, n int) error {
			if r.Status == store.StatusCompleted {
				sc.completed[r.RunID] = append(sc.completed[r.RunID], r)
			}
			return nil
		})
		fh.Close()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		sc.records += rep.Records
		for _, tr := range rep.Torn {
			tr.Segment = filepath.Base(f)
			sc.torn = append(sc.torn, tr)
		}
	}
	return sc
}

// verdict compares the completed records of a store with the plan: lost
// runs have none, duplicated ones more than one, and wrong ones report
// another y than the run's params give, or miss their artifact.
type verdict struct {
	lost, duplicated, wrong int
	examples                []string
}

func check(t *testing.T, dir string, want map[string]float64, sc segmentScan, artifact string) verdict {
	t.Helper()
	var v verdict
	note := func(format string, args ...any) {
		if len(v.examples) < 5 {
			v.examples = append(v.examples, fmt.Sprintf(format, args...))
		}
	}
	for id, y := range want {
		recs := sc.completed[id]
		switch {
		case len(recs) == 0:
			v.lost++
			note("run %s: no completed record", id)
			continue
		case len(recs) > 1:
			v.duplicated++
			note("run %s: %d completed records", id, len(recs))
		}
		r := recs[0]
		if got := r.Metrics["y"]; got != y {
			v.wrong++
			note("run %s: y=%v, want %v", id, got, y)
		}
		if artifact == "" {
			continue
		}
		ok := false
		for _, a := range r.Artifacts {
			b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(a.Path)))
			sum := sha256.Sum256(b)
			if err != nil || int64(len(b)) != a.Size || hex.EncodeToString(sum[:]) != a.SHA256 {
				v.wrong++
				note("run %s: artifact %s is not what its record says (%v)", id, a.Name, err)
			}
			if a.Name == artifact {
				ok = string(b) == id+"\n"
			}
		}
		if !ok {
			v.wrong++
			note("run %s: artifact %s missing or not its own", id, artifact)
		}
	}
	for id := range sc.completed {
		if _, ok := want[id]; !ok {
			v.wrong++
			note("completed record of run %s, which is not in the plan", id)
		}
	}
	return v
}

// leftovers lists temporary files of metalab under dir: names with a .tmp
// part or metalab-* scratch directories.
func leftovers(t *testing.T, dirs ...string) []string {
	t.Helper()
	var found []string
	for _, dir := range dirs {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			name := d.Name()
			if p != dir && (strings.Contains(name, ".tmp") || strings.HasPrefix(name, "metalab-") || strings.HasSuffix(name, "-journal")) {
				found = append(found, p)
				if d.IsDir() {
					return filepath.SkipDir
				}
			}
			return nil
		})
	}
	sort.Strings(found)
	return found
}

// figures prints a test's line of figures where CI output shows it.
func figures(t *testing.T, format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	fmt.Printf("FIGURES %s: %s\n", t.Name(), line)
	t.Log(line)
}

// combined returns a command's combined output as a string.
func combined(cmd *exec.Cmd) (string, error) {
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	return b.String(), err
}

// combinedPeak is combined, and the command's own peak resident memory in
// MiB: the high-water mark of its address space (VmHWM), polled while it
// runs. The rusage that wait returns cannot serve: a child that os/exec
// starts shares the test binary's memory until it execs, and the kernel
// keeps the larger high-water mark of the two (hundreds of MiB late in a
// test run).
func combinedPeak(cmd *exec.Cmd) (string, int64, error) {
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	if err := cmd.Start(); err != nil {
		return "", 0, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	var peakKB int64
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if st, err := os.ReadFile(status); err == nil {
			for _, line := range strings.Split(string(st), "\n") {
				if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					var kb int64
					fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
					peakKB = max(peakKB, kb)
				}
			}
		}
		select {
		case err := <-done:
			return b.String(), peakKB >> 10, err
		case <-tick.C:
		}
	}
}

// winningRecords returns the winning record (see store.Record.Beats) of
// each run ID in a store's segments, read directly, without its indexes.
func winningRecords(t *testing.T, st string) map[string]*store.Record {
	t.Helper()
	best := map[string]*store.Record{}
	files, _ := filepath.Glob(filepath.Join(st, "segments", "*.jsonl"))
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		_, err = store.ReadSegment(fh, func(r *store.Record, _ int64, _ int) error {
			if old := best[r.RunID]; old == nil || r.Beats(old) {
				best[r.RunID] = r
			}
			return nil
		})
		fh.Close()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	return best
}

// winners groups the winning records of a store by the value of param in
// the experiment file's plan.
func winners(t *testing.T, expFile, st, param string) map[string][]*store.Record {
	t.Helper()
	e, err := expfile.Load(expFile)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := launcher.NewPlan(e)
	if err != nil {
		t.Fatal(err)
	}
	value := map[string]string{}
	for i := range plan.Len() {
		value[plan.At(i).ID] = fmt.Sprint(plan.At(i).Params[param])
	}
	out := map[string][]*store.Record{}
	for id, r := range winningRecords(t, st) {
		out[value[id]] = append(out[value[id]], r)
	}
	return out
}

// sweepCmd writes op (as op.sh) and toml (as NAME.toml) into dir and
// returns the command that runs them into dir/store with workers workers,
// quietly, env added to the environment; and the paths of the experiment
// file and the store.
func sweepCmd(t *testing.T, bin, dir, name, op, toml string, workers int, env ...string) (cmd *exec.Cmd, exp, st string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "op.sh"), []byte(op), 0o755); err != nil {
		t.Fatal(err)
	}
	exp = filepath.Join(dir, name+".toml")
	if err := os.WriteFile(exp, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	st = filepath.Join(dir, "store")
	cmd = exec.Command(bin, "run", exp, "--store", st, "--progress", "quiet", "--no-table", "--workers", fmt.Sprint(workers))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	return cmd, exp, st
}
