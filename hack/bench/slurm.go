package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// slurmScenario is bench.sh --slurm: the sweeps of hack/bench/slurmexp (a Go
// experiment built with launcher.Main) through the local cluster of
// hack/slurm-docker, from submit to the end of collect and a full CSV
// export, each beside the same sweep run here with `run`: n in-process runs,
// and nTrue runs of /bin/true.
func slurmScenario(dir string, n, nTrue int, add func(row)) {
	if out, err := exec.Command("sinfo", "-h", "-o", "%D").CombinedOutput(); err != nil {
		fatal(fmt.Errorf("--slurm needs the local cluster: %v %s\n  start it: bash hack/slurm-docker/up.sh --accounting", err, bytes.TrimSpace(out)))
	}
	bin := filepath.Join(dir, "slurmexp")
	if out, err := exec.Command("go", "build", "-o", bin, "./hack/bench/slurmexp").CombinedOutput(); err != nil {
		fatal(fmt.Errorf("go build ./hack/bench/slurmexp: %v\n%s", err, out))
	}
	env := []string{"METALAB_BENCH_RUNS=" + strconv.Itoa(n), "METALAB_BENCH_TRUE_RUNS=" + strconv.Itoa(nTrue)}
	for _, c := range []struct {
		exp, what string
		runs      int
	}{{"bench_inproc", "in-process op", n}, {"bench_true", "command /bin/true", nTrue}} {
		cl := clusterSweep(dir, bin, c.exp, c.runs, env)
		lo := localSweep(dir, bin, c.exp, c.runs, env)
		add(row{
			scenario: fmt.Sprintf("7. SLURM %s, %s runs, %d tasks", c.what, count(c.runs), cl.tasks),
			figure: fmt.Sprintf("%.1f s (submit %.1f s, queue %.1f s, collect %.1f s, CSV %.1f s)",
				cl.total(), cl.submit.secs, cl.queue, cl.collect.secs, cl.csv.secs),
			baseline: fmt.Sprintf("run here: %.1f s (run %.1f s, CSV %.1f s)", lo.total(), lo.run.secs, lo.csv.secs),
			ratio:    lo.total() / cl.total(),
			target:   "≤1.5x the local run",
			met:      cl.total() <= 1.5*lo.total(),
		})
		add(row{
			scenario: fmt.Sprintf("7. SLURM %s, peak memory", c.what),
			figure: fmt.Sprintf("submit %s, worker %s, collect %s, CSV %s",
				mib(cl.submit.rss), cl.workerRSS, mib(cl.collect.rss), mib(cl.csv.rss)),
			baseline: fmt.Sprintf("run here: %s", mib(lo.run.rss)),
			ratio:    -1,
		})
		add(row{
			scenario: fmt.Sprintf("7. SLURM %s, files in the store", c.what),
			figure:   fmt.Sprintf("%d for %d tasks: %s", cl.files, cl.tasks, cl.listing),
			ratio:    -1, target: "O(tasks)", met: cl.files <= 10*cl.tasks+100,
		})
	}
}

// timing is one command's wall time and peak RSS.
type timing struct {
	secs float64
	rss  int64
}

// timed runs bin with args and env, stdout to out (nil: discarded), and
// returns its wall time and peak RSS.
func timed(out *os.File, env []string, bin string, args ...string) timing {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = out, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		fatal(fmt.Errorf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, stderr.Bytes()))
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return timing{secs: time.Since(start).Seconds(), rss: ru.Maxrss << 10}
}

type clusterResult struct {
	submit, collect, csv timing
	queue                float64 // from the end of submit to an empty queue
	tasks, files         int
	workerRSS, listing   string
}

func (c clusterResult) total() float64 {
	return c.submit.secs + c.queue + c.collect.secs + c.csv.secs
}

// clusterSweep submits exp to a new store, waits until its jobs have left
// the queue, collects, and exports every result as CSV.
func clusterSweep(dir, bin, exp string, runs int, env []string) clusterResult {
	store := filepath.Join(dir, "cluster-"+exp)
	os.RemoveAll(store)
	if ids := queued(exp); len(ids) > 0 {
		fatal(fmt.Errorf("jobs named %s are already in the queue (%s): scancel them first", exp, strings.Join(ids, ",")))
	}
	var r clusterResult
	r.submit = timed(nil, env, bin, "submit", "--store", store, exp)
	start := time.Now()
	var jobs []string
	for {
		ids := queued(exp)
		if len(ids) == 0 {
			break
		}
		jobs = ids
		if time.Since(start) > 2*time.Hour {
			fatal(fmt.Errorf("%s: jobs still queued after 2 hours", exp))
		}
		time.Sleep(200 * time.Millisecond)
	}
	r.queue = time.Since(start).Seconds()
	r.collect = timed(nil, env, bin, "collect", "--store", store)
	r.csv = exportCSV(store, bin, env, runs)
	r.tasks = submittedTasks(store)
	r.workerRSS = workersPeak(jobs)
	r.files, r.listing = storeFiles(store)
	return r
}

type localResult struct{ run, csv timing }

func (l localResult) total() float64 { return l.run.secs + l.csv.secs }

// localSweep runs exp here, into a new store, and exports it as CSV.
func localSweep(dir, bin, exp string, runs int, env []string) localResult {
	store := filepath.Join(dir, "local-"+exp)
	os.RemoveAll(store)
	var l localResult
	l.run = timed(nil, env, bin, "run", "--store", store, "--progress", "quiet", "--no-table", exp)
	l.csv = exportCSV(store, bin, env, runs)
	return l
}

// exportCSV times `results --format csv` into a file and checks that it
// holds a row per run.
func exportCSV(store, bin string, env []string, runs int) timing {
	path := store + ".csv"
	f, err := os.Create(path)
	if err != nil {
		fatal(err)
	}
	t := timed(f, env, bin, "results", "--store", store, "--format", "csv")
	f.Close()
	f, err = os.Open(path)
	if err != nil {
		fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	rows := 0
	for sc.Scan() {
		rows++
	}
	if rows-1 != runs {
		fatal(fmt.Errorf("%s: %d CSV rows, want %d", path, rows-1, runs))
	}
	return t
}

// submittedTasks is the number of array tasks of the store's submissions.
func submittedTasks(store string) int {
	files, _ := filepath.Glob(filepath.Join(store, "submissions", "*", "submission.json"))
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			fatal(err)
		}
		var s struct {
			Arrays []struct {
				Tasks int `json:"tasks"`
			} `json:"arrays"`
		}
		if err := json.Unmarshal(b, &s); err != nil {
			fatal(fmt.Errorf("%s: %v", f, err))
		}
		for _, a := range s.Arrays {
			n += a.Tasks
		}
	}
	return n
}

// queued lists the IDs of the jobs named name in the queue.
func queued(name string) []string {
	out, err := exec.Command("squeue", "-h", "-n", name, "-o", "%i").Output()
	if err != nil {
		fatal(fmt.Errorf("squeue: %v", err))
	}
	return strings.Fields(string(out))
}

// workersPeak is the largest MaxRSS sacct gives the batch steps of jobs (a
// worker and what it started), or why there is none.
func workersPeak(jobs []string) string {
	if len(jobs) == 0 {
		return "n/a (no job seen)"
	}
	arrays := map[string]bool{}
	for _, j := range jobs {
		arrays[strings.SplitN(j, "_", 2)[0]] = true
	}
	var ids []string
	for a := range arrays {
		ids = append(ids, a)
	}
	out, err := exec.Command("sacct", "-n", "-P", "-o", "JobID,MaxRSS", "-j", strings.Join(ids, ",")).CombinedOutput()
	if err != nil || bytes.Contains(out, []byte("disabled")) {
		return "n/a (no accounting: up.sh --accounting)"
	}
	var peak int64
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, "|")
		if len(f) == 2 && strings.HasSuffix(f[0], ".batch") {
			peak = max(peak, parseRSS(f[1]))
		}
	}
	if peak == 0 {
		return "n/a (sacct gave no MaxRSS)"
	}
	return mib(peak)
}

// parseRSS reads sacct's MaxRSS: a number of bytes with a K, M or G suffix.
func parseRSS(s string) int64 {
	if s == "" {
		return 0
	}
	mult := int64(1)
	switch s[len(s)-1] {
	case 'K':
		mult = 1 << 10
	case 'M':
		mult = 1 << 20
	case 'G':
		mult = 1 << 30
	}
	v, err := strconv.ParseFloat(strings.TrimRight(s, "KMG"), 64)
	if err != nil {
		return 0
	}
	return int64(v * float64(mult))
}

// storeFiles counts the files of a store, and lists them by directory.
func storeFiles(store string) (int, string) {
	by := map[string]int{}
	total := 0
	filepath.WalkDir(store, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(store, filepath.Dir(p))
		top := strings.SplitN(rel, string(filepath.Separator), 2)[0]
		by[top]++
		total++
		return nil
	})
	var parts []string
	for d, c := range by {
		parts = append(parts, fmt.Sprintf("%s %d", d, c))
	}
	sort.Strings(parts)
	return total, strings.Join(parts, ", ")
}
