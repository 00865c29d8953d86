package slurm

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSettingsTimeLimit(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"UNLIMITED", 0},
		{"infinite", 0},
		{"30", 30 * time.Minute},
		{"30:15", 30*time.Minute + 15*time.Second},
		{"2:00:00", 2 * time.Hour},
		{"1-12", 36 * time.Hour},
		{"1-00:30", 24*time.Hour + 30*time.Minute},
		{"2-01:02:03", 49*time.Hour + 2*time.Minute + 3*time.Second},
	}
	for _, tt := range tests {
		got, err := Settings{Time: tt.in}.TimeLimit()
		if err != nil {
			t.Errorf("TimeLimit(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("TimeLimit(%q)=%v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestSettingsValidate(t *testing.T) {
	ok := Settings{
		Partition: "gpu", Time: "1-00:00:00", Mem: "4G", CPUsPerTask: 4,
		Modules: []string{"python/3.11"}, Setup: []string{"source venv/bin/activate"},
		ExtraOptions: []string{"--exclusive"}, Signal: "B:USR1@120", Gpus: "a100:2",
	}
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate(%+v): %v", ok, err)
	}
	tests := []struct {
		name    string
		s       Settings
		key     string
		message string
	}{
		{"bad time", Settings{Time: "2h"}, "time", "not a SLURM time"},
		{"zero time", Settings{Time: "0"}, "time", "zero"},
		{"bad mem", Settings{Mem: "4GB"}, "mem", "not a memory size"},
		{"negative cpus", Settings{CPUsPerTask: -1}, "cpus_per_task", "positive"},
		{"newline", Settings{Partition: "a\n#SBATCH --wrap=x"}, "partition", "line break"},
		{"newline in setup", Settings{Setup: []string{"ok", "a\nb"}}, "setup[1]", "line break"},
		{"not an option", Settings{ExtraOptions: []string{"exclusive"}}, "sbatch_options[0]", "not an option"},
		{"bad signal", Settings{Signal: "USR1 @ 120"}, "signal", "--signal"},
		{"empty module", Settings{Modules: []string{" "}}, "modules[0]", "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Validate()
			var se *SettingsError
			if !errors.As(err, &se) {
				t.Fatalf("Validate()=%v, want a *SettingsError", err)
			}
			if got, want := se.Key, tt.key; got != want {
				t.Errorf("Key=%q, want %q", got, want)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("Validate()=%q, want it to mention %q", err, tt.message)
			}
		})
	}
}
