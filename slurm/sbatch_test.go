package slurm

import (
	"errors"
	"strings"
	"testing"
)

func TestParseSbatch(t *testing.T) {
	tests := []struct {
		file        string
		id, cluster string
		err         string
	}{
		{file: "sbatch_parsable.txt", id: "83"},
		{file: "sbatch_parsable_array.txt", id: "84"},
		{file: "sbatch_parsable_cluster_handmade.txt", id: "1234", cluster: "local"},
		{file: "malformed/sbatch_garbage.txt", err: `sbatch output line 1: job ID: not a number`},
		{file: "malformed/sbatch_two_lines.txt", err: `sbatch output line 2: more than one line: "1235"`},
		{file: "malformed/sbatch_empty_cluster.txt", err: `bad cluster name ""`},
		{file: "stderr/sbatch_down.txt", err: "sbatch output line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			id, cluster, err := ParseSbatch(testdata(t, tt.file))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseSbatch() error=%v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSbatch()=%v", err)
			}
			if id != tt.id || cluster != tt.cluster {
				t.Errorf("ParseSbatch()=%q, %q, want %q, %q", id, cluster, tt.id, tt.cluster)
			}
		})
	}
}

func TestParseSbatchEmpty(t *testing.T) {
	if _, _, err := ParseSbatch(strings.NewReader("\n\n")); err == nil || errors.As(err, new(*ParseError)) {
		t.Fatalf("ParseSbatch(blank) error=%v, want a plain error", err)
	}
}
