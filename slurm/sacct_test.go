package slurm

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func localTime(s string) time.Time {
	t, err := time.ParseInLocation(slurmTimeLayout, s, time.Local)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseSacct(t *testing.T) {
	tests := []struct {
		file  string
		lines int
		want  map[int]AcctRecord
	}{
		{
			// sacct -c: real output, read from the jobcomp log (no slurmdbd here).
			file:  "sacct_jobcomp.txt",
			lines: 13,
			want: map[int]AcctRecord{
				0: {JobID: "33", RawJobID: "33", State: StatePending, Start: localTime("2026-11-27T07:30:23"), End: localTime("2026-11-27T07:30:24"), Elapsed: time.Second, NodeList: "n1", Name: "envprobe"},
				4: {JobID: "41", RawJobID: "41", State: StateFailed, ExitCode: 1, Start: localTime("2026-11-27T07:30:54"), End: localTime("2026-11-27T07:30:54"), NodeList: "n2", Name: "fail3"},
				9: {JobID: "34", RawJobID: "34", State: StateTimeout, Start: localTime("2026-11-27T07:30:54"), End: localTime("2026-11-27T07:32:04"), Elapsed: 70 * time.Second, NodeList: "n1", Name: "timeout-me"},
			},
		},
		{
			file:  "sacct_slurmdbd_handmade.txt",
			lines: 6,
			want: map[int]AcctRecord{
				0: {JobID: "120_[5-9%2]", RawJobID: "120", ArrayJobID: "120", ArrayTasks: seq(5, 9, 1), State: StatePending, Name: "thr"},
				1: {JobID: "120_4", RawJobID: "125", ArrayJobID: "120", ArrayTasks: []int{4}, State: StateRunning, Start: localTime("2026-11-27T08:00:01"), Elapsed: 12 * time.Second, NodeList: "n2", Name: "thr"},
				2: {JobID: "120_3", RawJobID: "124", ArrayJobID: "120", ArrayTasks: []int{3}, State: StateCancelled, StateDetail: "by 0", Signal: 15, Start: localTime("2026-11-27T08:00:00"), End: localTime("2026-11-27T08:00:05"), Elapsed: 5 * time.Second, NodeList: "n1", Name: "thr"},
				4: {JobID: "120_2.batch", RawJobID: "123.batch", ArrayJobID: "120", ArrayTasks: []int{2}, Step: "batch", State: StateFailed, ExitCode: 3, Start: localTime("2026-11-27T08:00:00"), End: localTime("2026-11-27T08:00:01"), Elapsed: time.Second, NodeList: "n1", Name: "batch"},
				5: {JobID: "121", RawJobID: "121", State: StateTimeout, Start: localTime("2026-11-27T08:00:00"), End: localTime("2026-11-27T08:01:10"), Elapsed: 70 * time.Second, NodeList: "n1", Name: "a | b"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			recs, err := ParseSacct(testdata(t, tt.file))
			if err != nil {
				t.Fatalf("ParseSacct()=%v", err)
			}
			if got, want := len(recs), tt.lines; got != want {
				t.Fatalf("len(ParseSacct())=%d, want %d", got, want)
			}
			for i, want := range tt.want {
				if got := recs[i]; !reflect.DeepEqual(got, want) {
					t.Errorf("ParseSacct()[%d]=\n%+v, want\n%+v", i, got, want)
				}
			}
		})
	}
}

func TestParseSacctDisabled(t *testing.T) {
	// sacct prints this on stderr; a caller that merged the streams gets it here.
	recs, err := ParseSacct(testdata(t, "sacct_disabled.txt"))
	if !errors.Is(err, ErrAccountingDisabled) || recs != nil {
		t.Fatalf("ParseSacct()=%v, %v, want nil, ErrAccountingDisabled", recs, err)
	}
}

func TestParseSacctErrors(t *testing.T) {
	tests := []struct {
		file  string
		line  int
		match string
	}{
		// Real: sacct -c splits the jobcomp line at the name's spaces.
		{"sacct_jobcomp_spaced_name.txt", 1, `bad state ""`},
		{"malformed/sacct_truncated_line.txt", 3, "6 |-separated fields, want 9"},
		{"malformed/sacct_bad_exitcode.txt", 2, `bad exit code "1"`},
		{"malformed/sacct_bad_time.txt", 2, `Start: parsing time "yesterday"`},
		{"squeue_mixed.txt", 1, "fields"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := ParseSacct(testdata(t, tt.file))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseSacct() error=%v, want a *ParseError", err)
			}
			if got, want := pe.Line, tt.line; got != want {
				t.Errorf("line=%d, want %d (%v)", got, want, err)
			}
			if !strings.Contains(err.Error(), tt.match) || !strings.Contains(err.Error(), "sacct output line") {
				t.Errorf("error %q does not name %q", err, tt.match)
			}
		})
	}
}
