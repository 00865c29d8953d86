package slurm

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Config is what scontrol show config reports about the controller.
type Config struct {
	// MaxArraySize is one more than the highest array task index sbatch
	// accepts: with 1001, --array=0-1000 is the largest.
	MaxArraySize int
	// MaxJobCount is how many jobs slurmctld keeps at once; every started
	// array task counts as a job.
	MaxJobCount int
	// MinJobAge is how long a finished job stays visible to squeue -t all
	// and scontrol before it is purged.
	MinJobAge time.Duration
	// KillWait is how long SLURM waits after SIGTERM before it sends
	// SIGKILL to a job at its time limit or when it is cancelled: the time
	// a job has to record what it was doing.
	KillWait time.Duration
	// AccountingStorageType is "accounting_storage/none" when sacct has
	// nothing to read; see [Config.AccountingEnabled].
	AccountingStorageType string
	// JobCompType and JobCompLoc name the job completion log;
	// "jobcomp/filetxt" writes the lines [ParseJobcomp] reads to JobCompLoc.
	JobCompType, JobCompLoc string
	ClusterName             string
	Version                 string // SLURM_VERSION, e.g. "22.05.8"
	// Values holds every "Key = value" line as printed, units included
	// ("MinJobAge" -> "300 sec"). Plugin sections further down (cgroup,
	// MPI, ...) are merged in without overwriting earlier keys.
	Values map[string]string
}

// AccountingEnabled reports whether slurmctld sends jobs to an accounting
// store that sacct can read.
func (c Config) AccountingEnabled() bool {
	return c.AccountingStorageType != "" && c.AccountingStorageType != "accounting_storage/none"
}

// ParseConfig reads the output of scontrol show config. Lines without
// " = " (the "Configuration data as of" header, section titles, the
// "Slurmctld(primary) at host is UP" footer) are skipped. A typed field
// whose value cannot be read is a [*ParseError]; so is output without any
// "Key = value" line.
func ParseConfig(r io.Reader) (Config, error) {
	c := Config{Values: map[string]string{}}
	err := eachLine(r, func(n int, line string) error {
		key, value, ok := strings.Cut(line, " = ")
		key = strings.TrimSpace(key)
		if !ok || key == "" || strings.ContainsAny(key, " \t") {
			return nil
		}
		value = strings.TrimSpace(value)
		if _, dup := c.Values[key]; dup {
			return nil
		}
		c.Values[key] = value
		if err := c.set(key, value); err != nil {
			return &ParseError{Source: "scontrol show config", Line: n, Text: line, Err: err}
		}
		return nil
	})
	if err != nil {
		return Config{}, err
	}
	if len(c.Values) == 0 {
		return Config{}, errors.New("scontrol show config printed no \"Key = value\" lines")
	}
	return c, nil
}

func (c *Config) set(key, value string) error {
	var err error
	switch key {
	case "MaxArraySize":
		c.MaxArraySize, err = atoiNonNeg(value)
	case "MaxJobCount":
		c.MaxJobCount, err = atoiNonNeg(value)
	case "MinJobAge":
		c.MinJobAge, err = parseSeconds(value)
	case "KillWait":
		c.KillWait, err = parseSeconds(value)
	case "AccountingStorageType":
		c.AccountingStorageType = value
	case "JobCompType":
		c.JobCompType = value
	case "JobCompLoc":
		c.JobCompLoc = value
	case "ClusterName":
		c.ClusterName = value
	case "SLURM_VERSION":
		c.Version = value
	}
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// parseSeconds reads scontrol's "300 sec".
func parseSeconds(value string) (time.Duration, error) {
	num, unit, _ := strings.Cut(value, " ")
	if unit != "sec" {
		return 0, fmt.Errorf("want \"N sec\", got %q", value)
	}
	s, err := strconv.Atoi(num)
	if err != nil || s < 0 {
		return 0, fmt.Errorf("want \"N sec\", got %q", value)
	}
	return time.Duration(s) * time.Second, nil
}
