package launcher

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/seeds"
	"github.com/metalab-hpc/metalab/slurm"
	"github.com/metalab-hpc/metalab/store"
)

// shardRequest is what one SLURM array task runs: its shard of a
// submission.
type shardRequest struct {
	Store string
	Sub   *Submission
	Exp   *Experiment
	Array int
	Task  int
	// Workers is how many runs execute at once; 0 means the task's CPUs,
	// else [slurm] cpus_per_task, else 1.
	Workers int
	// Env is where the task runs, as SLURM says.
	Env slurm.TaskEnv
	// Progress receives a progress line a minute; with JSONLog, as a
	// record of the log, so that the task's log is all JSON.
	Progress io.Writer
	JSONLog  bool
	// Name is the program's name, for the store's lock.
	Name string
	// Started is when the task started, for the stop time.
	Started time.Time
	// Warned, if set, is closed when SLURM sends the warning signal of
	// the time limit (sbatch --signal): the task then starts no new run.
	Warned <-chan struct{}
}

// fieldGrace is the log field of the grace a worker's runs get (the other
// field names are in logger.go).
const fieldGrace = "grace"

// graceLimiter is an operation that gives a run it cancels time to end
// before it kills it (a program's SIGTERM grace, package command), and
// can be told to give less. A worker must record its cancelled runs
// before SLURM's SIGKILL, KillWait after SIGTERM.
type graceLimiter interface {
	LimitGrace(time.Duration)
}

// workerGrace is the grace a worker gives the runs it cancels: half of the
// cluster's KillWait, the other half left to record them and exit; 0 when
// KillWait is not known (a submission made before it was recorded).
func workerGrace(killWait time.Duration) time.Duration {
	return killWait / 2
}

// runShard runs the shard of an array task, skipping the runs the store has
// as completed, waits for it and logs how it went. It runs the plan that was
// submitted (see [submittedPlan]). Its segment is named after the node, the
// job, the task and the restart, so that a requeued task writes a new one.
// It stops starting runs a margin before the task's time limit.
func runShard(ctx context.Context, log zerolog.Logger, req shardRequest) (Status, error) {
	started, sub, env := req.Started, req.Sub, req.Env
	plan, err := submittedPlan(log, req.Exp, sub, req.Name, req.Store)
	if err != nil {
		return Status{}, err
	}
	req.Exp = plan.exp
	layout, err := loadLayout(req.Store, sub.ID)
	if err != nil {
		return Status{}, err
	}
	indexes, err := layout.Shard(req.Array, req.Task)
	if err != nil {
		return Status{}, err
	}
	workers := req.Workers
	if workers <= 0 {
		workers = env.CPUsPerTask
	}
	if workers <= 0 {
		workers = max(req.Exp.Slurm.CPUsPerTask, 1)
	}
	jobID := env.ArrayJob()
	if jobID == "" {
		jobID = "local"
	}
	node := runHost(env)
	if g, ok := req.Exp.Operation.(graceLimiter); ok && sub.KillWait > 0 {
		grace := workerGrace(time.Duration(sub.KillWait) * time.Second)
		g.LimitGrace(grace)
		log.Debug().Dur(fieldGrace, grace).Msg("runs get half of KillWait to end when cancelled")
	}
	stopAt := stopDispatchAt(started, env.EndTime, req.Exp, log)
	warned := req.Warned
	if warned != nil && !stopAt.IsZero() && req.Exp.Slurm.Signal == "" {
		// The derived warning stands for the same stop time, which the
		// worker knows better: slurmctld checks time limits on a tick of
		// about 30 s, and warned 44 s into a limit of 60 s (with @6,
		// @18 and @30 alike). A signal the user set is obeyed.
		warned = nil
		go func() {
			select {
			case <-req.Warned:
				log.Info().Time(fieldStopAt, stopAt).Msg("SLURM warns of the time limit; starting runs until the stop time, as planned")
			case <-ctx.Done():
			}
		}()
	}
	progress := "lines"
	if req.JSONLog {
		progress = "log"
	}
	h, err := start(ctx, req.Exp, Options{
		Store:            req.Store,
		Workers:          workers,
		Logger:           &log,
		Progress:         req.Progress,
		ProgressMode:     progress,
		ProgressInterval: time.Minute,
		Writer: store.WriterOptions{
			Name: fmt.Sprintf("%s-j%s_%d-r%d", safeName(node), safeName(jobID), req.Task, env.RestartCount),
			Node: node,
		},
		Select:         func(*Plan) ([]int, error) { return indexes, nil },
		StopDispatchAt: stopAt,
		stopDispatch:   warned,
		LockWait:       workerLockWait(started, stopAt),
		worker:         true,
		plan:           plan,
		rerunSince:     rerunSince(sub),
		lockPurpose:    fmt.Sprintf("%s worker of submission %s (job %s, array %d, task %d)", req.Name, sub.ID, jobID, req.Array, req.Task),
		lockGroup:      sub.ID,
	})
	if err != nil {
		return Status{}, err
	}
	_, err = h.Result()
	s := h.Status()
	log.Info().Str(fieldSubmission, sub.ID).Int(fieldArray, req.Array).Int(fieldTask, req.Task).
		Int(fieldRuns, s.Total).Int(fieldCompleted, s.Completed).Int(fieldFailed, s.Failed).
		Int(fieldCancelled, s.Cancelled).Int(fieldSkipped, s.Skipped).Int(fieldNotStarted, s.Pending).Msg("shard done")
	return s, err
}

// submittedPlan is the plan that the workers of sub run: the experiment as
// it is now (its operation, context, timeout, limits), with the params and
// seeds of the plan the submission recorded. The experiment may have grown
// since (values, cases, replicates or trials added, which a later submit
// submits): the plan indexes of the submission's layout are still the runs
// it submitted, each with the run ID it had. What would make other runs of
// them is refused, the shard's runs left pending: another name or version
// (another experiment) and another context (it enters every run ID).
// Another operation is logged as a warning, as a local sweep does (see
// [store.OperationChange]): the runs run the operation as it is now.
//
// A submission made by a metalab before submissions recorded their plan,
// or of a param source of the program's own that cannot be rebuilt from
// its spec, needs the experiment as it was.
func submittedPlan(log zerolog.Logger, exp *Experiment, sub *Submission, name, storeDir string) (*Plan, error) {
	hint := fmt.Sprintf("the runs of this task stay pending; '%s collect --resubmit --store %s' submits them as the experiment is now", name, storeDir)
	changed := func(what string) error {
		return inputErr(fmt.Errorf("experiment %s changed since submission %s: %s", sub.Target, sub.ID, what), hint)
	}
	var spec struct {
		Experiment string          `json:"experiment"`
		Version    string          `json:"version"`
		Context    string          `json:"context"`
		Code       string          `json:"code"`
		Params     json.RawMessage `json:"params"`
		Seeds      seeds.Plan      `json:"seeds"`
	}
	var src params.Source
	if len(sub.Plan) > 0 {
		if err := json.Unmarshal(sub.Plan, &spec); err != nil {
			return nil, fmt.Errorf("submission %s: its plan: %w", sub.ID, err)
		}
		src, _ = params.SourceFromSpec(spec.Params)
	}
	if src == nil {
		plan, err := NewPlan(exp)
		if err != nil {
			return nil, err
		}
		if plan.Manifest().Identity != sub.Identity {
			return nil, changed(fmt.Sprintf("its plan has identity %.12s, the submitted one %.12s", plan.Manifest().Identity, sub.Identity))
		}
		return plan, nil
	}
	var diffs []string
	if exp.Name != spec.Experiment {
		diffs = append(diffs, fmt.Sprintf("name was %q, is %q now", spec.Experiment, exp.Name))
	}
	if exp.Version != spec.Version {
		diffs = append(diffs, fmt.Sprintf("version was %q, is %q now", spec.Version, exp.Version))
	}
	op, err := operationJSON(exp.Operation)
	if err != nil {
		return nil, err
	}
	if len(op) > 0 && len(sub.Operation) > 0 && !sameJSON(op, sub.Operation) {
		was, _ := params.Canonical(decodeJSON(sub.Operation))
		log.Warn().Str(fieldSubmission, sub.ID).Msgf("the operation changed since the submission: it was %s, is %s now; this task runs it as it is now", was, op)
	}
	if len(diffs) > 0 {
		return nil, changed(strings.Join(diffs, "; "))
	}
	submitted := *exp
	submitted.Params, submitted.Seeds = src, spec.Seeds
	plan, err := NewPlan(&submitted)
	if err != nil {
		return nil, err
	}
	if plan.ContextFingerprint() != spec.Context {
		return nil, changed(fmt.Sprintf("its context (values or the content of its files) has fingerprint %.12s, the submitted one %.12s",
			plan.ContextFingerprint(), spec.Context))
	}
	if plan.trackedCode != spec.Code {
		// track_code: the code is in every run ID.
		return nil, changed(fmt.Sprintf("its code (the files its command names, the interpreter's path) has fingerprint %q, the submitted one %q",
			plan.trackedCode, spec.Code))
	}
	if plan.Manifest().Identity != sub.Identity {
		return nil, fmt.Errorf("submission %s: the plan rebuilt from its record has identity %.12s, not the submitted %.12s",
			sub.ID, plan.Manifest().Identity, sub.Identity)
	}
	return plan, nil
}

// rerunSince is when the runs that sub runs again were completed last,
// or the zero time for a submission that runs none again.
func rerunSince(sub *Submission) time.Time {
	if !sub.RerunChanged {
		return time.Time{}
	}
	return sub.Created
}

// sameJSON compares two JSON documents by value: the submission's record
// keeps them indented, and with HTML characters escaped.
func sameJSON(a, b []byte) bool {
	return reflect.DeepEqual(decodeJSON(a), decodeJSON(b))
}

func decodeJSON(b []byte) any {
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return string(b)
	}
	return v
}

// workerLockWait is how long a worker waits for a local sweep that holds the
// store: long enough for a local sweep killed with its node to go stale
// (store.DefaultLockStale) and for a submit to finish, not so long that a
// task spends its allocation waiting, and never past its stop time.
func workerLockWait(now, stopAt time.Time) time.Duration {
	wait := store.DefaultLockStale + time.Minute
	if !stopAt.IsZero() {
		wait = min(wait, stopAt.Sub(now))
	}
	// Options.LockWait: 0 refuses at once, and negative would wait for ever.
	return max(wait, 0)
}

// stopMargin is how long before its time limit a task stops starting runs:
// two minutes, or a tenth of a short limit. It leaves the runs in flight
// time to end, and the worker room to record the interrupted ones and exit
// before SLURM kills the task.
func stopMargin(limit time.Duration) time.Duration {
	return min(2*time.Minute, limit/10)
}

// stopDispatchAt is when a task stops starting runs: a margin before its
// end, jobEnd (zero when SLURM does not say: 22.05 sets no
// SLURM_JOB_END_TIME), else estimated from the task's start and the [slurm]
// time limit.
func stopDispatchAt(started, jobEnd time.Time, exp *Experiment, log zerolog.Logger) time.Time {
	end := jobEnd
	if limit, err := exp.Slurm.TimeLimit(); end.IsZero() && err == nil && limit > 0 {
		end = started.Add(limit)
	}
	if end.IsZero() {
		return time.Time{}
	}
	margin := stopMargin(end.Sub(started))
	log.Debug().Time(fieldEnd, end).Dur(fieldMargin, margin).Msg("time limit known")
	return end.Add(-margin)
}
