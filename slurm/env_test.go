package slurm

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"
)

// recordedEnvs reads the environments of testdata/array_task_env.txt, one
// map per "=== run start" block.
func recordedEnvs(t *testing.T) []map[string]string {
	t.Helper()
	f, err := os.Open("testdata/array_task_env.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var envs []map[string]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "=== run start") {
			envs = append(envs, map[string]string{})
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && len(envs) > 0 && strings.HasPrefix(k, "SLURM") {
			envs[len(envs)-1][k] = v
		}
	}
	return envs
}

func TestReadTaskEnvRecorded(t *testing.T) {
	envs := recordedEnvs(t)
	if len(envs) < 2 {
		t.Fatalf("%d environments in the recording, want 2 (a task and its requeue)", len(envs))
	}
	want := []TaskEnv{
		{JobID: "33", ArrayJobID: "32", ArrayTaskID: 3, RestartCount: 0, Node: "n1"},
		{JobID: "33", ArrayJobID: "32", ArrayTaskID: 3, RestartCount: 1, Node: "n1"},
	}
	for i, w := range want {
		env := envs[i]
		if got := ReadTaskEnv(func(k string) string { return env[k] }); got != w {
			t.Errorf("block %d: ReadTaskEnv()=%+v, want %+v", i, got, w)
		}
	}
	if got, want := ReadTaskEnv(func(k string) string { return envs[0][k] }).ArrayJob(), "32"; got != want {
		t.Errorf("ArrayJob()=%q, want %q", got, want)
	}
}

func TestReadTaskEnvEdges(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want TaskEnv
	}{
		{"outside a job", nil, TaskEnv{ArrayTaskID: -1}},
		{"a plain job", map[string]string{"SLURM_JOB_ID": "7", "SLURM_CPUS_PER_TASK": "4"},
			TaskEnv{JobID: "7", ArrayTaskID: -1, CPUsPerTask: 4}},
		{"garbage", map[string]string{"SLURM_JOB_ID": "7", "SLURM_ARRAY_TASK_ID": "x", "SLURM_RESTART_COUNT": "-3",
			"SLURM_CPUS_PER_TASK": "many", "SLURM_JOB_END_TIME": "soon"}, TaskEnv{JobID: "7", ArrayTaskID: -1}},
		{"end time", map[string]string{"SLURM_JOB_ID": "7", "SLURM_JOB_END_TIME": "1800000000"},
			TaskEnv{JobID: "7", ArrayTaskID: -1, EndTime: time.Unix(1800000000, 0)}},
	}
	for _, tt := range tests {
		got := ReadTaskEnv(func(k string) string { return tt.env[k] })
		if got != tt.want {
			t.Errorf("%s: ReadTaskEnv()=%+v, want %+v", tt.name, got, tt.want)
		}
		if got.InJob() != (tt.want.JobID != "") {
			t.Errorf("%s: InJob()=%v", tt.name, got.InJob())
		}
	}
	if got, want := ReadTaskEnv(func(k string) string { return map[string]string{"SLURM_JOB_ID": "9"}[k] }).ArrayJob(), "9"; got != want {
		t.Errorf("ArrayJob() of a plain job=%q, want %q", got, want)
	}
}

func TestClientFromEnv(t *testing.T) {
	env := map[string]string{"METALAB_SBATCH": "/x/sbatch", "METALAB_SACCT": "/x/sacct"}
	c := ClientFromEnv(func(k string) string { return env[k] })
	if c.Sbatch != "/x/sbatch" || c.Sacct != "/x/sacct" || c.Squeue != "" {
		t.Fatalf("ClientFromEnv()=%+v", c)
	}
}
