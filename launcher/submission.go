package launcher

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/metalab-hpc/metalab/shard"
	"github.com/metalab-hpc/metalab/slurm"
	"github.com/metalab-hpc/metalab/store"
)

// Submission records one `metalab submit`: what was submitted, how it was
// sharded and which jobs run it. It lives in the store under
// submissions/<ID>/ with the shard layout (layout.json) and the rendered
// batch scripts, so that workers, status, collect and cancel find them.
type Submission struct {
	ID         string    `json:"id"`
	Created    time.Time `json:"created"`
	Experiment string    `json:"experiment"`
	Version    string    `json:"version"`
	// Identity is the plan's (see [Plan.Manifest]); Plan is its canonical
	// document, from which a worker rebuilds the plan as it was submitted
	// (its params and seeds), however the experiment has grown since; and
	// Operation what the operation ran (see [Describer]), which a worker
	// checks. A submission made by a metalab before this has neither: its
	// workers need the experiment unchanged.
	Identity  string          `json:"identity"`
	Plan      json.RawMessage `json:"plan,omitempty"`
	Operation json.RawMessage `json:"operation,omitempty"`
	// Target is what the workers load: the experiment file's absolute path,
	// or the name of a Go experiment compiled into Binary.
	Target string `json:"target"`
	// Binary is the pinned copy of the program the workers run.
	Binary string `json:"binary"`
	Runs   int    `json:"runs"`
	// RunsPerTask is the shard size.
	RunsPerTask int            `json:"runs_per_task"`
	Arrays      []ArrayJob     `json:"arrays"`
	Collect     string         `json:"collect_job_id,omitempty"`
	Settings    slurm.Settings `json:"slurm"`

	// StoreID, JobName and CollectName are how the submission's jobs are
	// told from others (see identity.go): each carries the comment
	// jobComment(StoreID, ID, ...) and one of the names.
	StoreID     string `json:"store_id,omitempty"`
	JobName     string `json:"job_name,omitempty"`
	CollectName string `json:"collect_job_name,omitempty"`
	// RerunChanged: the submission runs again runs that were completed
	// from other code (submit --rerun-changed), so its workers count as
	// done only the runs completed since it was Created, and a requeued
	// task does not run them twice.
	RerunChanged bool `json:"rerun_changed,omitempty"`
	// KillWait is the cluster's KillWait when it was submitted, in
	// seconds: the workers stop their runs within it (0: not known).
	KillWait int `json:"kill_wait_seconds,omitempty"`
}

// ArrayJob is one sbatch array of a submission.
type ArrayJob struct {
	Index    int    `json:"index"`
	JobID    string `json:"job_id"`
	Script   string `json:"script"` // relative to the store
	Tasks    int    `json:"tasks"`
	Throttle int    `json:"throttle,omitempty"`
	After    []int  `json:"after,omitempty"`
	// Submitted is when sbatch accepted it, by this host's clock.
	Submitted time.Time `json:"submitted,omitzero"`
}

// JobIDs lists the submission's scheduler jobs, the collect job included.
func (s *Submission) JobIDs() []string {
	var ids []string
	for _, a := range s.Arrays {
		if a.JobID != "" {
			ids = append(ids, a.JobID)
		}
	}
	if s.Collect != "" {
		ids = append(ids, s.Collect)
	}
	return ids
}

// jobIDs lists the scheduler jobs of the submissions (only: of the one with
// that ID), for one squeue, sacct or scancel call over all of them.
func jobIDs(subs []*Submission, only string) []string {
	var ids []string
	for _, s := range subs {
		if only == "" || s.ID == only {
			ids = append(ids, s.JobIDs()...)
		}
	}
	return ids
}

func newSubmissionID(now time.Time) string {
	var b [3]byte
	rand.Read(b[:])
	return now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

func submissionDir(storeDir, id string) string {
	return store.SubmissionDir(storeDir, id)
}

func saveSubmission(storeDir string, sub *Submission) error {
	b, err := json.MarshalIndent(sub, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(submissionDir(storeDir, sub.ID), "submission.json"), func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}

func saveLayout(storeDir, id string, l *shard.Layout) error {
	return writeFileAtomic(filepath.Join(submissionDir(storeDir, id), "layout.json"), l.Encode)
}

func loadSubmission(storeDir, id string) (*Submission, error) {
	b, err := os.ReadFile(filepath.Join(submissionDir(storeDir, id), "submission.json"))
	if err != nil {
		if os.IsNotExist(err) {
			return nil, usageErr(fmt.Sprintf("see the submissions in %s", store.SubmissionsDir(storeDir)),
				"no submission %q in store %s", id, storeDir)
		}
		return nil, err
	}
	var sub Submission
	if err := json.Unmarshal(b, &sub); err != nil {
		return nil, fmt.Errorf("submission %s: %w", id, err)
	}
	return &sub, nil
}

func loadLayout(storeDir, id string) (*shard.Layout, error) {
	b, err := os.ReadFile(filepath.Join(submissionDir(storeDir, id), "layout.json"))
	if err != nil {
		return nil, err
	}
	l, err := shard.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("submission %s: layout.json: %w", id, err)
	}
	return l, nil
}

// listSubmissions returns the store's submissions, oldest first.
func listSubmissions(storeDir string) ([]*Submission, error) {
	entries, err := os.ReadDir(store.SubmissionsDir(storeDir))
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	var subs []*Submission
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		sub, err := loadSubmission(storeDir, e.Name())
		if err != nil {
			continue // a submission being written, or one that failed half-way
		}
		subs = append(subs, sub)
	}
	sort.Slice(subs, func(i, j int) bool { return subs[i].Created.Before(subs[j].Created) })
	return subs, nil
}
