package slurm

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseArrayTasks(t *testing.T) {
	tests := []struct {
		expr     string
		tasks    []int
		throttle int
		err      string
	}{
		{expr: "3", tasks: []int{3}},
		{expr: "4-10%2", tasks: seq(4, 10, 1), throttle: 2},
		{expr: "1,3,5-7", tasks: []int{1, 3, 5, 6, 7}},
		{expr: "0-3000:3", tasks: seq(0, 3000, 3)},
		{expr: "1-400:7%5", tasks: seq(1, 400, 7), throttle: 5},
		{expr: "0-9:4", tasks: []int{0, 4, 8}},
		{expr: "0-0", tasks: []int{0}},
		{expr: "1,4,9,...", err: "truncated"},
		{expr: "", err: "empty"},
		{expr: "%2", err: "empty"},
		{expr: "4-10%x", err: "bad throttle"},
		{expr: "4-", err: "bad range"},
		{expr: "-4", err: "bad index"},
		{expr: "10-4", err: "bad range"},
		{expr: "1,,2", err: "bad index"},
		{expr: "1:2", err: "step without range"},
		{expr: "1-9:0", err: "bad step"},
		{expr: "+1", err: "bad index"},
		{expr: "0-4000001,0", err: "more than"},
		{expr: "0-99999999", err: "index above"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			tasks, throttle, err := ParseArrayTasks(tt.expr)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseArrayTasks(%q) error=%v, want %q", tt.expr, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseArrayTasks(%q)=%v", tt.expr, err)
			}
			if !reflect.DeepEqual(tasks, tt.tasks) {
				t.Errorf("ParseArrayTasks(%q) tasks=%v, want %v", tt.expr, tasks, tt.tasks)
			}
			if got, want := throttle, tt.throttle; got != want {
				t.Errorf("ParseArrayTasks(%q) throttle=%d, want %d", tt.expr, got, want)
			}
		})
	}
	if _, _, err := ParseArrayTasks("1,4,..."); !errors.Is(err, ErrTruncated) {
		t.Errorf("ParseArrayTasks(truncated) error=%v, want ErrTruncated", err)
	}
}

func TestParseJobID(t *testing.T) {
	tests := []struct {
		in   string
		want jobID
		err  string
	}{
		{in: "123", want: jobID{base: "123"}},
		{in: "123_4", want: jobID{base: "123", tasks: "4"}},
		{in: "123_[4-10%2]", want: jobID{base: "123", tasks: "4-10%2"}},
		{in: "123_4.batch", want: jobID{base: "123", tasks: "4", step: "batch"}},
		{in: "123.extern", want: jobID{base: "123", step: "extern"}},
		{in: "123_4.0", want: jobID{base: "123", tasks: "4", step: "0"}},
		{in: "123+1", want: jobID{base: "123+1"}},
		{in: "55_[1,4,9,16,25,36,49,64,81,100", err: "truncated"},
		{in: "55_[1,4,...]", err: "truncated"},
		{in: "123_4-5", err: "bad array task"},
		{in: "123_[]", err: "empty array task"},
		{in: "123.", err: "empty step"},
		{in: "abc", err: "not a number"},
		{in: "", err: "not a number"},
		{in: "123+x", err: "bad component"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseJobID(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("parseJobID(%q) error=%v, want %q", tt.in, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseJobID(%q)=%+v, %v, want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}
