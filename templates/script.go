package templates

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Script is the data of an sbatch script. Empty fields are left out of it.
type Script struct {
	// JobName is the job's name (--job-name); see [JobName].
	JobName string
	// ArraySpec is the --array value, like "0-10%4".
	ArraySpec string
	// Output and Error are the --output and --error file patterns, like
	// those of [LogPatterns]. SLURM does not create their directory, and
	// a task whose directory is missing fails without a word.
	Output, Error string
	// Partition, Time, Mem, Account, QOS, Constraint and Gpus are the
	// values of the sbatch options of those names (--time, --mem,
	// --gpus, ...), as sbatch takes them.
	Partition, Time, Mem, Account, QOS, Constraint, Gpus string
	// CPUsPerTask is --cpus-per-task; 0 leaves SLURM's default.
	CPUsPerTask int
	// Signal is the --signal value, like "B:USR1@120": "B:" sends it to
	// the batch shell, which the worker replaces.
	Signal string
	// Requeue adds --requeue, NoRequeue --no-requeue; neither leaves it to
	// the cluster's JobRequeue.
	Requeue, NoRequeue bool
	// Dependency is the --dependency value, like "afterany:1234".
	Dependency string
	// ExtraOptions are further sbatch options, one option (with its value)
	// each, like "--exclusive" or "--comment=a b". They are quoted as
	// needed, so they must not be quoted already.
	ExtraOptions []string
	// Modules are loaded with "module load", one per line, before Setup.
	Modules []string
	// Setup are lines of shell code run before the worker, as written.
	Setup []string
	// Env holds the variables exported to the worker. Names must be shell
	// identifiers.
	Env map[string]string
	// Workdir is the directory the worker runs in; "" leaves SLURM's
	// (the directory sbatch was run from).
	Workdir string
	// Command is the worker's argv: the binary's path and its arguments.
	Command []string
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// validate reports, naming the field, what no template could render safely.
func (s *Script) validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("templates: Script.%s %s", field, fmt.Sprintf(format, args...))
	}
	sbatch := []struct{ field, value string }{
		{"JobName", s.JobName}, {"ArraySpec", s.ArraySpec}, {"Output", s.Output}, {"Error", s.Error},
		{"Partition", s.Partition}, {"Time", s.Time}, {"Mem", s.Mem}, {"Account", s.Account},
		{"QOS", s.QOS}, {"Constraint", s.Constraint}, {"Gpus", s.Gpus}, {"Signal", s.Signal},
		{"Dependency", s.Dependency},
	}
	for i, o := range s.ExtraOptions {
		field := fmt.Sprintf("ExtraOptions[%d]", i)
		if !strings.HasPrefix(o, "-") {
			return bad(field, "%q is not an sbatch option (want --name or --name=value)", o)
		}
		sbatch = append(sbatch, struct{ field, value string }{field, o})
	}
	for _, f := range sbatch {
		if strings.ContainsAny(f.value, "\n\r") {
			return bad(f.field, "%s: %q", errNewline, f.value)
		}
		if strings.ContainsRune(f.value, 0) {
			return bad(f.field, "contains a NUL byte: %q", f.value)
		}
	}
	if s.CPUsPerTask < 0 {
		return bad("CPUsPerTask", "is negative: %d", s.CPUsPerTask)
	}
	if len(s.Command) == 0 || s.Command[0] == "" {
		return bad("Command", "is empty: the script needs a worker to run")
	}
	// The shell cannot hold a NUL byte in a word or a line.
	shell := []struct{ field, value string }{{"Workdir", s.Workdir}}
	for i, v := range s.Modules {
		shell = append(shell, struct{ field, value string }{fmt.Sprintf("Modules[%d]", i), v})
	}
	for i, v := range s.Setup {
		shell = append(shell, struct{ field, value string }{fmt.Sprintf("Setup[%d]", i), v})
	}
	for i, v := range s.Command {
		shell = append(shell, struct{ field, value string }{fmt.Sprintf("Command[%d]", i), v})
	}
	names := make([]string, 0, len(s.Env))
	for name := range s.Env {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		field := fmt.Sprintf("Env[%q]", name)
		if !identifier.MatchString(name) {
			return bad(field, "is not a shell variable name")
		}
		shell = append(shell, struct{ field, value string }{field, s.Env[name]})
	}
	for _, f := range shell {
		if strings.ContainsRune(f.value, 0) {
			return bad(f.field, "contains a NUL byte: %q", f.value)
		}
	}
	return nil
}

// LogPatterns returns --output and --error patterns for the logs of an
// array's tasks in dir: dir/%x-%A_%a.out and .err, that is job name, array
// job id and task id. A '%' in dir is doubled so that SLURM keeps it.
// SLURM expands no pattern at all in a path that holds a backslash.
func LogPatterns(dir string) (stdout, stderr string) {
	base := filepath.Join(escapePercent(dir), "%x-%A_%a")
	return base + ".out", base + ".err"
}

// JobLogPattern returns the --output pattern of a single job's log in dir:
// dir/%x-%j.out (job name and job id), with a '%' in dir doubled.
func JobLogPattern(dir string) string {
	return filepath.Join(escapePercent(dir), "%x-%j.out")
}

// escapePercent doubles '%', which SLURM's filename patterns read as the
// start of a replacement symbol.
func escapePercent(dir string) string { return strings.ReplaceAll(dir, "%", "%%") }
