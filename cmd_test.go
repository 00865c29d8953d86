package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/metalab-hpc/metalab/expfile"
	"github.com/metalab-hpc/metalab/internal/testenv"
	"github.com/metalab-hpc/metalab/launcher"
)

// TestMain lets the test binary act as the metalab binary, so the scripts
// in testdata/script drive the real command line end to end.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"metalab": func() { os.Exit(run()) },
	})
}

// TestScripts runs the CLI contracts in testdata/script. Each script gets a
// copy of examples/ and python/ (the Python helpers) in its work directory.
// Besides the standard commands they use:
//
//	exits CODE PROG ARGS...    run PROG (like exec) and check its exit code
//	lines FILE N [REGEXP]      FILE (or stdout, stderr) has N lines matching
//	runids STORE               set $RUN0, $RUN1, ... to the store's run IDs
//	                           in results order
func TestScripts(t *testing.T) {
	examples, err := filepath.Abs("examples")
	if err != nil {
		t.Fatal(err)
	}
	helpers, err := filepath.Abs("python")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("PYTHONDONTWRITEBYTECODE", "1")
			if home := os.Getenv("HOME"); home != "" {
				env.Setenv("HOME", home) // pyenv's python3 shim finds its Python there
			}
			if err := copyDir(helpers, filepath.Join(env.WorkDir, "python")); err != nil {
				return err
			}
			return copyDir(examples, filepath.Join(env.WorkDir, "examples"))
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":  cmdExits,
			"lines":  cmdLines,
			"runids": cmdRunIDs,
		},
	})
}

func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROG ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("%s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

func cmdLines(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: lines FILE N [REGEXP]")
	}
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	re := regexp.MustCompile(".")
	if len(args) == 3 {
		re, err = regexp.Compile(args[2])
		ts.Check(err)
	}
	got := 0
	for _, l := range strings.Split(ts.ReadFile(args[0]), "\n") {
		if re.MatchString(l) {
			got++
		}
	}
	if (got == want) == neg {
		ts.Fatalf("%s has %d lines matching %q, want %s%d", args[0], got, re, map[bool]string{true: "not ", false: ""}[neg], want)
	}
}

func cmdRunIDs(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: runids STORE")
	}
	ts.Check(ts.Exec("metalab", "results", "--store", args[0], "--format", "jsonl"))
	dec := json.NewDecoder(strings.NewReader(ts.ReadFile("stdout")))
	for i := 0; dec.More(); i++ {
		var rec struct {
			RunID string `json:"run_id"`
		}
		ts.Check(dec.Decode(&rec))
		ts.Setenv("RUN"+strconv.Itoa(i), rec.RunID)
	}
}

func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			if d.Name() == "__pycache__" {
				return filepath.SkipDir
			}
			return os.MkdirAll(target, 0o755)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, info.Mode().Perm())
	})
}

// TestPandasSnippet runs the pandas snippet on the CSV export of the
// pi example. It needs python3 with pandas (Debian: python3-pandas).
func TestPandasSnippet(t *testing.T) {
	python := requirePandas(t)
	work := t.TempDir()
	for _, dir := range []string{"examples", "python"} {
		if err := copyDir(dir, filepath.Join(work, dir)); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PYTHONDONTWRITEBYTECODE", "1")
	storeDir := filepath.Join(work, "pi")
	csv := filepath.Join(work, "results.csv")
	app := func(args ...string) {
		t.Helper()
		var out, errOut bytes.Buffer
		a := &launcher.App{Name: "metalab", LoadFile: expfile.Load, Stdout: &out, Stderr: &errOut}
		if code := a.Run(context.Background(), append([]string{"metalab"}, args...)); code != 0 {
			t.Fatalf("metalab %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
		}
	}
	app("run", filepath.Join(work, "examples", "pi", "pi.toml"), "--store", storeDir, "--progress", "quiet")
	app("results", "--store", storeDir, "--format", "csv", "--output", csv)

	snippet := `import pandas
df = pandas.read_csv("results.csv")
successful = df[df["status"] == "completed"]
print(successful.groupby("n_samples")["pi_estimate"].mean())
`
	cmd := exec.Command(python, "-c", snippet)
	cmd.Dir = work
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pandas snippet: %v\n%s", err, out)
	}
	// n_samples, then one line per point: "1000    3.14..."
	var means []float64
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && (f[0] == "1000" || f[0] == "10000" || f[0] == "100000") {
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				t.Fatalf("pandas printed %q", line)
			}
			means = append(means, v)
		}
	}
	if len(means) != 3 {
		t.Fatalf("pandas printed %d group means, want 3:\n%s", len(means), out)
	}
	for _, m := range means {
		if m < 2.9 || m > 3.4 {
			t.Errorf("mean pi estimate %v, want about 3.14:\n%s", m, out)
		}
	}
}

// requirePandas returns a Python that imports pandas. Without one the test
// skips, and says how to get one; under hack/test.sh and in CI, which
// install python3-pandas, it fails instead (testenv.Strict), so that the
// Python tests cannot go quietly missing.
func requirePandas(t *testing.T) string {
	t.Helper()
	python := pythonWithPandas()
	if python != "" {
		return python
	}
	testenv.Need(t, "no python3 with pandas", "apt-get install python3-pandas")
	return ""
}

// TestPythonReader runs the tests of python/ (python -m unittest): the
// Python reader metalab_results.py against stores they make with this
// binary (the test binary acting as metalab, on $PATH), of per-run and
// persistent Python operations that capture series, data and artifacts
// through metalab_capture.py and metalab_persistent.py.
func TestPythonReader(t *testing.T) {
	python := requirePandas(t)
	bin, err := exec.LookPath("metalab")
	if err != nil {
		t.Fatalf("the metalab command of the test binary is not on $PATH: %v", err)
	}
	cmd := exec.Command(python, "-m", "unittest", "discover", "-s", "python", "-p", "test_*.py", "-v")
	cmd.Env = append(os.Environ(), "METALAB_BIN="+bin, "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python tests: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// pythonWithPandas finds a Python that imports pandas: python3 from $PATH,
// or Debian's, which a pyenv or virtualenv python3 may shadow.
func pythonWithPandas() string {
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(p, "-c", "import pandas").Run() == nil {
			return p
		}
	}
	return ""
}

// TestStaticBinarySaysStatic builds the static binary as the README says
// (hack/build-static.sh) and checks that `version` calls it static, and
// the test binary, linked as `go build` links, dynamic.
func TestStaticBinarySaysStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: builds a static binary")
	}
	static := filepath.Join(t.TempDir(), "metalab-static")
	if out, err := exec.Command("bash", filepath.Join("hack", "build-static.sh"), static).CombinedOutput(); err != nil {
		t.Fatalf("hack/build-static.sh: %v\n%s", err, out)
	}
	out, err := exec.Command(static, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("metalab-static version: %v\n%s", err, out)
	}
	for _, want := range []string{"\nlinking  static\n", "\ntags     netgo,osusergo,sqlite_omit_load_extension\n", "\nsqlite   3."} {
		if !strings.Contains(string(out), want) {
			t.Errorf("metalab-static version lacks %q:\n%s", want, out)
		}
	}
	var buf bytes.Buffer
	a := &launcher.App{Name: "metalab", Stdout: &buf, Stderr: &buf}
	if code := a.Run(context.Background(), []string{"metalab", "version"}); code != 0 || !strings.Contains(buf.String(), "\nlinking  dynamic") {
		t.Errorf("metalab version (the test binary): exit %d\n%s", code, buf.String())
	}
}
