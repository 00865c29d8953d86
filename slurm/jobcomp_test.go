package slurm

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseJobcomp(t *testing.T) {
	tests := []struct {
		file    string
		lines   int
		skipped int
		want    map[int]JobcompRecord // Fields not compared
	}{
		{
			file:  "jobcomp.log",
			lines: 14,
			want: map[int]JobcompRecord{
				// The first run of task 32_3, requeued while running.
				0:  {JobID: "33", ArrayJobID: "32", ArrayTaskID: 3, State: StatePending, Start: localTime("2026-11-27T07:30:23"), End: localTime("2026-11-27T07:30:24"), NodeList: "n1", Name: "envprobe", WorkDir: "/tmp/rec"},
				4:  {JobID: "41", ArrayJobID: "36", ArrayTaskID: 1, State: StateFailed, ExitCode: 1, Start: localTime("2026-11-27T07:30:54"), End: localTime("2026-11-27T07:30:54"), NodeList: "n2", Name: "fail3", WorkDir: "/tmp/rec"},
				8:  {JobID: "37", ArrayTaskID: -1, State: StateCancelled, Start: localTime("2026-11-27T07:30:54"), End: localTime("2026-11-27T07:30:56"), NodeList: "n2", Name: "cancel-running", WorkDir: "/tmp/rec"},
				9:  {JobID: "34", ArrayTaskID: -1, State: StateTimeout, Start: localTime("2026-11-27T07:30:54"), End: localTime("2026-11-27T07:32:04"), NodeList: "n1", Name: "timeout-me", WorkDir: "/tmp/rec"},
				11: {JobID: "44", ArrayTaskID: -1, State: StateCompleted, Start: localTime("2026-11-27T07:31:07"), End: localTime("2026-11-27T07:32:37"), NodeList: "n1", Name: "name with | pipe and  spaces", WorkDir: "/tmp/rec"},
				12: {JobID: "33", ArrayJobID: "32", ArrayTaskID: 3, State: StateCompleted, Start: localTime("2026-11-27T07:32:37"), End: localTime("2026-11-27T07:32:41"), NodeList: "n1", Name: "envprobe", WorkDir: "/tmp/rec"},
			},
		},
		{
			file:    "malformed/jobcomp_torn.log",
			lines:   5,
			skipped: 2,
			want: map[int]JobcompRecord{
				3: {JobID: "39", ArrayJobID: "35", ArrayTaskID: 1, State: StateCompleted, Start: localTime("2026-11-27T07:30:54"), End: localTime("2026-11-27T07:30:54"), NodeList: "n1", Name: "ok3", WorkDir: "/tmp/rec"},
			},
		},
		{file: "squeue_mixed.txt", skipped: 16},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			recs, skipped, err := ParseJobcomp(testdata(t, tt.file))
			if err != nil {
				t.Fatalf("ParseJobcomp()=%v", err)
			}
			if len(recs) != tt.lines || skipped != tt.skipped {
				t.Fatalf("ParseJobcomp() gave %d records, %d skipped; want %d, %d", len(recs), skipped, tt.lines, tt.skipped)
			}
			for i, want := range tt.want {
				got := recs[i]
				got.Fields = nil
				if !reflect.DeepEqual(got, want) {
					t.Errorf("ParseJobcomp()[%d]=\n%+v, want\n%+v", i, got, want)
				}
			}
		})
	}
}

func TestParseJobcompFields(t *testing.T) {
	recs, _, err := ParseJobcomp(testdata(t, "jobcomp.log"))
	if err != nil {
		t.Fatal(err)
	}
	f := recs[0].Fields
	for key, want := range map[string]string{
		"UserId":          "root(0)",
		"ReservationName": "",
		"Tres":            "cpu=1,mem=24105M,node=1,billing=1",
		"DerivedExitCode": "0:0",
		"ExitCode":        "0:0", // no trailing space
		"TimeLimit":       "5",
	} {
		if got, ok := f[key]; !ok || got != want {
			t.Errorf("Fields[%q]=%q (present %v), want %q", key, got, ok, want)
		}
	}
}

func TestSplitKeyValues(t *testing.T) {
	got := splitKeyValues("A=1 B=two words C= D=x=y 9=z")
	want := map[string]string{"A": "1", "B": "two words", "C": "", "D": "x=y 9=z"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("splitKeyValues()=%v, want %v", got, want)
	}
	if got := splitKeyValues(strings.Repeat(" ", 3)); len(got) != 0 {
		t.Errorf("splitKeyValues(blanks)=%v, want empty", got)
	}
}
