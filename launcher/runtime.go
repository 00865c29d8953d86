package launcher

import (
	"os"
	"sync"

	"github.com/rs/zerolog"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/internal/tempname"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/seeds"
	"github.com/metalab-hpc/metalab/store"
)

// Runtime is everything one run can use besides its params, seeds and
// capture: its ID, a logger, a scratch directory, and the experiment context.
// An operation asks for it by taking a *launcher.Runtime argument.
type Runtime struct {
	RunID   string
	Params  params.Point
	Seeds   seeds.Bundle
	Capture capture.Capture
	Context Context
	// Logger writes to the sweep's log with the run ID attached.
	Logger zerolog.Logger
	// Slot is the index of the worker slot (0..workers-1) running this run.
	Slot int
	// Writer names the store writer (segment) that records this run. A
	// writer's slot runs one run at a time (a [Pipeliner]'s slot may hold
	// several, but runs them one after the other), so Writer and Slot
	// together name files that runs may append to without interleaving,
	// such as the per-slot output logs of command operations.
	Writer string

	rec        *capture.Recorder
	store      *store.Store
	paramsJSON []byte
	once       sync.Once
	scratch    string
	scrErr     error
	annotate   []func(*store.Record)
	clock      *runClock // a pipelined run's start, at Begin; nil: begun
}

// ScratchDir returns a private directory for this run, created on first
// call and removed with its contents when the run ends. It lies under
// $TMPDIR, which on a cluster is usually node-local; a sweep that was
// killed leaves its scratch directories to the next sweep on the host to
// remove.
func (rt *Runtime) ScratchDir() (string, error) {
	rt.once.Do(func() {
		rt.scratch, rt.scrErr = os.MkdirTemp("", tempname.Pattern(ScratchPrefix, rt.RunID))
	})
	return rt.scratch, rt.scrErr
}

// ParamsJSON is the canonical JSON of Params (package params), as the run
// ID hashed it: operations that pass the params on as JSON use it rather
// than encode them again.
func (rt *Runtime) ParamsJSON() ([]byte, error) {
	if rt.paramsJSON != nil {
		return rt.paramsJSON, nil
	}
	return params.Canonical(rt.Params)
}

// StoreDir is the store directory the run's results go to.
func (rt *Runtime) StoreDir() string { return rt.store.Dir() }

// Store is the store the run's results go to, for operations that write
// files of their own into it (the per-slot logs of command operations),
// through [store.Store.OpenLog] and [store.Store.Root], never by path.
func (rt *Runtime) Store() *store.Store { return rt.store }

// Recorder is the run's capture recorder, for operations that feed it by
// other paths than the [capture.Capture] methods (the command protocol).
func (rt *Runtime) Recorder() *capture.Recorder { return rt.rec }

// Annotate registers a change to the run's end record, such as the exit
// code or peak memory of a command. It is applied after the operation
// returns.
func (rt *Runtime) Annotate(fn func(*store.Record)) { rt.annotate = append(rt.annotate, fn) }

// ScratchPrefix begins the names of the scratch directories of runs (those
// of [Runtime.ScratchDir], and an operation's own, such as a command's
// per-slot ones); the rest tells the host and process of the sweep
// (package tempname), so that the next sweep can remove those of one that
// was killed.
const ScratchPrefix = "metalab-run."

// removeStaleScratch removes the scratch directories under $TMPDIR of
// sweeps on this host that died without cleaning up.
func removeStaleScratch() { tempname.RemoveStale(os.TempDir(), ScratchPrefix) }

func (rt *Runtime) cleanup() {
	if rt.scratch != "" {
		os.RemoveAll(rt.scratch)
	}
}
