package templates

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// hostile is an experiment name that breaks any careless quoting.
const hostile = `my "exp" $(rm -rf /) ü`

// scripts are the golden cases: testdata/NAME.golden.
var scripts = []struct {
	name   string
	script Script
}{
	{"minimal", Script{
		JobName:   "sweep",
		ArraySpec: "0-9",
		Command:   []string{"/usr/local/bin/metalab", "worker", "--layout", "/data/store/submissions/1.json", "--array", "0"},
	}},
	{"norequeue", Script{
		JobName:   "sweep",
		ArraySpec: "0-3",
		NoRequeue: true,
		Command:   []string{"/usr/local/bin/metalab", "worker", "--layout", "/data/store/submissions/2.json", "--array", "0"},
	}},
	{"full", Script{
		JobName:      JobName(hostile),
		ArraySpec:    "0-10%4",
		Output:       "/data/my store #1/logs/slurm/%x-%A_%a.out",
		Error:        "/data/my store #1/logs/slurm/%x-%A_%a.err",
		Partition:    "gpu",
		Time:         "1-02:00:00",
		Mem:          "16G",
		CPUsPerTask:  8,
		Gpus:         "a100:2",
		Account:      "proj-42",
		QOS:          "normal",
		Constraint:   "intel&ib",
		Signal:       "B:USR1@120",
		Requeue:      true,
		Dependency:   "afterany:1234",
		ExtraOptions: []string{"--exclusive", "--comment=" + hostile, `--mail-user=a\b'c`},
		Modules:      []string{"gcc/12.2", "python/3.11 (default)"},
		Setup:        []string{`echo "starting on $(hostname)" >&2`, "ulimit -c 0"},
		Env: map[string]string{
			"OMP_NUM_THREADS":    "8",
			"METALAB_EXPERIMENT": hostile,
			"QUOTES":             "it's \"quoted\" \\ `ticks` $HOME",
			"NEWLINE":            "a\nb",
			"EMPTY":              "",
		},
		Workdir: "/data/my store #1/work dir",
		Command: []string{"/opt/metalab/bin/metalab", "worker", "--store", "/data/my store #1",
			"--experiment", hostile, "--array", "2", "--layout", "/data/my store #1/submissions/1.json"},
	}},
}

func render(t *testing.T, s Script) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, s, ""); err != nil {
		t.Fatalf("Render: %v", err)
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	for _, tt := range scripts {
		t.Run(tt.name, func(t *testing.T) {
			got := render(t, tt.script)
			path := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./templates -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("Render()=\n%s\nwant (%s; go test ./templates -update rewrites it)\n%s", got, path, want)
			}
		})
	}
}

// writeScripts renders every golden case into a temporary directory.
func writeScripts(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for _, tt := range scripts {
		path := filepath.Join(dir, tt.name+".sh")
		if err := os.WriteFile(path, render(t, tt.script), 0o755); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	return paths
}

func TestShellcheck(t *testing.T) {
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Skip("shellcheck is not installed (apt-get install shellcheck); skipping the lint of rendered scripts")
	}
	for _, path := range writeScripts(t) {
		if out, err := exec.Command("shellcheck", "--shell=bash", "--severity=style", path).CombinedOutput(); err != nil {
			t.Errorf("shellcheck %s: %v\n%s", filepath.Base(path), err, out)
		}
	}
}

func TestBashSyntax(t *testing.T) {
	for _, path := range writeScripts(t) {
		if out, err := exec.Command("bash", "-n", path).CombinedOutput(); err != nil {
			t.Errorf("bash -n %s: %v\n%s", filepath.Base(path), err, out)
		}
	}
}

// TestRunScript runs a rendered script and checks that every value reached
// the worker exactly as given.
func TestRunScript(t *testing.T) {
	workdir := filepath.Join(t.TempDir(), `work dir #1 $(touch pwned) 'q'`)
	if err := os.Mkdir(workdir, 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{hostile, "it's", `"double"`, "`backticks`", "a\nb", "", "$HOME", "*", "-n"}
	s := Script{
		JobName: JobName(hostile),
		Modules: []string{"gcc/12.2", hostile},
		Setup:   []string{`echo "setup ran" >&2`},
		Env:     map[string]string{"EXPERIMENT": hostile, "NEWLINE": "a\nb", "EMPTY": ""},
		Workdir: workdir,
		Command: append([]string{"bash", "-c", `printf '[%s]\n' "$@" "$EXPERIMENT" "$NEWLINE" "$EMPTY" "$PWD"`, "worker"}, args...),
	}
	path := filepath.Join(t.TempDir(), "job.sh")
	if err := os.WriteFile(path, render(t, s), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", path)
	// A stand-in for Lmod's module function, exported the way Lmod does.
	cmd.Env = append(os.Environ(), `BASH_FUNC_module%%=() { printf 'module %s\n' "$*" >&2; }`)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("bash %s: %v\nstderr:\n%s", path, err, stderr.String())
	}
	var want strings.Builder
	for _, v := range append(args, hostile, "a\nb", "", workdir) {
		want.WriteString("[" + v + "]\n")
	}
	if got := stdout.String(); got != want.String() {
		t.Errorf("worker saw\n%s\nwant\n%s", got, want.String())
	}
	if got, want := stderr.String(), "module load gcc/12.2\nmodule load "+hostile+"\nsetup ran\n"; got != want {
		t.Errorf("stderr=%q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(workdir, "pwned")); err == nil {
		t.Errorf("the work directory's name ran a command")
	}
}

func TestCustomTemplate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "my.tmpl")
	src := "#!/bin/sh\n#SBATCH --job-name={{sbatch .JobName}}\nexec {{shjoin .Command}}\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	err := Render(&buf, Script{JobName: "a b", Command: []string{"/bin/worker", "x y"}}, path)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	if got, want := buf.String(), "#!/bin/sh\n#SBATCH --job-name=\"a b\"\nexec /bin/worker 'x y'\n"; got != want {
		t.Fatalf("Render()=%q, want %q", got, want)
	}
}

func TestCustomTemplateErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, src string
		want      string // regexp
	}{
		{"parse", "#!/bin/bash\n# fine\n{{if .JobName}}\n{{shq .JobName\n", `template: .*/parse\.tmpl:5: unclosed action started at .*/parse\.tmpl:4`},
		{"unknown function", "#!/bin/bash\n\n{{nope .JobName}}\n", `template: .*/unknown function\.tmpl:3: function "nope" not defined`},
		{"unknown field", "#!/bin/bash\n{{.JobName}}\n{{.Nope}}\n", `template: .*/unknown field\.tmpl:3:2: executing .* can't evaluate field Nope`},
		{"newline in a custom #SBATCH line", "#SBATCH --comment={{sbatch (index .Setup 0)}}\n", `custom #SBATCH line\.tmpl:1:.*contains a newline`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name+".tmpl")
			if err := os.WriteFile(path, []byte(tt.src), 0o644); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			s := Script{JobName: "x", Setup: []string{"echo a\necho b"}, Command: []string{"true"}}
			err := Render(&buf, s, path)
			if err == nil {
				t.Fatalf("Render succeeded:\n%s", buf.String())
			}
			if !regexp.MustCompile(tt.want).MatchString(err.Error()) {
				t.Fatalf("Render error %q, want it to match %q", err, tt.want)
			}
			if buf.Len() != 0 {
				t.Fatalf("Render wrote %q before failing", buf.String())
			}
		})
	}

	err := Render(new(bytes.Buffer), Script{Command: []string{"true"}}, filepath.Join(dir, "missing.tmpl"))
	if err == nil || !strings.Contains(err.Error(), "missing.tmpl") {
		t.Fatalf("Render with a missing template: %v, want an error naming it", err)
	}
}

func TestRenderErrors(t *testing.T) {
	cmd := []string{"/bin/worker"}
	tests := []struct {
		name string
		s    Script
		want string
	}{
		{"no command", Script{}, "Script.Command is empty"},
		{"empty binary", Script{Command: []string{""}}, "Script.Command is empty"},
		{"newline in job name", Script{JobName: "a\nb", Command: cmd}, "Script.JobName contains a newline"},
		{"carriage return in output", Script{Output: "a\rb", Command: cmd}, "Script.Output contains a newline"},
		{"newline in error", Script{Error: "x\n", Command: cmd}, "Script.Error contains a newline"},
		{"newline in partition", Script{Partition: "\n", Command: cmd}, "Script.Partition contains a newline"},
		{"newline in time", Script{Time: "1:00\n", Command: cmd}, "Script.Time contains a newline"},
		{"newline in mem", Script{Mem: "1G\n", Command: cmd}, "Script.Mem contains a newline"},
		{"newline in account", Script{Account: "a\n", Command: cmd}, "Script.Account contains a newline"},
		{"newline in qos", Script{QOS: "a\n", Command: cmd}, "Script.QOS contains a newline"},
		{"newline in constraint", Script{Constraint: "a\n", Command: cmd}, "Script.Constraint contains a newline"},
		{"newline in gpus", Script{Gpus: "1\n", Command: cmd}, "Script.Gpus contains a newline"},
		{"newline in signal", Script{Signal: "USR1\n", Command: cmd}, "Script.Signal contains a newline"},
		{"newline in dependency", Script{Dependency: "afterany:1\n", Command: cmd}, "Script.Dependency contains a newline"},
		{"newline in array", Script{ArraySpec: "0-1\n#SBATCH --x", Command: cmd}, "Script.ArraySpec contains a newline"},
		{"newline in extra option", Script{ExtraOptions: []string{"--a", "--b=\nx"}, Command: cmd}, "Script.ExtraOptions[1] contains a newline"},
		{"extra option without dash", Script{ExtraOptions: []string{"exclusive"}, Command: cmd}, `Script.ExtraOptions[0] "exclusive" is not an sbatch option`},
		{"NUL in an #SBATCH value", Script{Account: "a\x00", Command: cmd}, "Script.Account contains a NUL byte"},
		{"NUL in an argument", Script{Command: []string{"/bin/worker", "a\x00"}}, "Script.Command[1] contains a NUL byte"},
		{"NUL in workdir", Script{Workdir: "\x00", Command: cmd}, "Script.Workdir contains a NUL byte"},
		{"NUL in module", Script{Modules: []string{"\x00"}, Command: cmd}, "Script.Modules[0] contains a NUL byte"},
		{"NUL in setup", Script{Setup: []string{"\x00"}, Command: cmd}, "Script.Setup[0] contains a NUL byte"},
		{"NUL in env", Script{Env: map[string]string{"A": "\x00"}, Command: cmd}, `Script.Env["A"] contains a NUL byte`},
		{"bad env name", Script{Env: map[string]string{"A-B": "x"}, Command: cmd}, `Script.Env["A-B"] is not a shell variable name`},
		{"env name with a digit first", Script{Env: map[string]string{"1A": "x"}, Command: cmd}, `Script.Env["1A"] is not a shell variable name`},
		{"negative cpus", Script{CPUsPerTask: -1, Command: cmd}, "Script.CPUsPerTask is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Render(&buf, tt.s, "")
			if err == nil {
				t.Fatalf("Render succeeded:\n%s", buf.String())
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Render error %q, want it to contain %q", err, tt.want)
			}
			if buf.Len() != 0 {
				t.Fatalf("Render wrote %q before failing", buf.String())
			}
		})
	}
}

func TestBuiltin(t *testing.T) {
	path := filepath.Join(t.TempDir(), "copy.tmpl")
	if err := os.WriteFile(path, []byte(Builtin()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range scripts {
		var buf bytes.Buffer
		if err := Render(&buf, tt.script, path); err != nil {
			t.Fatalf("Render with a copy of Builtin(): %v", err)
		}
		if got, want := buf.String(), string(render(t, tt.script)); got != want {
			t.Fatalf("a copy of Builtin() renders %s differently:\n%s", tt.name, got)
		}
	}
}

// TestSbatchParsesQuoting submits a held job to a real SLURM cluster and
// reads back the values its #SBATCH lines carried. hack/test.sh sets
// METALAB_TEST_SLURM=1 once its cluster is up.
func TestSbatchParsesQuoting(t *testing.T) {
	if os.Getenv("METALAB_TEST_SLURM") != "1" {
		t.Skip("METALAB_TEST_SLURM is not 1; skipping the check against a real sbatch (hack/test.sh starts a cluster)")
	}
	for _, tool := range []string{"sbatch", "scontrol", "scancel"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("METALAB_TEST_SLURM=1 but %s is missing: %v", tool, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	output := filepath.Join(dir, `logs #1`, `out "x" $y 'z'.txt`)
	s := Script{
		JobName:      hostile,
		ArraySpec:    "0-2%1",
		Output:       output,
		ExtraOptions: []string{"--hold", "--comment=" + hostile + ` #not a comment \ end`},
		Command:      []string{"true"},
	}
	path := filepath.Join(dir, "job.sh")
	if err := os.WriteFile(path, render(t, s), 0o755); err != nil {
		t.Fatal(err)
	}
	// sbatch retries for minutes while the cluster is full; a shorter wait
	// tells that apart from a refusal of the script.
	sctx, scancel := context.WithTimeout(ctx, 20*time.Second)
	defer scancel()
	out, err := exec.CommandContext(sctx, "sbatch", "--parsable", path).CombinedOutput()
	if err != nil && strings.Contains(string(out), "temporarily unable to accept job") {
		t.Skipf("the cluster accepts no job now (MaxJobCount reached?): %s", out)
	}
	if err != nil {
		t.Fatalf("sbatch: %v\n%s", err, out)
	}
	id, _, _ := strings.Cut(strings.TrimSpace(string(out)), ";")
	defer func() {
		if out, err := exec.Command("scancel", id).CombinedOutput(); err != nil {
			t.Errorf("scancel %s: %v\n%s", id, err, out)
		}
	}()
	out, err = exec.CommandContext(ctx, "scontrol", "show", "job", id).CombinedOutput()
	if err != nil {
		t.Fatalf("scontrol show job %s: %v\n%s", id, err, out)
	}
	fields := map[string]string{
		"JobName": hostile,
		"StdOut":  output,
		"Comment": hostile + ` #not a comment \ end`,
	}
	if !strings.Contains(string(out), "Reason=JobHeldUser") {
		t.Errorf("job %s is not held, so --hold in ExtraOptions was lost:\n%s", id, out)
	}
	for key, want := range fields {
		m := regexp.MustCompile(`(?m)(?:^|\s)` + key + `=(.*?) *$`).FindStringSubmatch(string(out))
		if m == nil {
			t.Errorf("scontrol show job %s has no %s:\n%s", id, key, out)
			continue
		}
		if got := m[1]; got != want {
			t.Errorf("%s=%q, want %q", key, got, want)
		}
	}
}
