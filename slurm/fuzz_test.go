package slurm

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// addTestdata seeds a fuzz target with the recorded outputs (good and
// malformed) whose names begin with prefix; testdata/fuzz/<target>/ holds
// the corpus the fuzzer found besides.
func addTestdata(f *testing.F, prefix string) {
	f.Helper()
	for _, pattern := range []string{"testdata/" + prefix + "*", "testdata/malformed/" + prefix + "*"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
}

// FuzzParseSqueue: any output parses or fails with a *ParseError, never a
// panic; what parses describes the tasks it names.
func FuzzParseSqueue(f *testing.F) {
	addTestdata(f, "squeue")
	f.Fuzz(func(t *testing.T, data []byte) {
		parse := ParseSqueue
		if len(data) > 0 && data[0]&1 == 1 {
			parse = ParseSqueueIdentity // the same rules, two more fields
		}
		jobs, err := parse(bytes.NewReader(data))
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseSqueue error %T %v, want a *ParseError", err, err)
			}
			return
		}
		for _, j := range jobs {
			if j.JobID == "" || j.ArrayJobID == "" {
				t.Fatalf("job without an ID: %+v", j)
			}
			for _, task := range j.ArrayTasks {
				if task < 0 {
					t.Fatalf("negative task %d in %+v", task, j)
				}
			}
		}
	})
}

// FuzzParseSbatch: a job ID comes back only as digits, with a cluster name
// without separators.
func FuzzParseSbatch(f *testing.F) {
	addTestdata(f, "sbatch")
	f.Fuzz(func(t *testing.T, data []byte) {
		id, cluster, err := ParseSbatch(bytes.NewReader(data))
		if err != nil {
			return
		}
		if id == "" || strings.Trim(id, "0123456789") != "" {
			t.Fatalf("job ID %q", id)
		}
		if strings.ContainsAny(cluster, "; \t\n") {
			t.Fatalf("cluster %q", cluster)
		}
	})
}

// FuzzParseConfig: scontrol show config output never panics the parser.
func FuzzParseConfig(f *testing.F) {
	addTestdata(f, "scontrol_show_config")
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(bytes.NewReader(data))
		if err == nil && cfg.MaxArraySize < 0 {
			t.Fatalf("MaxArraySize=%d", cfg.MaxArraySize)
		}
	})
}

// FuzzParseSacct: sacct output parses or fails with a *ParseError.
func FuzzParseSacct(f *testing.F) {
	addTestdata(f, "sacct")
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := ParseSacct(bytes.NewReader(data))
		var pe *ParseError
		if err != nil && !errors.As(err, &pe) && !errors.Is(err, ErrAccountingDisabled) {
			t.Fatalf("ParseSacct error %T %v, want a *ParseError", err, err)
		}
	})
}
