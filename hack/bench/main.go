// Command bench measures metalab's own cost and prints one table, each figure
// beside a baseline measured in the same run, so that a ratio holds on a
// noisy machine. hack/bench.sh builds and runs it; docs/performance.md
// explains the scenarios and keeps the last full run.
//
// Every scenario runs in a child process (this program, re-executed with
// "child" as its first argument), so that its peak memory is the child's own
// (rusage maxrss) and no scenario inherits another's heap.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/expfile"
	"github.com/metalab-hpc/metalab/launcher"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/seeds"
	"github.com/metalab-hpc/metalab/store"
)

// sizes of one bench run; --quick divides them.
type sizes struct {
	inproc       []int // runs of the in-process sweeps
	fileStore    int   // runs of the file-per-run baseline
	cmdTrue      int
	persistent   int
	perRunPython int
	plan         int // runs of the planned sweep; half are completed first
	collect      int // records collected from the node indexes
	nodes        int
	report       []int // runs of the reported stores
	postgres     int   // runs exported to PostgreSQL
	results      int   // runs of the store read through the Results API
}

var full = sizes{
	inproc: []int{100_000, 1_000_000}, fileStore: 5_000, cmdTrue: 10_000,
	persistent: 100_000, perRunPython: 1_000, plan: 1_000_000, collect: 1_000_000, nodes: 32,
	report: []int{100_000, 1_000_000}, postgres: 1_000_000, results: 1_000_000,
}

var quick = sizes{
	inproc: []int{20_000, 100_000}, fileStore: 1_000, cmdTrue: 2_000,
	persistent: 10_000, perRunPython: 200, plan: 100_000, collect: 100_000, nodes: 32,
	report: []int{20_000}, postgres: 100_000, results: 100_000,
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "child" {
		if err := child(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench child:", err)
			os.Exit(1)
		}
		return
	}
	quickFlag := flag.Bool("quick", false, "smaller sizes, for a check in about a minute")
	work := flag.String("dir", "", "work directory (default: a new temporary one, removed afterwards)")
	only := flag.String("only", "", "run only this scenario: report, persistent, postgres, results")
	onSlurm := flag.Bool("slurm", false, "run only scenario 7, the sweeps through the local SLURM cluster (hack/slurm-docker/up.sh --accounting)")
	flag.Parse()
	sz := full
	if *quickFlag {
		sz = quick
	}
	dir := *work
	if dir == "" {
		d, err := os.MkdirTemp("", "metalab-bench-")
		if err != nil {
			fatal(err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	var rows []row
	add := func(r row) {
		rows = append(rows, r)
		fmt.Fprintf(os.Stderr, "bench: %-46s %s\n", r.scenario, r.figure)
	}
	workers := runtime.NumCPU()
	if *onSlurm {
		n, nTrue := 1_000_000, 100_000
		if *quickFlag {
			n, nTrue = 100_000, 10_000
		}
		slurmScenario(dir, n, nTrue, add)
		printTable(os.Stdout, rows)
		return
	}
	switch *only {
	case "report":
		reportScenario(dir, sz.report, workers, add)
		printTable(os.Stdout, rows)
		return
	case "postgres":
		postgresScenario(dir, sz.postgres, sz.nodes, workers, add)
		printTable(os.Stdout, rows)
		return
	case "results":
		resultsScenario(dir, sz.results, workers, add)
		printTable(os.Stdout, rows)
		return
	case "persistent":
		persistentScenario(dir, sz, workers, add)
		printTable(os.Stdout, rows)
		return
	}

	// 1. In-process sweeps against a file-per-run store.
	base := measure(dir, "filestore", sz.fileStore, workers)
	basePer := base.perRun()
	var inprocPer []float64
	for _, n := range sz.inproc {
		m := measure(dir, "inproc", n, workers)
		per := m.perRun()
		inprocPer = append(inprocPer, per)
		add(row{
			scenario: fmt.Sprintf("1. in-process op, %s runs", count(n)),
			figure:   fmt.Sprintf("%.0f runs/s, %s/run, %s peak", 1/per, us(per), mib(m.maxRSS)),
			baseline: fmt.Sprintf("file per run (write+fsync+rename): %s/run", us(basePer)),
			ratio:    basePer / per,
			target:   "≥100,000 runs/s (≤10 µs/run)",
			met:      per <= 10e-6,
		})
	}
	if len(inprocPer) == 2 {
		g := inprocPer[1] / inprocPer[0]
		add(row{
			scenario: fmt.Sprintf("1. per-run cost %s vs %s runs", count(sz.inproc[1]), count(sz.inproc[0])),
			figure:   fmt.Sprintf("%.2fx", g), target: "≤1.5x", met: g <= 1.5, ratio: -1,
		})
	}

	// 2. /bin/true per run against a bare fork-and-wait loop.
	fork := measure(dir, "fork", sz.cmdTrue, workers)
	cmd := measure(dir, "cmdtrue", sz.cmdTrue, workers)
	add(row{
		scenario: fmt.Sprintf("2. command /bin/true, %s runs", count(sz.cmdTrue)),
		figure:   fmt.Sprintf("%s/run, %s peak", us(cmd.perRun()), mib(cmd.maxRSS)),
		baseline: fmt.Sprintf("fork+wait loop: %s/run", us(fork.perRun())),
		ratio:    fork.perRun() / cmd.perRun(),
		target:   "≤1.5x the loop", met: cmd.perRun() <= 1.5*fork.perRun(),
	})

	// 3. Persistent Python against the one-at-a-time protocol and a
	// process per run.
	persistentScenario(dir, sz, workers, add)

	// 4. Planning a sweep against a store holding half of it.
	planStore := filepath.Join(dir, "plan-store")
	must(runChild("seed-plan", planStore, strconv.Itoa(sz.plan)))
	p := measure(dir, "plan", sz.plan, workers, planStore)
	add(row{
		scenario: fmt.Sprintf("4. plan %s runs, %s done (submit --dry-run)", count(sz.plan), count(sz.plan/2)),
		figure:   fmt.Sprintf("%.2f s, %s peak", p.seconds, mib(p.maxRSS)),
		target:   "≤3 s, ≤400 MB", met: p.seconds <= 3 && p.maxRSS <= 400<<20, ratio: -1,
	})

	// 5. Collect, status and export of a store written by many nodes.
	colStore := filepath.Join(dir, "collect-store")
	must(runChild("seed-nodes", colStore, strconv.Itoa(sz.collect), strconv.Itoa(sz.nodes)))
	for _, c := range []struct {
		what, scenario, target string
		limit                  float64
	}{
		{"collect", fmt.Sprintf("5. collect %s records from %d node indexes", count(sz.collect), sz.nodes), "≤10 s", 10},
		{"status", "5. status on that store", "≤0.5 s", 0.5},
		{"export", "5. CSV export of that store", "≤5 s", 5},
	} {
		m := measure(dir, c.what, sz.collect, workers, colStore)
		add(row{
			scenario: c.scenario,
			figure:   fmt.Sprintf("%.2f s, %s peak", m.seconds, mib(m.maxRSS)),
			target:   c.target, met: m.seconds <= c.limit, ratio: -1,
		})
	}
	files := countFiles(filepath.Join(colStore))
	add(row{
		scenario: "files in that store", figure: fmt.Sprintf("%d files for %s runs from %d writers", files, count(sz.collect), sz.nodes),
		target: "O(writers)", met: files <= 4*sz.nodes+16, ratio: -1,
	})

	// 6. The HTML report.
	reportScenario(dir, sz.report, workers, add)

	// 8. Export to PostgreSQL, and a grouped query there.
	postgresScenario(dir, sz.postgres, sz.nodes, workers, add)

	// 9. The Results API over a store of a million runs.
	resultsScenario(dir, sz.results, workers, add)

	printTable(os.Stdout, rows)
}

// persistentScenario is scenario 3: a trivial Python operation served by
// python/metalab_persistent.py, which pipelines, beside the same helper
// made to serve one run at a time (the protocol before pipelining, which
// programs that do not announce it still get), and beside a process per
// run.
func persistentScenario(dir string, sz sizes, workers int, add func(row)) {
	if _, err := exec.LookPath("python3"); err != nil {
		add(row{scenario: "3. persistent Python", figure: "skipped: no python3", ratio: -1})
		return
	}
	perRun := measure(dir, "perrun-py", sz.perRunPython, workers)
	alone := measure(dir, "persistent-py-alone", sz.persistent, workers)
	serial := measure(dir, "persistent-py-serial", sz.persistent, workers)
	pers := measure(dir, "persistent-py", sz.persistent, workers)
	add(row{
		scenario: fmt.Sprintf("3. persistent Python op, %s runs", count(sz.persistent)),
		figure:   fmt.Sprintf("%s/run, %s peak", us(pers.perRun()), mib(pers.maxRSS)),
		baseline: fmt.Sprintf("one at a time: %s/run", us(serial.perRun())),
		ratio:    serial.perRun() / pers.perRun(),
	})
	// What metalab adds to the op's own work: the helper serving the same
	// requests from a file, as many processes as workers, is that work.
	beyond, serialBeyond := pers.perRun()-alone.perRun(), serial.perRun()-alone.perRun()
	add(row{
		scenario: "3. persistent: metalab's part beyond the op's own work",
		figure:   fmt.Sprintf("%s/run", us(beyond)),
		baseline: fmt.Sprintf("one at a time: %s/run (the op alone, requests from a file: %s/run)", us(serialBeyond), us(alone.perRun())),
		ratio:    serialBeyond / beyond,
		target:   "≤25 µs/run", met: beyond <= 25e-6,
	})
	add(row{
		scenario: fmt.Sprintf("3. the same, one run at a time, %s runs", count(sz.persistent)),
		figure:   fmt.Sprintf("%s/run, %s peak", us(serial.perRun()), mib(serial.maxRSS)),
		baseline: fmt.Sprintf("process per run: %s/run", us(perRun.perRun())),
		ratio:    perRun.perRun() / serial.perRun(),
	})
}

type row struct {
	scenario, figure, baseline string
	ratio                      float64 // baseline cost / figure cost; < 0: none
	target                     string
	met                        bool
}

func printTable(w io.Writer, rows []row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tfigure\tbaseline\tbaseline/figure\ttarget\tmet")
	for _, r := range rows {
		ratio := "-"
		if r.ratio >= 0 {
			ratio = fmt.Sprintf("%.2fx", r.ratio)
		}
		base := r.baseline
		if base == "" {
			base = "-"
		}
		met := "no"
		if r.met {
			met = "yes"
		}
		if r.target == "" {
			met = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.scenario, r.figure, base, ratio, r.target, met)
	}
	tw.Flush()
}

// result is what a child measured: the timed part's wall time, and the
// child's peak memory.
type result struct {
	n       int
	seconds float64
	maxRSS  int64 // bytes
}

func (r result) perRun() float64 { return r.seconds / float64(r.n) }

// measure runs scenario what in a child and returns its figures.
func measure(dir, what string, n, workers int, extra ...string) result {
	args := append([]string{what, dir, strconv.Itoa(n), strconv.Itoa(workers)}, extra...)
	cmd := exec.Command(os.Args[0], append([]string{"child"}, args...)...)
	cmd.Stderr = os.Stderr
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		fatal(fmt.Errorf("%s: %w", what, err))
	}
	var secs float64
	if _, err := fmt.Sscan(out.String(), &secs); err != nil {
		fatal(fmt.Errorf("%s: bad output %q", what, out.String()))
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return result{n: n, seconds: secs, maxRSS: ru.Maxrss << 10}
}

// runChild runs a setup step in a child.
func runChild(args ...string) error {
	cmd := exec.Command(os.Args[0], append([]string{"child"}, args...)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

// child runs one scenario and prints the seconds of its timed part.
func child(args []string) error {
	switch args[0] {
	case "seed-plan":
		n, _ := strconv.Atoi(args[2])
		return seedPlan(args[1], n)
	case "seed-report":
		n, _ := strconv.Atoi(args[2])
		// Its failed runs are meant: the report shows them.
		h, err := launcher.Run(context.Background(), reportExperiment(n), quietOpts(args[1], runtime.NumCPU()))
		if err != nil {
			return err
		}
		_, err = h.Result()
		return err
	case "seed-pg":
		n, _ := strconv.Atoi(args[2])
		nodes, _ := strconv.Atoi(args[3])
		return seedPG(args[1], n, nodes)
	case "pg-query":
		// It times itself: the median of 3.
		return pgQuery(args[4], os.Stdout)
	case "seed-results":
		n, _ := strconv.Atoi(args[2])
		return seedResults(args[1], n)
	case "seed-nodes":
		n, _ := strconv.Atoi(args[2])
		nodes, _ := strconv.Atoi(args[3])
		return seedNodes(args[1], n, nodes)
	}
	what, dir := args[0], args[1]
	n, _ := strconv.Atoi(args[2])
	workers, _ := strconv.Atoi(args[3])
	work, err := os.MkdirTemp(dir, what+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	// METALAB_BENCH_CPUPROFILE=DIR writes DIR/<scenario>.cpu.prof and
	// DIR/<scenario>.mem.prof of the timed part, for go tool pprof.
	if prof := os.Getenv("METALAB_BENCH_CPUPROFILE"); prof != "" {
		f, err := os.Create(filepath.Join(prof, what+".cpu.prof"))
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		runtime.MemProfileRate = 64 << 10
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
			if m, err := os.Create(filepath.Join(prof, what+".mem.prof")); err == nil {
				pprof.Lookup("allocs").WriteTo(m, 0)
				m.Close()
			}
		}()
	}
	start := time.Now()
	switch what {
	case "inproc":
		err = sweep(benchExperiment(n), work, workers)
	case "filestore":
		err = fileStore(work, n, workers)
	case "fork":
		err = forkLoop(n, workers)
	case "cmdtrue":
		err = fileSweep(work, `command = ["/bin/true"]`, n, workers)
	case "perrun-py":
		err = fileSweep(work, pythonCommand(work, "per-run"), n, workers)
	case "persistent-py":
		err = fileSweep(work, pythonCommand(work, "persistent"), n, workers)
	case "persistent-py-serial":
		err = fileSweep(work, pythonCommand(work, "serial"), n, workers)
	case "persistent-py-alone":
		pythonCommand(work, "persistent")
		start = time.Now() // the requests are written first
		err = pythonAlone(work, n, workers, &start)
	case "plan":
		err = app(benchExperiment(n), io.Discard, "submit", "--dry-run", "--store", args[4], "bench")
	case "collect":
		err = app(benchExperiment(n), io.Discard, "collect", "--store", args[4])
	case "status":
		err = app(benchExperiment(n), io.Discard, "status", "--store", args[4])
	case "report":
		err = app(benchExperiment(1), io.Discard, "report", "--store", args[4], "-o", args[5])
	case "results":
		err = readResults(args[4], false)
	case "results-all":
		err = readResults(args[4], true)
	case "results-records":
		err = readRecords(args[4])
	case "export":
		err = app(benchExperiment(n), io.Discard, "results", "--store", args[4], "--format", "csv", "--output", filepath.Join(work, "out.csv"))
	case "pg-export":
		err = app(benchExperiment(1), io.Discard, "store", "export", "--store", args[4], "--to", args[5])
	default:
		return fmt.Errorf("unknown scenario %q", what)
	}
	if err != nil {
		return err
	}
	fmt.Println(time.Since(start).Seconds())
	return nil
}

// benchExperiment is n trivial runs: the operation records one metric.
func benchExperiment(n int) launcher.Experiment {
	xs := make([]any, n)
	for i := range xs {
		xs[i] = i
	}
	return launcher.Experiment{
		Name: "bench", Version: "1",
		Operation: launcher.Op(func(p params.Point, c capture.Capture) {
			c.Metric("x", float64(p.Int("x")))
		}),
		Params: params.Grid{"x": xs},
		Seeds:  seeds.New(1, 1),
	}
}

func quietOpts(dir string, workers int) launcher.Option {
	return launcher.WithOptions(launcher.Options{Store: dir, Workers: workers, ProgressMode: "quiet", Progress: io.Discard, Logger: &nop})
}

func sweep(exp launcher.Experiment, dir string, workers int) error {
	h, err := launcher.Run(context.Background(), exp, quietOpts(dir, workers))
	if err != nil {
		return err
	}
	if _, err := h.Result(); err != nil {
		return err
	}
	if s := h.Status(); s.Completed != s.Total {
		return fmt.Errorf("%v", s)
	}
	return nil
}

// fileSweep runs an experiment file with the given command lines.
func fileSweep(dir, command string, n, workers int) error {
	toml := fmt.Sprintf("name = \"bench\"\nversion = \"1\"\n%s\n[params.grid]\nx = [%s]\n[seeds]\nbase = 1\nreplicates = 1\n",
		command, intList(n))
	path := filepath.Join(dir, "exp.toml")
	if err := os.WriteFile(path, []byte(toml), 0o644); err != nil {
		return err
	}
	exp, err := expfile.Load(path)
	if err != nil {
		return err
	}
	return sweep(*exp, filepath.Join(dir, "store"), workers)
}

// pythonCommand writes a trivial Python operation beside the experiment
// file and returns the command lines that run it: "per-run", "persistent",
// or "serial" (persistent, with the helper serving one run at a time).
func pythonCommand(dir, mode string) string {
	helper, err := filepath.Abs("python")
	must(err)
	if mode != "per-run" {
		src := fmt.Sprintf("import sys\nsys.path.insert(0, %q)\nimport metalab_persistent\n", helper)
		if mode == "serial" {
			src += "metalab_persistent._PIPELINE = False\n"
		}
		src += "\ndef op(params, seeds, capture):\n    capture.metric(\"x\", params[\"x\"])\n\n" +
			"metalab_persistent.serve(op)\n"
		must(os.WriteFile(filepath.Join(dir, "op.py"), []byte(src), 0o644))
		return "command = [\"python3\", \"op.py\"]\nmode = \"persistent\""
	}
	src := fmt.Sprintf("import os, sys\nsys.path.insert(0, %q)\nimport metalab_capture as capture\n"+
		"capture.metric(\"x\", int(os.environ[\"METALAB_PARAM_X\"]))\n", helper)
	must(os.WriteFile(filepath.Join(dir, "op.py"), []byte(src), 0o644))
	return `command = ["python3", "op.py"]`
}

// pythonAlone runs the op.py that pythonCommand wrote as workers
// processes, each serving its share of n requests from a file as metalab
// would send them, with its channel to /dev/null: the op's own work,
// without metalab. start is reset once the request files are written.
func pythonAlone(dir string, n, workers int, start *time.Time) error {
	var cmds []*exec.Cmd
	for w := range workers {
		var b bytes.Buffer
		for i := w; i < n; i += workers {
			fmt.Fprintf(&b, `{"run_id":"%016x","params":{"x":%d},"seed":1234567890123,"numpy_seed":12345,"replicate":0,"seed_base":1,"artifact_dir":"%s/artifacts-%d","scratch":"%s/scratch"}`+"\n",
				i, i, dir, i, dir)
		}
		in := filepath.Join(dir, fmt.Sprintf("requests-%d.jsonl", w))
		if err := os.WriteFile(in, b.Bytes(), 0o644); err != nil {
			return err
		}
		stdin, err := os.Open(in)
		if err != nil {
			return err
		}
		defer stdin.Close()
		logs, err := os.Create(filepath.Join(dir, fmt.Sprintf("log-%d", w)))
		if err != nil {
			return err
		}
		defer logs.Close()
		null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		defer null.Close()
		cmd := exec.Command("python3", "op.py")
		cmd.Dir, cmd.Stdin, cmd.Stdout, cmd.Stderr = dir, stdin, logs, logs
		cmd.ExtraFiles = []*os.File{null}
		cmd.Env = append(os.Environ(), "METALAB_MODE=persistent", "METALAB_CHANNEL_FD=3", "METALAB_CAPABILITIES=pipeline")
		cmds = append(cmds, cmd)
	}
	*start = time.Now()
	for _, c := range cmds {
		if err := c.Start(); err != nil {
			return err
		}
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			return err
		}
	}
	return nil
}

func intList(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(i))
	}
	return b.String()
}

// fileStore is the baseline of scenario 1: what a store that keeps a file
// per run pays, each record written whole and durably on its own.
func fileStore(dir string, n, workers int) error {
	rec := []byte(`{"v":1,"run_id":"0123456789abcdef","status":"completed","experiment":"bench","version":"1","params":{"x":1},"seed_base":1,"replicate":0,"seed":1234567890123,"metrics":{"x":1},"started":"2026-01-01T00:00:00.000000001Z","ended":"2026-01-01T00:00:00.000000002Z","host":"node","pid":1234}` + "\n")
	return parallel(n, workers, func(i int) error {
		path := filepath.Join(dir, fmt.Sprintf("run-%08d.json", i))
		f, err := os.Create(path + ".tmp")
		if err != nil {
			return err
		}
		if _, err := f.Write(rec); err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		return os.Rename(path+".tmp", path)
	})
}

// forkLoop is the baseline of scenario 2: start /bin/true and wait for it.
func forkLoop(n, workers int) error {
	return parallel(n, workers, func(int) error { return exec.Command("/bin/true").Run() })
}

func parallel(n, workers int, fn func(i int) error) error {
	jobs := make(chan int)
	errs := make(chan error, workers)
	for range workers {
		go func() {
			var first error
			for i := range jobs {
				if err := fn(i); err != nil && first == nil {
					first = err
				}
			}
			errs <- first
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	var first error
	for range workers {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// app runs the metalab command line over exp.
func app(exp launcher.Experiment, out io.Writer, args ...string) error {
	var stderr bytes.Buffer
	a := &launcher.App{Name: "bench", Experiments: []launcher.Experiment{exp}, Stdout: out, Stderr: &stderr}
	if code := a.Run(context.Background(), append([]string{"bench"}, args...)); code != 0 {
		return fmt.Errorf("%s: exit %d: %s", args[0], code, stderr.String())
	}
	return nil
}

// seedPlan completes the first half of a sweep of n runs.
func seedPlan(dir string, n int) error {
	exp := benchExperiment(n)
	o := launcher.Options{Store: dir, ProgressMode: "quiet", Progress: io.Discard, Logger: &nop,
		Select: func(p *launcher.Plan) ([]int, error) {
			idx := make([]int, p.Len()/2)
			for i := range idx {
				idx[i] = i
			}
			return idx, nil
		}}
	h, err := launcher.Run(context.Background(), exp, launcher.WithOptions(o))
	if err != nil {
		return err
	}
	_, err = h.Result()
	return err
}

// seedStore opens the store dir for records of exp's plan written
// directly, as its writers would: the store gets the plan's manifest.
func seedStore(dir string, exp launcher.Experiment) (*store.Store, *launcher.Plan, error) {
	plan, err := launcher.NewPlan(&exp)
	if err != nil {
		return nil, nil, err
	}
	st, err := store.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	if err := st.Init(plan.Manifest()); err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, plan, nil
}

// seedNodes writes n completed runs of the bench experiment as nodes
// writers would, each with its own node index.
func seedNodes(dir string, n, nodes int) error {
	exp := benchExperiment(n)
	st, plan, err := seedStore(dir, exp)
	if err != nil {
		return err
	}
	defer st.Close()
	t0 := time.Unix(1_800_000_000, 0)
	for k := range nodes {
		w, err := st.NewWriter(store.WriterOptions{Name: fmt.Sprintf("job-%02d", k), Node: fmt.Sprintf("node%02d", k)})
		if err != nil {
			return err
		}
		for i := k; i < n; i += nodes {
			spec := plan.At(i)
			rec := &store.Record{
				RunID: spec.ID, Status: store.StatusCompleted, Experiment: exp.Name, Version: exp.Version,
				Params: spec.Params, SeedBase: spec.Seeds.Base, Replicate: spec.Replicate, Seed: spec.Seeds.Seed(),
				Started: t0.Add(time.Duration(i) * time.Millisecond), Ended: t0.Add(time.Duration(i)*time.Millisecond + 500*time.Microsecond),
				Host: fmt.Sprintf("node%02d", k), PID: 1000 + k,
			}
			rec.Metrics = capture.Metrics{"x": float64(i)}
			if err := w.Append(rec); err != nil {
				return err
			}
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
	return nil
}

func countFiles(dir string) int {
	n := 0
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

func count(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func us(sec float64) string {
	switch {
	case sec >= 1e-3:
		return fmt.Sprintf("%.2f ms", sec*1e3)
	default:
		return fmt.Sprintf("%.1f µs", sec*1e6)
	}
}

func mib(b int64) string { return fmt.Sprintf("%d MiB", b>>20) }

func must(err error) {
	if err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

var nop = zerolog.Nop()
