package expfile

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/metalab-hpc/metalab/command"
	"github.com/metalab-hpc/metalab/launcher"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/seeds"
	"github.com/metalab-hpc/metalab/slurm"
)

// writeFile writes content to dir/name and returns its path.
func writeFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadFull(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "data/train.csv", "a,b\n1,2\n", 0o644)
	writeFile(t, dir, "run.sh", "#!/bin/sh\n", 0o755)
	writeFile(t, dir, "job.sbatch.tmpl", "#!/bin/sh\n", 0o644)
	file := writeFile(t, dir, "exp.toml", `
name = "full"
version = "2"
description = "every key"
command = ["./run.sh", "--fast"]
mode = "per-run"
workdir = "."
timeout = "10m"
retries = 2
track_code = true

[env]
OMP_NUM_THREADS = 1
MODE = "fast"

[params.grid]
n = [1, 2, 3]
method = ["a", "b"]
nested = [[1, 2], {k = "v"}]

[seeds]
base = 7
replicates = 4

[context]
dataset = "mnist"
limits = {max = 10}

[context.files]
train = "data/train.csv"

[slurm]
partition = "gpu"
time = "1-00:00"
mem = "4G"
cpus_per_task = 4
modules = ["python/3.11"]
setup = ["source venv/bin/activate"]
sbatch_options = ["--exclusive"]
runs_per_task = 10
max_concurrent = 50
signal = "USR1@120"
requeue = true
template = "job.sbatch.tmpl"
`, 0o644)
	exp, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := exp.Name, "full"; got != want {
		t.Errorf("Name=%q, want %q", got, want)
	}
	if got, want := exp.Version, "2"; got != want {
		t.Errorf("Version=%q, want %q", got, want)
	}
	if got, want := exp.Timeout, 10*time.Minute; got != want {
		t.Errorf("Timeout=%v, want %v", got, want)
	}
	if got, want := exp.Retries, 2; got != want {
		t.Errorf("Retries=%d, want %d", got, want)
	}
	if got, want := exp.TrackCode, true; got != want {
		t.Errorf("TrackCode=%v, want %v", got, want)
	}
	if got, want := exp.Seeds, seeds.New(7, 4); got != want {
		t.Errorf("Seeds=%+v, want %+v", got, want)
	}
	wantGrid := params.Grid{
		"n":      {int64(1), int64(2), int64(3)},
		"method": {"a", "b"},
		"nested": {[]any{int64(1), int64(2)}, map[string]any{"k": "v"}},
	}
	if !reflect.DeepEqual(exp.Params, wantGrid) {
		t.Errorf("Params=%#v, want %#v", exp.Params, wantGrid)
	}
	wantCtx := map[string]any{
		"dataset": "mnist",
		"limits":  map[string]any{"max": int64(10)},
		"train":   launcher.File(filepath.Join(dir, "data/train.csv")),
	}
	if !reflect.DeepEqual(exp.Context, wantCtx) {
		t.Errorf("Context=%#v, want %#v", exp.Context, wantCtx)
	}
	wantSlurm := slurm.Settings{
		Partition: "gpu", Time: "1-00:00", Mem: "4G", CPUsPerTask: 4,
		Modules: []string{"python/3.11"}, Setup: []string{"source venv/bin/activate"},
		ExtraOptions: []string{"--exclusive"}, RunsPerTask: 10, MaxConcurrent: 50,
		Signal: "USR1@120", Requeue: ptr(true), Template: filepath.Join(dir, "job.sbatch.tmpl"),
	}
	if !reflect.DeepEqual(exp.Slurm, wantSlurm) {
		t.Errorf("Slurm=%+v, want %+v", exp.Slurm, wantSlurm)
	}
	op, ok := exp.Operation.(*command.Op)
	if !ok {
		t.Fatalf("Operation is a %T, want *command.Op", exp.Operation)
	}
	if got, want := op.Path(), filepath.Join(dir, "run.sh"); got != want {
		t.Errorf("command path %q, want %q", got, want)
	}
	if got, want := op.Dir(), dir; got != want {
		t.Errorf("workdir %q, want %q", got, want)
	}
}

func TestLoadDefaults(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "min.toml", "name = \"min\"\ncommand = \"sh -c true\"\n", 0o644)
	exp, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if exp.Params != nil {
		t.Errorf("Params=%v, want nil (one empty point)", exp.Params)
	}
	if got, want := exp.Seeds, seeds.New(DefaultSeedBase, DefaultReplicates); got != want {
		t.Errorf("Seeds=%+v, want %+v", got, want)
	}
	if exp.Timeout != 0 || exp.Retries != 0 || exp.Version != "" {
		t.Errorf("Timeout=%v Retries=%d Version=%q, want zero values", exp.Timeout, exp.Retries, exp.Version)
	}
	if got, want := exp.Operation.(*command.Op).Dir(), dir; got != want {
		t.Errorf("workdir %q, want the file's directory %q", got, want)
	}
}

func TestLoadRandomAndCases(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "r.toml", `
name = "r"
command = ["sh", "-c", "true"]
timeout = 90

[params.random]
n_trials = 20
seed = 3

[params.random.space]
lr = {dist = "loguniform", low = 1e-4, high = 0.1}
width = {dist = "loguniform_int", low = 16, high = 1024}
depth = {dist = "randint", low = 1, high = 4}
dropout = {dist = "uniform", low = 0, high = 0.5}
opt = {dist = "choice", values = ["adam", "sgd"]}
`, 0o644)
	exp, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := exp.Params.(params.Random)
	if !ok {
		t.Fatalf("Params is a %T, want params.Random", exp.Params)
	}
	want := params.Random{Trials: 20, Seed: 3, Space: map[string]params.Dist{
		"lr": params.LogUniform(1e-4, 0.1), "width": params.LogUniformInt(16, 1024),
		"depth": params.RandInt(1, 4), "dropout": params.Uniform(0, 0.5), "opt": params.Choice("adam", "sgd"),
	}}
	if !reflect.DeepEqual(r.Spec(), want.Spec()) {
		t.Errorf("Spec()=%v, want %v", r.Spec(), want.Spec())
	}
	if got, want := exp.Timeout, 90*time.Second; got != want {
		t.Errorf("Timeout=%v, want %v", got, want)
	}

	file = writeFile(t, dir, "c.toml", `
name = "c"
command = ["sh", "-c", "true"]
timeout = 1.5

[[params.cases]]
model = "small"
lr = 0.1

[[params.cases]]
model = "large"
lr = 0.01
layers = [64, 64]
`, 0o644)
	exp, err = Load(file)
	if err != nil {
		t.Fatal(err)
	}
	wantCases := params.Cases{
		{"model": "small", "lr": 0.1},
		{"model": "large", "lr": 0.01, "layers": []any{int64(64), int64(64)}},
	}
	if !reflect.DeepEqual(exp.Params, wantCases) {
		t.Errorf("Params=%#v, want %#v", exp.Params, wantCases)
	}
	if got, want := exp.Timeout, 1500*time.Millisecond; got != want {
		t.Errorf("Timeout=%v, want %v", got, want)
	}
}

// TestLoadErrors covers each kind of bad input: the message, the line it
// points at, and the hint.
func TestLoadErrors(t *testing.T) {
	const head = "name = \"x\"\ncommand = [\"sh\", \"-c\", \"true\"]\n" // lines 1-2
	tests := []struct {
		name    string
		content string
		line    int
		msg     string
		hint    string
	}{
		// syntax
		{"syntax", head + "[params.grid]\nn = [1, 2\n", 4, "TOML syntax error", ""},
		{"unquoted string", "name = pi\n", 1, "TOML syntax error", "quotes"},
		{"duplicate param", head + "[params.grid]\nn = [1]\nn = [2]\n", 5, "already been defined", "listed twice"},
		// unknown keys
		{"unknown top-level key", "name = \"x\"\ncomand = [\"sh\"]\n", 2, `unknown key "comand"`, `did you mean "command"?`},
		{"unknown key in seeds", head + "[seeds]\nreplicate = 3\n", 4, `unknown key "replicate" in [seeds]`, `did you mean "replicates"?`},
		{"unknown key in random", head + "[params.random]\nn_trial = 3\n", 4, `unknown key "n_trial"`, `did you mean "n_trials"?`},
		{"unknown key in slurm", head + "[slurm]\npartiton = \"gpu\"\n", 4, `unknown key "partiton" in [slurm]`, `did you mean "partition"?`},
		{"unknown key in dist", head + "[params.random]\nn_trials = 2\n[params.random.space.lr]\ndist = \"uniform\"\nlo = 0\nhigh = 1\n", 7, `unknown key "lo"`, `did you mean "low"?`},
		{"unknown params source", head + "[params.gird]\nn = [1]\n", 3, `unknown key "gird"`, `did you mean "grid"?`},
		{"misplaced top-level key", head + "[seeds]\nbase = 1\nretries = 2\n", 5, `unknown key "retries" in [seeds]`, "top-level key"},
		{"misplaced seeds key", head + "replicates = 3\n", 3, `unknown key "replicates"`, "[seeds]"},
		{"first unknown key in file order", head + "zzz = 1\n[seeds]\naaa = 2\n", 3, `unknown key "zzz"`, ""},
		// wrong types
		{"version not a string", "name = \"x\"\nversion = 0.1\ncommand = [\"sh\"]\n", 2, "version: expected a string, got a float (0.1)", `version = "0.1"`},
		{"name not a string", "name = 3\ncommand = [\"sh\"]\n", 1, "name: expected a string, got an integer (3)", ""},
		{"timeout wrong type", head + "timeout = [10]\n", 3, "timeout: expected a duration", ""},
		{"timeout bad string", head + "timeout = \"10 minutes\"\n", 3, `timeout "10 minutes" is not a duration`, "1h30m"},
		{"timeout negative", head + "timeout = -1\n", 3, "timeout is negative", ""},
		{"retries wrong type", head + "retries = \"2\"\n", 3, "retries: expected an integer, got a string", ""},
		{"retries negative", head + "retries = -1\n", 3, "retries is -1", ""},
		{"track_code wrong type", head + "track_code = \"yes\"\n", 3, "track_code: expected true or false, got a string", "track_code = true"},
		{"track_code misspelled", head + "track_cod = true\n", 3, `unknown key "track_cod"`, `did you mean "track_code"?`},
		{"replicates wrong type", head + "[seeds]\nreplicates = 2.5\n", 4, "seeds.replicates: expected an integer, got a float (2.5)", ""},
		{"replicates zero", head + "[seeds]\nreplicates = 0\n", 4, "seeds.replicates is 0", ""},
		{"seeds not a table", head + "seeds = 3\n", 3, "seeds: expected a table", "[seeds]"},
		{"env value", head + "[env]\nX = [1]\n", 4, "env.X: expected a string", ""},
		{"command element", "name = \"x\"\ncommand = [\"sh\", 3]\n", 2, "command[1]: expected a string, got an integer (3)", `"3"`},
		{"command type", "name = \"x\"\ncommand = 3\n", 2, "command: expected an array of strings or a string", ""},
		{"slurm int", head + "[slurm]\ncpus_per_task = \"4\"\n", 4, "slurm.cpus_per_task: expected an integer", ""},
		{"slurm list", head + "[slurm]\nmodules = \"python\"\n", 4, "slurm.modules: expected an array of strings", `modules = ["python"]`},
		{"slurm string", head + "[slurm]\nmem = 4\n", 4, "slurm.mem: expected a string", `mem = "4"`},
		{"grid axis not an array", head + "[params.grid]\nn = 5\n", 4, "params.grid.n: expected an array of values, got an integer (5)", "n = [5]"},
		{"grid key that is top-level", head + "[params.grid]\nn = [1]\ntimeout = \"1m\"\n", 5, "params.grid.timeout: expected an array", "top-level key"},
		// limits
		{"artifact size not a size", head + "max_artifact_size = \"big\"\n", 3, `max_artifact_size "big" is not a size`, "1GiB"},
		{"capture line zero", head + "max_capture_line = 0\n", 3, "max_capture_line must be positive", "default"},
		{"capture size negative", head + "max_capture_size = \"-1MiB\"\n", 3, "is not a size", ""},
		{"capture line too large", head + "max_capture_line = \"2GiB\"\n", 3, "too large (at most 1 GiB)", ""},
		{"artifact size wrong type", head + "max_artifact_size = [1]\n", 3, "max_artifact_size: expected a number of bytes", ""},
		// params too large for a run's environment
		{"param too large for the environment", head + "[params.grid]\nx = [1]\nblob = [\"" + strings.Repeat("a", 200<<10) + "\"]\n", 5,
			`METALAB_PARAMS would be 200 KiB in the environment of a run, over the 128 KiB that Linux takes for one variable; the largest param is "blob"`, "[context]"},
		{"context too large for the environment", head + "[context]\nnote = \"" + strings.Repeat("a", 200<<10) + "\"\n", 3,
			"METALAB_CONTEXT would be 200 KiB", "[context]"},
		// params
		{"empty grid", head + "[params.grid]\n", 3, "params.grid has no axes", "remove [params.grid]"},
		{"empty axis", head + "[params.grid]\na = [1]\nn = []\n", 5, "grid axis params.grid.n is empty", ""},
		{"repeated axis value", head + "[params.grid]\nn = [1, 2, 1]\n", 4, "twice", ""},
		{"case collision", head + "[params.grid]\nlr = [1]\nLR = [2]\n", 5, `param "LR" and param "lr" (line 4) would both be passed as $METALAB_PARAM_LR`, "rename"},
		{"punctuation collision", head + "[params.grid]\na-b = [1]\na_b = [2]\n", 5, "$METALAB_PARAM_A_B", ""},
		{"collision across cases", head + "[[params.cases]]\nn = 1\n[[params.cases]]\nN = 2\n", 6, `"N" and param "n"`, ""},
		{"collision in random space", head + "[params.random]\nn_trials = 2\n[params.random.space]\nlr = {dist = \"uniform\", low = 0, high = 1}\nLr = {dist = \"uniform\", low = 0, high = 1}\n", 7, "$METALAB_PARAM_LR", ""},
		{"empty param name", head + "[params.grid]\n\"\" = [1]\n", 4, "param name is empty", ""},
		{"param and context", head + "[params.grid]\nn = [1]\n[context]\nn = 3\n", 6, `"n" is both a param and a context entry`, ""},
		{"two sources", head + "[params.grid]\nn = [1]\n[[params.cases]]\nn = 2\n", 5, "params.grid and params.cases cannot be combined", "one param source"},
		{"nan in grid", head + "[params.grid]\nx = [1.0, nan]\n", 4, "params.grid.x[1]: NaN and infinite values", ""},
		{"nan on a later line", head + "[params.grid]\nx = [\n  1.0,\n  inf,\n]\n", 6, "params.grid.x[1]: NaN", ""},
		{"datetime in grid", head + "[params.grid]\nd = [1979-05-27]\n", 4, "datetime values are not supported", "string"},
		{"random no trials", head + "[params.random]\nseed = 1\n", 3, "params.random has no n_trials", "n_trials = 20"},
		{"random zero trials", head + "[params.random]\nn_trials = 0\n", 4, "params.random.n_trials is 0", ""},
		{"random no space", head + "[params.random]\nn_trials = 2\n", 3, "no space", ""},
		{"unknown dist", head + "[params.random]\nn_trials = 2\n[params.random.space]\nlr = {dist = \"log_uniform\", low = 1, high = 2}\n", 6, `unknown dist "log_uniform"`, `did you mean "loguniform"?`},
		{"dist missing key", head + "[params.random]\nn_trials = 2\n[params.random.space]\nlr = {dist = \"uniform\", low = 1}\n", 6, "params.random.space.lr has no high", ""},
		{"dist wrong key", head + "[params.random]\nn_trials = 2\n[params.random.space]\nlr = {dist = \"choice\", low = 1}\n", 6, `dist "choice" does not take low`, "takes values"},
		{"dist bad range", head + "[params.random]\nn_trials = 2\n[params.random.space]\nlr = {dist = \"loguniform\", low = 0, high = 1}\n", 6, "params.random.space.lr:", ""},
		{"randint float", head + "[params.random]\nn_trials = 2\n[params.random.space]\nk = {dist = \"randint\", low = 1.5, high = 3}\n", 6, "params.random.space.k.low: expected an integer", ""},
		{"empty choice", head + "[params.random]\nn_trials = 2\n[params.random.space]\nk = {dist = \"choice\", values = []}\n", 6, "values is empty", ""},
		{"empty cases", head + "[params]\ncases = []\n", 4, "params.cases is empty", ""},
		{"duplicate cases", head + "[[params.cases]]\nn = 1\n[[params.cases]]\nn = 1\n", 5, "case 1 is the same as case 0 (line 3)", ""},
		// command
		{"command missing", "name = \"x\"\n", 0, "command is missing", "command = ["},
		{"command empty", "name = \"x\"\ncommand = []\n", 2, "command is empty", ""},
		{"command not found", "name = \"x\"\ncommand = [\"no-such-program-xyz\", \"a.py\"]\n", 2, `command "no-such-program-xyz" not found in $PATH`, "spelling"},
		{"command not executable", "name = \"x\"\ncommand = [\"./noexec.sh\"]\n", 2, "is not executable", "chmod +x"},
		{"command missing file", "name = \"x\"\ncommand = \"./missing.sh\"\n", 2, "does not exist", ""},
		{"command redirection", "name = \"x\"\ncommand = \"python3 run.py > out.txt\"\n", 2, "not run by a shell",
			`let a shell run it: command = ["sh", "-c", 'python3 run.py > out.txt'], or put it in a script and run that; metalab keeps each run's stdout and stderr already ('metalab logs')`},
		{"command pipe", "name = \"x\"\ncommand = \"python3 run.py | tee log\"\n", 2, "not run by a shell", `command = ["sh", "-c", 'python3 run.py | tee log'], or`},
		{"command pipe and quote", "name = \"x\"\ncommand = \"echo \\\"it's\\\" | cat\"\n", 2, "not run by a shell", `command = ["sh", "-c", "echo \"it's\" | cat"]`},
		{"command quotes only", "name = \"x\"\ncommand = \"python3 run.py --name 'a b'\"\n", 2, "not run by a shell", `write it as an array, one argument a string: command = ["python3", "run.py", "--name", "a b"]`},
		{"command assignment", "name = \"x\"\ncommand = \"FOO=1 python3 run.py\"\n", 2, "variable assignment", "[env]"},
		{"mode unknown", head + "mode = \"batch\"\n", 3, `unknown mode "batch"`, ""},
		{"workdir missing", head + "workdir = \"nope\"\n", 3, "workdir", ""},
		{"env reserved", head + "[env]\nMETALAB_SEED = \"1\"\n", 4, "env: METALAB_SEED is reserved", ""},
		// name
		{"name missing", "command = [\"sh\"]\n", 0, "name is missing", ""},
		{"name empty", "name = \" \"\ncommand = [\"sh\"]\n", 1, "name is empty", ""},
		// context
		{"context file missing", head + "[context.files]\ndata = \"data/missing.csv\"\n", 4, "context file data/missing.csv: no such file or directory", "relative to the experiment file"},
		{"context file not a string", head + "[context.files]\ndata = 3\n", 4, "context.files.data: expected a file path", ""},
		{"context value and file", head + "[context]\nd = 1\n[context.files]\nd = \"noexec.sh\"\n", 6, `context "d" is both a value and a file`, ""},
		{"context collision", head + "[context]\nk = 1\nK = 2\n", 5, "$METALAB_CONTEXT_K", ""},
		// slurm
		{"slurm time", head + "[slurm]\npartition = \"x\"\ntime = \"2h\"\n", 5, "slurm.time: \"2h\" is not a SLURM time", ""},
		{"slurm mem", head + "[slurm]\nmem = \"4 GB\"\n", 4, "slurm.mem", ""},
		{"slurm newline", head + "[slurm]\nsetup = [\"a\", \"\"\"b\nc\"\"\"]\n", 4, "slurm.setup[1]", ""},
		{"slurm negative", head + "[slurm]\nmax_concurrent = -2\n", 4, "slurm.max_concurrent is -2", ""},
		{"slurm template missing", head + "[slurm]\ntemplate = \"nope.tmpl\"\n", 4, "slurm.template", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "noexec.sh", "#!/bin/sh\n", 0o644)
			file := writeFile(t, dir, "bad.toml", tt.content, 0o644)
			_, err := Load(file)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Load()=%v, want an *expfile.Error", err)
			}
			if !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("message %q, want it to contain %q", e.Msg, tt.msg)
			}
			if got, want := e.Line, tt.line; got != want {
				t.Errorf("line %d, want %d (%s)", got, want, e)
			}
			if !strings.Contains(e.Hint(), tt.hint) {
				t.Errorf("hint %q, want it to contain %q", e.Hint(), tt.hint)
			}
			wantPrefix := file + ":"
			if e.Line == 0 {
				wantPrefix = file + ": "
			}
			if !strings.HasPrefix(e.Error(), wantPrefix) {
				t.Errorf("Error()=%q, want it to start with %q", e.Error(), wantPrefix)
			}
		})
	}
}

func TestLoadUnreadable(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, path, msg string }{
		{"missing", filepath.Join(dir, "missing.toml"), "no such file or directory"},
		{"directory", dir, "it is a directory"},
	}
	for _, tt := range tests {
		_, err := Load(tt.path)
		var e *Error
		if !errors.As(err, &e) || !strings.Contains(e.Error(), tt.msg) || !strings.HasPrefix(e.Error(), tt.path+": cannot read") {
			t.Errorf("%s: Load()=%v, want %q", tt.name, err, tt.msg)
		}
	}
}

func ptr[T any](v T) *T { return &v }
