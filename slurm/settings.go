package slurm

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Settings are the [slurm] table of an experiment file: what the job array
// asks of the scheduler and how its workers run. The zero value asks for
// nothing beyond the cluster's defaults. Every string may end up on an
// #SBATCH line or in a shell script, which is why [Settings.Validate]
// refuses line breaks.
type Settings struct {
	Partition  string `toml:"partition"`
	Time       string `toml:"time"` // "MM", "MM:SS", "HH:MM:SS", "D-HH", "D-HH:MM" or "D-HH:MM:SS"
	Mem        string `toml:"mem"`  // "4G", "500M", "1024" (MB)
	Account    string `toml:"account"`
	QOS        string `toml:"qos"`
	Constraint string `toml:"constraint"`
	Gpus       string `toml:"gpus"`   // as sbatch --gpus takes it: "1", "a100:2"
	Output     string `toml:"output"` // sbatch --output pattern
	Error      string `toml:"error"`  // sbatch --error pattern
	// Template is a batch script template to use instead of the built-in
	// one, relative to the experiment file.
	Template string `toml:"template"`

	CPUsPerTask int `toml:"cpus_per_task"`
	// RunsPerTask packs this many runs into one array task, for runs too
	// short to be worth a scheduler slot each.
	RunsPerTask int `toml:"runs_per_task"`
	// MaxConcurrent caps the array tasks running at once (sbatch --array
	// %N).
	MaxConcurrent int `toml:"max_concurrent"`

	// Modules are loaded (module load) before the workers start.
	Modules []string `toml:"modules"`
	// Setup lines run in the batch script before the workers start, such
	// as activating a virtual environment.
	Setup []string `toml:"setup"`
	// ExtraOptions are further sbatch options, one per #SBATCH line, such
	// as "--exclusive".
	ExtraOptions []string `toml:"sbatch_options"`

	// Signal asks SLURM to warn the job before its time limit, as sbatch
	// --signal takes it: "USR1@120" sends SIGUSR1 120 s before the end.
	Signal string `toml:"signal"`
	// Requeue, when set, lets SLURM requeue the tasks after a node failure
	// or preemption (true: --requeue) or forbids it (false: --no-requeue).
	// Unset, the cluster's JobRequeue decides: SLURM's default requeues
	// batch jobs after a node failure.
	Requeue *bool `toml:"requeue"`
	// Collect merges the store's indexes after the array ends.
	Collect bool `toml:"collect"`
}

// SettingsError is a problem with one field of [Settings], named by its TOML
// key, so an experiment file loader can point at the line.
type SettingsError struct {
	Key string // TOML key, such as "time" or "modules"
	Err error
}

func (e *SettingsError) Error() string { return "slurm." + e.Key + ": " + e.Err.Error() }
func (e *SettingsError) Unwrap() error { return e.Err }

func settingsErr(key, format string, args ...any) error {
	return &SettingsError{Key: key, Err: fmt.Errorf(format, args...)}
}

// Validate reports the first field that sbatch would refuse or that could
// break the batch script: a malformed time or memory size, a negative count,
// an sbatch option that is not an option, or a line break anywhere.
func (s Settings) Validate() error {
	strs := []struct {
		key string
		val string
	}{
		{"partition", s.Partition}, {"time", s.Time}, {"mem", s.Mem},
		{"account", s.Account}, {"qos", s.QOS}, {"constraint", s.Constraint},
		{"gpus", s.Gpus}, {"output", s.Output}, {"error", s.Error},
		{"template", s.Template}, {"signal", s.Signal},
	}
	for _, f := range strs {
		if err := settingsOneLine(f.key, f.val); err != nil {
			return err
		}
	}
	lists := []struct {
		key  string
		vals []string
	}{{"modules", s.Modules}, {"setup", s.Setup}, {"sbatch_options", s.ExtraOptions}}
	for _, l := range lists {
		for i, v := range l.vals {
			if err := settingsOneLine(fmt.Sprintf("%s[%d]", l.key, i), v); err != nil {
				return err
			}
		}
	}
	if _, err := s.TimeLimit(); err != nil {
		return err
	}
	if s.Mem != "" && !memPattern.MatchString(s.Mem) {
		return settingsErr("mem", "%q is not a memory size; want a number of megabytes with an optional K, M, G or T suffix, such as \"4G\" or \"500M\"", s.Mem)
	}
	ints := []struct {
		key string
		val int
	}{{"cpus_per_task", s.CPUsPerTask}, {"runs_per_task", s.RunsPerTask}, {"max_concurrent", s.MaxConcurrent}}
	for _, f := range ints {
		if f.val < 0 {
			return settingsErr(f.key, "must be positive, got %d", f.val)
		}
	}
	if s.Signal != "" && !signalPattern.MatchString(s.Signal) {
		return settingsErr("signal", "%q is not an sbatch --signal value; want [B:]SIG[@SECONDS], such as \"USR1@120\"", s.Signal)
	}
	for i, o := range s.ExtraOptions {
		if !strings.HasPrefix(o, "-") {
			return settingsErr(fmt.Sprintf("sbatch_options[%d]", i), "%q is not an option; write it as on the sbatch command line, such as \"--exclusive\"", o)
		}
	}
	for i, m := range s.Modules {
		if strings.TrimSpace(m) == "" {
			return settingsErr(fmt.Sprintf("modules[%d]", i), "is empty")
		}
	}
	return nil
}

func settingsOneLine(key, v string) error {
	if strings.ContainsAny(v, "\n\r\x00") {
		return settingsErr(key, "%q contains a line break or NUL; each value becomes one line of the batch script", v)
	}
	return nil
}

var (
	memPattern    = regexp.MustCompile(`^[0-9]+[KMGTkmgt]?$`)
	signalPattern = regexp.MustCompile(`^(?:[BR]:)?(?:SIG)?[A-Z0-9]+(?:@[0-9]+)?$`)
	timePatterns  = []*regexp.Regexp{
		regexp.MustCompile(`^(\d+)$`),                   // MM
		regexp.MustCompile(`^(\d+):(\d+)$`),             // MM:SS
		regexp.MustCompile(`^(\d+):(\d+):(\d+)$`),       // HH:MM:SS
		regexp.MustCompile(`^(\d+)-(\d+)$`),             // D-HH
		regexp.MustCompile(`^(\d+)-(\d+):(\d+)$`),       // D-HH:MM
		regexp.MustCompile(`^(\d+)-(\d+):(\d+):(\d+)$`), // D-HH:MM:SS
	}
	// timeUnits are the units of each pattern's fields, in order.
	timeUnits = [][]time.Duration{
		{time.Minute},
		{time.Minute, time.Second},
		{time.Hour, time.Minute, time.Second},
		{24 * time.Hour, time.Hour},
		{24 * time.Hour, time.Hour, time.Minute},
		{24 * time.Hour, time.Hour, time.Minute, time.Second},
	}
)

// TimeLimit parses Time in the formats sbatch --time takes. It returns 0
// when Time is empty, "INFINITE" or "UNLIMITED": no limit asked for.
func (s Settings) TimeLimit() (time.Duration, error) {
	switch strings.ToUpper(s.Time) {
	case "", "INFINITE", "UNLIMITED":
		return 0, nil
	}
	for i, re := range timePatterns {
		m := re.FindStringSubmatch(s.Time)
		if m == nil {
			continue
		}
		var d time.Duration
		for j, f := range m[1:] {
			n, err := strconv.ParseInt(f, 10, 32)
			if err != nil {
				return 0, settingsErr("time", "%q: %s is too large", s.Time, f)
			}
			d += time.Duration(n) * timeUnits[i][j]
		}
		if d <= 0 {
			return 0, settingsErr("time", "%q is zero; leave time out for the partition's default", s.Time)
		}
		return d, nil
	}
	return 0, settingsErr("time", "%q is not a SLURM time; want MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS, such as \"2:00:00\" or \"1-12\"", s.Time)
}
