package slurm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeTool writes a shell script standing in for a SLURM tool: it records
// its arguments and SLURM_BITSTR_LEN in a log, prints the testdata files
// stdout and stderr ("" for none), runs extra (shell) and exits with code.
// It returns the script's path and a function reading the recorded calls.
func fakeTool(t *testing.T, stdout, stderr string, code int, extra string) (string, func() [][]string) {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "calls.log")
	abs := func(name string) string {
		if name == "" {
			return "/dev/null"
		}
		p, err := filepath.Abs(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	script := fmt.Sprintf(`#!/bin/sh
for a in "$@"; do printf '%%s\n' "$a"; done >> %[1]q
printf 'SLURM_BITSTR_LEN=%%s\n--\n' "$SLURM_BITSTR_LEN" >> %[1]q
cat %[2]q
cat %[3]q >&2
%[4]s
exit %[5]d
`, log, abs(stdout), abs(stderr), extra, code)
	path := filepath.Join(dir, "tool")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	calls := func() [][]string {
		b, err := os.ReadFile(log)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		var out [][]string
		for _, call := range strings.SplitAfter(string(b), "--\n") {
			if call != "" {
				out = append(out, strings.Split(strings.TrimSuffix(call, "\n--\n"), "\n"))
			}
		}
		return out
	}
	return path, calls
}

func TestClientQueueOneCall(t *testing.T) {
	path, calls := fakeTool(t, "squeue_mixed.txt", "", 0, "")
	c := &Client{Squeue: path}
	jobs, err := c.Queue(context.Background(), []string{"42", "43", "44"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(jobs), 16; got != want {
		t.Errorf("len(Queue())=%d, want %d", got, want)
	}
	if got, want := c.Calls(), int64(1); got != want {
		t.Errorf("Calls()=%d, want %d", got, want)
	}
	want := [][]string{{"--noheader", "--format=" + SqueueFormat, "--jobs=42,43,44", "SLURM_BITSTR_LEN=0"}}
	if got := calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("squeue called with %q, want %q", got, want)
	}

	if _, err := c.QueueAll(context.Background(), []string{"42"}); err != nil {
		t.Fatal(err)
	}
	if got := calls(); len(got) != 2 || got[1][3] != "--states=all" {
		t.Errorf("QueueAll called squeue with %q, want --states=all", got)
	}

	if jobs, err := c.Queue(context.Background(), nil); jobs != nil || err != nil {
		t.Errorf("Queue(nil)=%v, %v, want nil, nil", jobs, err)
	}
	if got, want := c.Calls(), int64(2); got != want {
		t.Errorf("Calls() after Queue(nil)=%d, want %d (no call)", got, want)
	}
}

func TestClientQueuePurged(t *testing.T) {
	// squeue -j with only unknown IDs exits 1: the jobs are gone, not an error.
	path, _ := fakeTool(t, "", "stderr/squeue_invalid_job.txt", 1, "")
	c := &Client{Squeue: path}
	jobs, err := c.Queue(context.Background(), []string{"99999"})
	if jobs != nil || err != nil {
		t.Fatalf("Queue(unknown)=%v, %v, want nil, nil", jobs, err)
	}
}

func TestClientErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		stderr string
		call   func(c *Client, path string) error
		want   []string // substrings of Error()
		hint   string
	}{
		{
			name:   "squeue controller down",
			stderr: "stderr/squeue_down.txt",
			call: func(c *Client, path string) error {
				c.Squeue = path
				_, err := c.Queue(ctx, []string{"1", "2"})
				return err
			},
			want: []string{"/tool --noheader '--format=%i|%A|%F|%K|%T|%r|%N|%j' --jobs=1,2: exit status 1: slurm_load_jobs error: Unable to contact slurm controller (connect failure)"},
			hint: "is slurmctld running? try `scontrol ping`",
		},
		{
			name:   "squeue munge down",
			stderr: "stderr/squeue_munge_down.txt",
			call: func(c *Client, path string) error {
				c.Squeue = path
				_, err := c.Queue(ctx, []string{"1"})
				return err
			},
			want: []string{"Munge encode failed"},
			hint: "is munged running? try `munge -n | unmunge`",
		},
		{
			name:   "sbatch array too big",
			stderr: "stderr/sbatch_array_too_big.txt",
			call: func(c *Client, path string) error {
				c.Sbatch = path
				_, err := c.Submit(ctx, "job.sh", "--array=0-100001")
				return err
			},
			want: []string{"/tool --parsable --array=0-100001 job.sh: exit status 1: sbatch: error: Batch job submission failed: Invalid job array specification"},
			hint: "array task IDs must be below MaxArraySize: `scontrol show config | grep MaxArraySize`",
		},
		{
			name:   "scontrol show config down",
			stderr: "stderr/scontrol_show_config_down.txt",
			call: func(c *Client, path string) error {
				c.Scontrol = path
				_, err := c.Config(ctx)
				return err
			},
			want: []string{"/tool show config: exit status 1: slurm_load_ctl_conf error"},
			hint: "is slurmctld running? try `scontrol ping`",
		},
		{
			name:   "scancel odd ID",
			stderr: "",
			call: func(c *Client, path string) error {
				c.Scancel = path
				return c.Cancel(ctx, "abc")
			},
			want: []string{"/tool abc: exit status 1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, _ := fakeTool(t, "", tt.stderr, 1, "")
			err := tt.call(&Client{}, path)
			var ce *CommandError
			if !errors.As(err, &ce) {
				t.Fatalf("error=%v, want a *CommandError", err)
			}
			if got, want := ce.ExitCode, 1; got != want {
				t.Errorf("ExitCode=%d, want %d", got, want)
			}
			if got, want := ce.Hint(), tt.hint; got != want {
				t.Errorf("Hint=%q, want %q", got, want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Error()=%q, want it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hint") {
				t.Errorf("Error()=%q carries the hint, which Hint() gives", err)
			}
		})
	}
}

func TestClientSubmit(t *testing.T) {
	path, calls := fakeTool(t, "sbatch_parsable_array.txt", "", 0, "")
	c := &Client{Sbatch: path}
	id, err := c.Submit(context.Background(), "", "--array=0-3", "--wrap", "echo 'hi there'")
	if err != nil || id != "84" {
		t.Fatalf("Submit()=%q, %v, want 84", id, err)
	}
	want := [][]string{{"--parsable", "--array=0-3", "--wrap", "echo 'hi there'", "SLURM_BITSTR_LEN=0"}}
	if got := calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("sbatch called with %q, want %q", got, want)
	}
}

func TestClientAccounting(t *testing.T) {
	ctx := context.Background()
	disabled, _ := fakeTool(t, "", "sacct_disabled.txt", 1, "")
	c := &Client{Sacct: disabled}
	recs, ok, err := c.Accounting(ctx, []string{"36"})
	if recs != nil || ok || err != nil {
		t.Fatalf("Accounting() without accounting=%v, %v, %v, want nil, false, nil", recs, ok, err)
	}

	enabled, calls := fakeTool(t, "sacct_slurmdbd_handmade.txt", "", 0, "")
	c = &Client{Sacct: enabled}
	recs, ok, err = c.Accounting(ctx, []string{"120", "121"})
	if len(recs) != 6 || !ok || err != nil {
		t.Fatalf("Accounting()=%d records, %v, %v, want 6, true, nil", len(recs), ok, err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err = c.Accounting(ctx, []string{"120"}, "sweep", "sweep-collect"); err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"--parsable2", "--noheader", "--allocations", "--format=" + SacctFields, "--jobs=120,121", "--user=" + u.Username, "SLURM_BITSTR_LEN=0"},
		{"--parsable2", "--noheader", "--allocations", "--format=" + SacctFields, "--jobs=120", "--user=" + u.Username, "--name=sweep,sweep-collect", "SLURM_BITSTR_LEN=0"},
	}
	if got := calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("sacct called with %q, want %q", got, want)
	}
}

func TestClientNamed(t *testing.T) {
	ctx := context.Background()
	path, calls := fakeTool(t, "squeue_identity.txt", "", 0, "")
	c := &Client{Squeue: path}
	jobs, err := c.Named(ctx, []string{"idrec", "idrec-collect"})
	if err != nil || len(jobs) != 6 || jobs[1].Comment == "" {
		t.Fatalf("Named()=%+v, %v, want the 6 recorded jobs with comments", jobs, err)
	}
	want := [][]string{{"--me", "--noheader", "--format=" + SqueueIdentityFormat, "--name=idrec,idrec-collect", "SLURM_BITSTR_LEN=0"}}
	if got := calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("squeue called with %q, want %q", got, want)
	}
	if jobs, err := c.Named(ctx, nil); jobs != nil || err != nil || len(calls()) != 1 {
		t.Errorf("Named(no names)=%v, %v after %d calls, want nothing and no call", jobs, err, len(calls()))
	}
	for _, bad := range []string{"", "a,b", "a|b"} {
		if _, err := c.Named(ctx, []string{bad}); err == nil {
			t.Errorf("Named(%q) did not fail", bad)
		}
	}
	// squeue answers nothing, with exit 0, when no job has the names.
	empty, _ := fakeTool(t, "", "", 0, "")
	if jobs, err := (&Client{Squeue: empty}).Named(ctx, []string{"none"}); jobs != nil || err != nil {
		t.Errorf("Named() of an empty answer=%v, %v, want nothing", jobs, err)
	}
}

func TestClientConfigAndPing(t *testing.T) {
	ctx := context.Background()
	path, _ := fakeTool(t, "scontrol_show_config.txt", "", 0, "")
	cfg, err := (&Client{Scontrol: path}).Config(ctx)
	if err != nil || cfg.MaxArraySize != 100001 {
		t.Fatalf("Config()=%d, %v, want MaxArraySize 100001", cfg.MaxArraySize, err)
	}

	up, _ := fakeTool(t, "scontrol_ping_up.txt", "", 0, "")
	if err := (&Client{Scontrol: up}).Ping(ctx); err != nil {
		t.Errorf("Ping() up=%v", err)
	}
	down, _ := fakeTool(t, "scontrol_ping_down.txt", "", 1, "")
	err = (&Client{Scontrol: down}).Ping(ctx)
	var ce *CommandError
	if !errors.As(err, &ce) || ce.Stderr != "Slurmctld(primary) at vm is DOWN" || ce.Hint() == "" {
		t.Errorf("Ping() down=%#v, want the DOWN line and a hint", err)
	}
}

func TestClientTimeout(t *testing.T) {
	// exec replaces the shell, so the kill reaches the sleeping process.
	path, _ := fakeTool(t, "", "", 0, "exec sleep 30")
	var traced []string
	c := &Client{Squeue: path, Timeout: 200 * time.Millisecond,
		Trace: func(argv []string, took time.Duration, err error) { traced = append(traced, argv[0]) }}
	start := time.Now()
	_, err := c.Queue(context.Background(), []string{"1"})
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Queue() took %v with a 200ms timeout", took)
	}
	var ce *CommandError
	if !errors.As(err, &ce) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Queue() error=%v, want a *CommandError wrapping DeadlineExceeded", err)
	}
	if got, want := ce.ExitCode, -1; got != want {
		t.Errorf("ExitCode=%d, want %d", got, want)
	}
	if !strings.Contains(err.Error(), "timed out after 200ms") || ce.Hint() == "" {
		t.Errorf("Error()=%q, want a timeout and a hint", err)
	}
	if !reflect.DeepEqual(traced, []string{path}) {
		t.Errorf("Trace saw %q, want one call of %q", traced, path)
	}
}

func TestClientCancelledContext(t *testing.T) {
	path, _ := fakeTool(t, "", "", 0, "exec sleep 30")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := (&Client{Squeue: path}).Queue(ctx, []string{"1"})
	if !errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Queue() with a cancelled context=%v, want context.Canceled", err)
	}
}

func TestClientTimeoutMaxJobCount(t *testing.T) {
	// At MaxJobCount, sbatch prints this once and retries until killed.
	path, _ := fakeTool(t, "", "stderr/sbatch_max_job_count.txt", 0, "exec sleep 30")
	c := &Client{Sbatch: path, Timeout: 300 * time.Millisecond}
	_, err := c.Submit(context.Background(), "job.sh")
	var ce *CommandError
	if !errors.As(err, &ce) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Submit() error=%v, want a timeout", err)
	}
	if !strings.Contains(ce.Stderr, "temporarily unable to accept job") || !strings.Contains(ce.Hint(), "MaxJobCount") {
		t.Errorf("Submit() error=%q, want sbatch's message and a MaxJobCount hint", err)
	}
}

func TestClientNotFound(t *testing.T) {
	c := &Client{Squeue: filepath.Join(t.TempDir(), "squeue")}
	_, err := c.Queue(context.Background(), []string{"1"})
	var ce *CommandError
	if !errors.As(err, &ce) || !strings.Contains(ce.Hint(), "check the configured path") {
		t.Fatalf("Queue() with a missing squeue=%v, want an install hint", err)
	}
	c = &Client{Squeue: "metalab-no-such-squeue"}
	_, err = c.Queue(context.Background(), []string{"1"})
	if !errors.As(err, &ce) || !strings.Contains(ce.Hint(), "put metalab-no-such-squeue on PATH") {
		t.Fatalf("Queue() with squeue not in PATH=%v, want a PATH hint", err)
	}
}

func TestClientEnvAndConcurrentCalls(t *testing.T) {
	path, calls := fakeTool(t, "squeue_mixed.txt", "", 0, "")
	c := &Client{Squeue: path, Env: []string{"SLURM_BITSTR_LEN=7"}}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Queue(context.Background(), []string{"1"}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got, want := c.Calls(), int64(8); got != want {
		t.Errorf("Calls()=%d, want %d", got, want)
	}
	// Client.Env comes last, so it overrides the package's own settings.
	if got := calls(); len(got) != 8 || got[0][len(got[0])-1] != "SLURM_BITSTR_LEN=7" {
		t.Errorf("calls=%q, want 8 with SLURM_BITSTR_LEN=7", got)
	}
}

func TestShellQuote(t *testing.T) {
	got := shellQuote([]string{"squeue", "--format=%i|%A", "it's", "", "a-b_c.d/e,f:g=h@i+j"})
	want := `squeue '--format=%i|%A' 'it'\''s' '' a-b_c.d/e,f:g=h@i+j`
	if got != want {
		t.Errorf("shellQuote()=%s, want %s", got, want)
	}
}
