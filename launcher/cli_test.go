package launcher

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/seeds"
	"github.com/metalab-hpc/metalab/slurm"
)

// stubScheduler is a scheduler for tests of the commands without a
// cluster: a *slurm.Client whose tools are shell scripts in a temporary
// directory. Each script appends its arguments, one call a line, to
// TOOL.calls in that directory and runs the body the test gave it; $calls
// is that file. A tool without a body is a path that does not exist, so an
// unexpected call fails as a missing tool does.
type stubScheduler struct {
	*slurm.Client
	dir string
}

func newStubScheduler(t *testing.T, bodies map[string]string) *stubScheduler {
	t.Helper()
	dir := t.TempDir()
	path := func(tool string) string {
		p := filepath.Join(dir, tool)
		body, ok := bodies[tool]
		if !ok {
			return p + "-not-stubbed"
		}
		script := fmt.Sprintf("#!/bin/sh\ncalls='%s.calls'\nprintf '%%s\\n' \"$*\" >> \"$calls\"\n%s\n", p, body)
		if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for tool := range bodies {
		switch tool {
		case "sbatch", "squeue", "scontrol", "scancel", "sacct":
		default:
			t.Fatalf("no SLURM tool %q", tool)
		}
	}
	return &stubScheduler{dir: dir, Client: &slurm.Client{
		Sbatch: path("sbatch"), Squeue: path("squeue"), Scontrol: path("scontrol"),
		Scancel: path("scancel"), Sacct: path("sacct"),
	}}
}

// calls returns the arguments of each call of tool, in order.
func (s *stubScheduler) calls(t *testing.T, tool string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dir, tool+".calls"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// recorded is a shell command that prints a file of slurm/testdata: output
// recorded on a real cluster.
func recorded(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "slurm", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return "cat '" + p + "'"
}

// Stub bodies shared by the tests of the commands.
const (
	// sbatchCounting answers job IDs 100, 101, ... in the order of the
	// calls, as sbatch --parsable does.
	sbatchCounting = `echo $((99 + $(wc -l < "$calls")))`
	// squeueEmpty: no job of the submission is left in the queue.
	squeueEmpty = `exit 0`
)

// scontrolConfig is a stub body that prints the recorded `scontrol show
// config` with MaxArraySize set to n, so that a small sweep needs several
// arrays.
func scontrolConfig(t *testing.T, maxArraySize int) string {
	return fmt.Sprintf("%s | sed 's/^MaxArraySize .*/MaxArraySize            = %d/'", recorded(t, "scontrol_show_config.txt"), maxArraySize)
}

// testApp is an App over one Go experiment, with a stub scheduler; its
// stderr is kept.
func testApp(exp Experiment, sched *stubScheduler) (*App, *bytes.Buffer) {
	var stderr bytes.Buffer
	app := &App{Name: "metalab", Experiments: []Experiment{exp}, Stdout: &stderr, Stderr: &stderr}
	if sched != nil {
		app.Slurm = sched.Client
	}
	return app, &stderr
}

// sweepExp is a Go experiment of n points x = 0, 1, ... times 2
// replicates whose runs record the metric y = x, and fail where x is in
// fail.
func sweepExp(name string, n int, fail ...int) Experiment {
	return Experiment{
		Name: name, Version: "1", Seeds: seeds.New(1, 2), Params: params.Grid{"x": seqAny(n)},
		Operation: Op(func(p params.Point, c capture.Capture) error {
			x := int(p.Int("x"))
			if slices.Contains(fail, x) {
				return fmt.Errorf("x=%d fails", x)
			}
			c.Metric("y", float64(x))
			return nil
		}),
	}
}

func TestIsExperimentFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "exp")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	load := func(string) (*Experiment, error) { return nil, nil }
	tests := []struct {
		name string
		load func(string) (*Experiment, error)
		arg  string
		want bool
	}{
		{"a .toml name", load, "sweep.toml", true},
		{"an existing file", load, file, true},
		{"a Go experiment's name", load, "pi", false},
		{"nothing", load, "", false},
		{"a program without experiment files", nil, "sweep.toml", false},
	}
	for _, tt := range tests {
		a := &App{LoadFile: tt.load}
		if got, want := a.isExperimentFile(tt.arg), tt.want; got != want {
			t.Errorf("%s: isExperimentFile(%q)=%t, want %t", tt.name, tt.arg, got, want)
		}
	}
}

func TestExperimentByName(t *testing.T) {
	one := []Experiment{{Name: "a"}}
	two := []Experiment{{Name: "a"}, {Name: "b"}}
	tests := []struct {
		name   string
		exps   []Experiment
		target string
		want   string // the experiment's name, or the hint of the error
	}{
		{"the only one", one, "", "a"},
		{"by name", two, "b", "b"},
		{"none named", two, "", "hint: name one of: a, b"},
		{"unknown", two, "c", "hint: name one of: a, b"},
		{"none at all", nil, "", "hint: usage: metalab run EXPERIMENT.toml"},
	}
	for _, tt := range tests {
		a := &App{Name: "metalab", Experiments: tt.exps}
		exp, err := a.experiment(tt.target)
		got := ""
		if err != nil {
			got = "hint: " + hintOf(err)
		} else {
			got = exp.Name
		}
		if got != tt.want {
			t.Errorf("%s: experiment(%q)=%q, want %q", tt.name, tt.target, got, tt.want)
		}
	}
}
