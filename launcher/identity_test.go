package launcher

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/metalab-hpc/metalab/slurm"
	"github.com/metalab-hpc/metalab/store"
)

// The jobs of slurm/testdata/squeue_identity.txt, recorded on a real
// cluster: array 204 (2 tasks running, 8 pending) and its collect job 207
// belong to submission recordedSub of a store recordedStore; jobs 205 and
// 206 have the same name, another comment and none.
const (
	recordedSub   = "20261130-060000-a1b2c3"
	recordedStore = "5f1c0a9e2b7d"
)

// queueOf is a stub squeue body that answers squeue_identity.txt as the
// queue of the store whose ID is written @STOREID@ (see withStoreID),
// through the shell commands in filters (such as "grep -v RUNNING").
func queueOf(t *testing.T, filters ...string) string {
	body := recorded(t, "squeue_identity.txt") + " | sed 's/store=" + recordedStore + "/store=@STOREID@/'"
	for _, f := range filters {
		body += " | " + f
	}
	return body
}

// withStoreID puts the ID of the store at dir into a stub body of queueOf.
func withStoreID(t *testing.T, dir, body string) string {
	t.Helper()
	return strings.ReplaceAll(body, "@STOREID@", storeIDOf(t, dir))
}

func storeIDOf(t *testing.T, dir string) string {
	t.Helper()
	st, err := store.OpenExisting(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m, err := st.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return m.StoreID()
}

// recordRecordedSubmission records in the store at dir the submission
// whose jobs squeue_identity.txt holds, made before they were submitted.
func recordRecordedSubmission(t *testing.T, dir, target string) *Submission {
	t.Helper()
	sub := &Submission{
		ID: recordedSub, Target: target, Experiment: target, Version: "1", Created: time.Date(2026, 11, 27, 0, 0, 0, 0, time.Local),
		JobName: "idrec", CollectName: "idrec-collect", Arrays: []ArrayJob{{JobID: "204"}}, Collect: "207",
	}
	testRecordSubmission(t, dir, sub)
	return sub
}

func TestJobComment(t *testing.T) {
	c := jobComment("abc", "s1", false)
	if st, sub, collect, ok := parseJobComment(c); !ok || st != "abc" || sub != "s1" || collect {
		t.Errorf("parseJobComment(%q)=%q, %q, %t, %t", c, st, sub, collect, ok)
	}
	if _, _, collect, ok := parseJobComment(jobComment("abc", "s1", true)); !ok || !collect {
		t.Errorf("the collect job's comment does not read as one")
	}
	for _, c := range []string{"", "(null)", "not | ours", "metalab", "metalab store=abc", "metalab submission=s1",
		"metalab store=abc submission=s1 by=me", "metalabstore=abc submission=s1"} {
		if _, _, _, ok := parseJobComment(c); ok {
			t.Errorf("parseJobComment(%q) ok, want another's comment", c)
		}
	}
}

// TestQueuedJobs: of the jobs squeue shows by name, only those whose
// comment names this store and one of its submissions, submitted after it
// was made, are the store's.
func TestQueuedJobs(t *testing.T) {
	const ours = "0123456789ab"
	sub := &Submission{ID: recordedSub, Created: time.Date(2026, 11, 27, 0, 0, 0, 0, time.Local), JobName: "idrec", CollectName: "idrec-collect"}
	tests := []struct {
		name   string
		store  string
		sub    Submission
		squeue string
		want   string // the lines kept, by job ID
	}{
		{"this store's", ours, *sub, "", "204_[2-9%2] 207 204_0 204_1"},
		{"another store's", "ba9876543210", *sub, "", ""},
		{"a submission the store does not have", ours, Submission{ID: "other", Created: sub.Created, JobName: "idrec"}, "", ""},
		{"submitted before the submission was made", ours, Submission{ID: recordedSub, Created: time.Date(2026, 12, 1, 0, 0, 0, 0, time.Local), JobName: "idrec"}, "", ""},
		{"ended", ours, *sub, "sed 's/RUNNING/COMPLETED/'", "204_[2-9%2] 207"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var filters []string
			if tt.squeue != "" {
				filters = append(filters, tt.squeue)
			}
			body := strings.ReplaceAll(queueOf(t, filters...), "@STOREID@", ours)
			sched := newStubScheduler(t, map[string]string{"squeue": body})
			s := tt.sub
			jobs, err := queuedJobs(context.Background(), sched.Client, tt.store, []*Submission{&s})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, j := range jobs {
				got = append(got, j.JobID)
				if j.Sub != &s || j.Collect != (j.JobID == "207") {
					t.Errorf("job %s: submission %v, collect %t", j.JobID, j.Sub, j.Collect)
				}
			}
			if got, want := strings.Join(got, " "), tt.want; got != want {
				t.Errorf("queuedJobs()=%q, want %q", got, want)
			}
			if calls := sched.calls(t, "squeue"); len(calls) != 1 || !strings.Contains(calls[0], "--me") || !strings.Contains(calls[0], "--name=idrec") {
				t.Errorf("squeue calls %q, want one by user and name", calls)
			}
		})
	}
	// Submissions made before jobs carried the store's identity, or none:
	// no call.
	sched := newStubScheduler(t, nil)
	if jobs, err := queuedJobs(context.Background(), sched.Client, ours, []*Submission{{ID: "old", Arrays: []ArrayJob{{JobID: "1"}}}}); jobs != nil || err != nil {
		t.Errorf("queuedJobs(a submission without names)=%v, %v, want nothing and no call", jobs, err)
	}
}

func TestAlive(t *testing.T) {
	for s, want := range map[slurm.State]bool{
		slurm.StatePending: false, slurm.StateRunning: true, slurm.StateCompleting: true, "SUSPENDED": true,
		slurm.StateCompleted: false, slurm.StateCancelled: false, slurm.StateNodeFail: false, slurm.StateTimeout: false,
	} {
		if got := alive(s); got != want {
			t.Errorf("alive(%s)=%t, want %t", s, got, want)
		}
	}
}
