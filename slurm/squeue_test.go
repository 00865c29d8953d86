package slurm

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testdata opens a recorded file under testdata/.
func testdata(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func seq(first, last, step int) []int {
	var s []int
	for i := first; i <= last; i += step {
		s = append(s, i)
	}
	return s
}

func TestParseSqueue(t *testing.T) {
	tests := []struct {
		file  string
		lines int
		// some lines, by index, checked in full
		want map[int]JobState
		// tasks per state over all array lines
		tasks map[State]int
	}{
		{
			file:  "squeue_mixed.txt",
			lines: 16,
			want: map[int]JobState{
				0:  {JobID: "32_3", RawJobID: "33", ArrayJobID: "32", ArrayTasks: []int{3}, State: StatePending, Reason: "BeginTime", Name: "envprobe"},
				1:  {JobID: "42_[2-9%2]", RawJobID: "42", ArrayJobID: "42", ArrayTasks: seq(2, 9, 1), Throttle: 2, State: StatePending, Reason: "JobArrayTaskLimit", Name: "thr"},
				2:  {JobID: "45", RawJobID: "45", ArrayJobID: "45", State: StatePending, Reason: "Dependency", Name: "dep"},
				6:  {JobID: "46_[0-3000:3]", RawJobID: "46", ArrayJobID: "46", ArrayTasks: seq(0, 3000, 3), State: StatePending, Reason: "JobHeldUser", Name: "frag"},
				7:  {JobID: "43_[1,3,5-7,20,25,30]", RawJobID: "43", ArrayJobID: "43", ArrayTasks: []int{1, 3, 5, 6, 7, 20, 25, 30}, State: StatePending, Reason: "JobHeldUser", Name: "held"},
				10: {JobID: "42_1", RawJobID: "49", ArrayJobID: "42", ArrayTasks: []int{1}, State: StateRunning, Reason: "None", NodeList: "n1", Name: "thr"},
				11: {JobID: "44", RawJobID: "44", ArrayJobID: "44", State: StateRunning, Reason: "None", NodeList: "n1", Name: "name with | pipe and  spaces"},
			},
			tasks: map[State]int{StatePending: 1 + 8 + 17 + 39 + 58 + 1001 + 8, StateRunning: 2 + 4},
		},
		{
			file:  "squeue_array_expanded.txt",
			lines: 39,
			want: map[int]JobState{
				0:  {JobID: "42_2", RawJobID: "42", ArrayJobID: "42", ArrayTasks: []int{2}, State: StatePending, Reason: "JobArrayTaskLimit", Name: "thr"},
				38: {JobID: "47_3", RawJobID: "53", ArrayJobID: "47", ArrayTasks: []int{3}, State: StateRunning, Reason: "None", NodeList: "n2", Name: "wide"},
			},
			tasks: map[State]int{StatePending: 8 + 17 + 8, StateRunning: 6},
		},
		{
			file:  "squeue_all_states.txt",
			lines: 44,
			want: map[int]JobState{
				0:  {JobID: "37", RawJobID: "37", ArrayJobID: "37", State: StateCancelled, Reason: "None", NodeList: "n2", Name: "cancel-running"},
				1:  {JobID: "12_11", RawJobID: "12", ArrayJobID: "12", ArrayTasks: []int{11}, State: StateCompleted, Reason: "None", NodeList: "n1", Name: "wrap"},
				27: {JobID: "36_2", RawJobID: "36", ArrayJobID: "36", ArrayTasks: []int{2}, State: StateFailed, Reason: "NonZeroExitCode", NodeList: "n2", Name: "fail3"},
			},
			tasks: map[State]int{StateCompleted: 12 + 8 + 1 + 3 + 1, StateFailed: 2, StatePending: 1 + 8 + 17 + 39 + 58 + 1001 + 8, StateRunning: 6},
		},
		{
			file:  "squeue_cancelled_split.txt",
			lines: 19,
			want: map[int]JobState{
				0: {JobID: "55_[" + squares + "]", RawJobID: "55", ArrayJobID: "55", ArrayTasks: squareTasks(), State: StateCancelled, Reason: "JobHeldUser", Name: "squares"},
			},
		},
		{
			file:  "squeue_timeout.txt",
			lines: 2,
			want: map[int]JobState{
				1: {JobID: "101_0", RawJobID: "102", ArrayJobID: "101", ArrayTasks: []int{0}, State: StateTimeout, Reason: "TimeLimit", NodeList: "n1", Name: "timeout-arr"},
			},
			tasks: map[State]int{StateTimeout: 2},
		},
		{
			file:  "malformed/squeue_blank_lines.txt",
			lines: 4,
			want: map[int]JobState{
				3: {JobID: "34", RawJobID: "34", ArrayJobID: "34", State: StateRunning, Reason: "None", NodeList: "n1", Name: "timeout-me"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			jobs, err := ParseSqueue(testdata(t, tt.file))
			if err != nil {
				t.Fatalf("ParseSqueue()=%v", err)
			}
			if got, want := len(jobs), tt.lines; got != want {
				t.Fatalf("len(ParseSqueue())=%d, want %d", got, want)
			}
			for i, want := range tt.want {
				if got := jobs[i]; !reflect.DeepEqual(got, want) {
					t.Errorf("ParseSqueue()[%d]=\n%+v, want\n%+v", i, got, want)
				}
			}
			if tt.tasks == nil {
				return
			}
			tasks := map[State]int{}
			for _, j := range jobs {
				if got, want := j.IsArray(), strings.Contains(j.JobID, "_"); got != want {
					t.Errorf("%s: IsArray()=%v, want %v", j.JobID, got, want)
				}
				if j.IsArray() {
					tasks[j.State] += len(j.ArrayTasks)
				}
			}
			if !reflect.DeepEqual(tasks, tt.tasks) {
				t.Errorf("array tasks per state=%v, want %v", tasks, tt.tasks)
			}
		})
	}
}

// The cancelled held array of squares 1..39², as in squeue_cancelled_split.txt.
const squares = "1,4,9,16,25,36,49,64,81,100,121,144,169,196,225,256,289,324,361,400,441,484,529,576,625,676,729,784,841,900,961,1024,1089,1156,1225,1296,1369,1444,1521"

func squareTasks() []int {
	var s []int
	for i := 1; i < 40; i++ {
		s = append(s, i*i)
	}
	return s
}

func TestParseSqueueSplitRange(t *testing.T) {
	// Cancelling 46_3 and 46_300 out of 0-3000:3 turns the range into a
	// list of 999 IDs: the reason Client sets SLURM_BITSTR_LEN=0.
	jobs, err := ParseSqueue(testdata(t, "squeue_cancelled_split.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if j.ArrayJobID != "46" || j.State != StatePending {
			continue
		}
		want := []int{0}
		for i := 6; i <= 3000; i += 3 {
			if i != 300 {
				want = append(want, i)
			}
		}
		if !reflect.DeepEqual(j.ArrayTasks, want) {
			t.Fatalf("46 pending tasks: got %d, want %d (%v...)", len(j.ArrayTasks), len(want), want[:5])
		}
		return
	}
	t.Fatal("no pending line for array 46")
}

func TestParseSqueueIdentity(t *testing.T) {
	jobs, err := ParseSqueueIdentity(testdata(t, "squeue_identity.txt"))
	if err != nil {
		t.Fatal(err)
	}
	const ours = "metalab store=5f1c0a9e2b7d submission=20261130-060000-a1b2c3"
	submitted := time.Date(2026, 11, 30, 5, 58, 18, 0, time.Local)
	want := []JobState{
		{JobID: "204_[2-9%2]", RawJobID: "204", ArrayJobID: "204", ArrayTasks: seq(2, 9, 1), Throttle: 2,
			State: StatePending, Reason: "JobArrayTaskLimit", Name: "idrec", Submitted: submitted, Comment: ours},
		{JobID: "207", RawJobID: "207", ArrayJobID: "207", State: StatePending, Reason: "Dependency",
			Name: "idrec-collect", Submitted: submitted, Comment: ours + " collect"},
		{JobID: "204_0", RawJobID: "209", ArrayJobID: "204", ArrayTasks: []int{0}, State: StateRunning, Reason: "None",
			NodeList: "n1", Name: "idrec", Submitted: submitted, Comment: ours},
		{JobID: "204_1", RawJobID: "210", ArrayJobID: "204", ArrayTasks: []int{1}, State: StateRunning, Reason: "None",
			NodeList: "n1", Name: "idrec", Submitted: submitted, Comment: ours},
		// Another job of the same name: a comment with "|" stays whole,
		// and no comment is "(null)".
		{JobID: "205", RawJobID: "205", ArrayJobID: "205", State: StateRunning, Reason: "None",
			NodeList: "n1", Name: "idrec", Submitted: submitted, Comment: "not | ours"},
		{JobID: "206", RawJobID: "206", ArrayJobID: "206", State: StateRunning, Reason: "None",
			NodeList: "n1", Name: "idrec", Submitted: submitted},
	}
	if len(jobs) != len(want) {
		t.Fatalf("len(ParseSqueueIdentity())=%d, want %d", len(jobs), len(want))
	}
	for i := range want {
		if got := jobs[i]; !reflect.DeepEqual(got, want[i]) {
			t.Errorf("ParseSqueueIdentity()[%d]=\n%+v, want\n%+v", i, got, want[i])
		}
	}
	// The plain format is not the identity format.
	if _, err := ParseSqueueIdentity(testdata(t, "squeue_mixed.txt")); err == nil || !strings.Contains(err.Error(), "want 10") {
		t.Errorf("ParseSqueueIdentity(squeue_mixed.txt) error=%v, want one about the fields", err)
	}
	if _, err := ParseSqueueIdentity(testdata(t, "malformed/squeue_identity_bad_time.txt")); err == nil || !strings.Contains(err.Error(), "submit time") {
		t.Errorf("ParseSqueueIdentity(a bad submit time) error=%v, want one naming the submit time", err)
	}
}

func TestParseSqueueErrors(t *testing.T) {
	tests := []struct {
		file  string
		line  int
		match string
		is    error
	}{
		{"squeue_bitstr_truncated.txt", 1, "truncated", ErrTruncated},
		{"malformed/squeue_truncated_line.txt", 3, "5 |-separated fields, want 8", nil},
		{"malformed/squeue_garbage.txt", 2, "squeue: error: Invalid user", nil},
		{"malformed/squeue_bad_range.txt", 2, `bad range "2-x"`, nil},
		{"malformed/squeue_reversed_range.txt", 1, `bad range "9-2"`, nil},
		{"malformed/squeue_wrong_array.txt", 1, "does not belong to array 43", nil},
		{"malformed/squeue_bad_state.txt", 1, `bad state "running"`, nil},
		{"scontrol_ping_up.txt", 1, "fields", nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := ParseSqueue(testdata(t, tt.file))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseSqueue() error=%v, want a *ParseError", err)
			}
			if got, want := pe.Line, tt.line; got != want {
				t.Errorf("line=%d, want %d (%v)", got, want, err)
			}
			if !strings.Contains(err.Error(), tt.match) || !strings.Contains(err.Error(), "squeue output line") {
				t.Errorf("error %q does not name %q", err, tt.match)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
		})
	}
}
