package slurm

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig(testdata(t, "scontrol_show_config.txt"))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"MaxArraySize", c.MaxArraySize, 100001},
		{"MaxJobCount", c.MaxJobCount, 200000},
		{"MinJobAge", c.MinJobAge, 300 * time.Second},
		{"KillWait", c.KillWait, 5 * time.Second},
		{"AccountingStorageType", c.AccountingStorageType, "accounting_storage/none"},
		{"AccountingEnabled", c.AccountingEnabled(), false},
		{"JobCompType", c.JobCompType, "jobcomp/filetxt"},
		{"JobCompLoc", c.JobCompLoc, "/var/log/slurm-local/jobcomp.log"},
		{"ClusterName", c.ClusterName, "local"},
		{"Version", c.Version, "22.05.8"},
		{"len(Values)", len(c.Values), 193},
		{`Values["SchedulerParameters"]`, c.Values["SchedulerParameters"], "batch_sched_delay=0"},
		{`Values["SlurmctldHost[0]"]`, c.Values["SlurmctldHost[0]"], "vm(127.0.0.1)"},
		{`Values["MinJobAge"]`, c.Values["MinJobAge"], "300 sec"},
		{`Values["AccountingStorageHost"]`, c.Values["AccountingStorageHost"], "localhost"},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("ParseConfig().%s=%v, want %v", ck.name, ck.got, ck.want)
		}
	}
	if c := (Config{AccountingStorageType: "accounting_storage/slurmdbd"}); !c.AccountingEnabled() {
		t.Errorf("AccountingEnabled()=false for slurmdbd")
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		file string
		err  string
		line int
	}{
		{"malformed/scontrol_show_config_bad_value.txt", `MaxArraySize: not a number: "lots"`, 82},
		{"malformed/scontrol_show_config_bad_minjobage.txt", `MinJobAge: want "N sec", got "300"`, 93},
		{"malformed/scontrol_show_config_no_values.txt", "no \"Key = value\" lines", 0},
		{"stderr/squeue_down.txt", "no \"Key = value\" lines", 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := ParseConfig(testdata(t, tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("ParseConfig() error=%v, want %q", err, tt.err)
			}
			var pe *ParseError
			if got := errors.As(err, &pe); got != (tt.line > 0) {
				t.Fatalf("ParseConfig() error is *ParseError: %v, want %v", got, tt.line > 0)
			}
			if pe != nil && pe.Line != tt.line {
				t.Errorf("line=%d, want %d", pe.Line, tt.line)
			}
		})
	}
}

func TestParseConfigPluginSections(t *testing.T) {
	// Later sections (cgroup, MPI plugins) repeat no key of the main one in
	// 22.05, but if they did, the main section must win.
	in := "MaxArraySize            = 11\n\nMPI Plugins Configuration:\nPMIxCliTmpDirBase       = (null)\nMaxArraySize = 99\n"
	c, err := ParseConfig(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.MaxArraySize, 11; got != want {
		t.Errorf("MaxArraySize=%d, want %d", got, want)
	}
	if got, want := c.Values["PMIxCliTmpDirBase"], "(null)"; got != want {
		t.Errorf("Values[PMIxCliTmpDirBase]=%q, want %q", got, want)
	}
}
