package launcher

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/pgstore"
	"github.com/metalab-hpc/metalab/seeds"
	"github.com/metalab-hpc/metalab/slurm"
)

// Experiment bundles what a sweep runs: the operation, the param source and
// the seed plan, under a name and version. It mirrors Python's
// metalab.Experiment.
type Experiment struct {
	// Name identifies the experiment; it enters every run ID.
	Name string
	// Version helps track changes; it enters every run ID.
	Version string
	// Context is input data the operation reads: plain values, and files
	// given with [File]. Its fingerprint enters every run ID; a file enters
	// by its content hash, so a copied data set keeps its run IDs.
	Context map[string]any
	// Operation is what each run executes; see [Op].
	Operation Operation
	// Params is the sweep: [params.Grid], [params.Random] or [params.Cases].
	// nil means a single empty point.
	Params params.Source
	// Seeds is the seed plan: each param point runs Seeds.Replicates times.
	Seeds seeds.Plan
	// TrackCode puts the fingerprint of the operation's code (see [Coder])
	// into every run ID, as the Python library does: any change of the
	// code, a comment included, makes new run IDs, and the next sweep runs
	// everything again. Without it, run IDs stay, every record carries
	// the fingerprint of its code, and a sweep says how many completed runs
	// came from other code ([Options.RerunChanged] runs them again): a
	// comment does not invalidate a sweep, but results of old code stay
	// until asked.
	TrackCode bool

	// Timeout bounds one run's wall time (0: none). A run over it fails.
	Timeout time.Duration
	// Retries is how many more times a failed run is tried at once.
	Retries int
	// Limits bound what one run may capture: the size of one capture line
	// and of all of a run's lines, and of one artifact. The zero value
	// means the defaults of package capture (16 MiB, 64 MiB, 1 GiB).
	Limits capture.Limits

	// Slurm is how a SLURM submission runs the sweep: resources, modules,
	// setup lines. Local runs ignore it.
	Slurm slurm.Settings

	// Postgres is a PostgreSQL database (postgres://USER@HOST:PORT/DB) that
	// collect exports the store to after each merge, as `metalab store
	// export` does ([store] postgres in an experiment file). The store
	// keeps the URL, so it may not hold a password: the server's password
	// comes from ~/.pgpass or $PGPASSWORD.
	Postgres string
}

// File marks a context value as a file whose content (not path, mtime or
// inode) enters the experiment's fingerprint. The operation receives its
// absolute path.
type File string

// Context is the experiment context as an operation sees it: File values are
// absolute paths.
type Context map[string]any

// Validate reports the first problem that would keep the experiment from
// running.
func (e *Experiment) Validate() error {
	var errs []string
	if strings.TrimSpace(e.Name) == "" {
		errs = append(errs, "experiment has no name")
	}
	if !utf8.ValidString(e.Name) || !utf8.ValidString(e.Version) {
		errs = append(errs, "name and version must be valid UTF-8")
	}
	if e.Operation == nil {
		errs = append(errs, "experiment has no operation")
	}
	if err := e.Seeds.Validate(); err != nil {
		errs = append(errs, err.Error())
	}
	if e.Params != nil {
		if err := e.Params.Validate(); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if e.Timeout < 0 {
		errs = append(errs, "timeout is negative")
	}
	if e.Retries < 0 {
		errs = append(errs, "retries is negative")
	}
	if e.Postgres != "" {
		if err := checkPostgresURL(e.Postgres); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w %q: %s", ErrInvalidExperiment, e.Name, strings.Join(errs, "; "))
	}
	return nil
}

func (e *Experiment) source() params.Source {
	if e.Params == nil {
		return params.Cases{{}}
	}
	return e.Params
}

// contextFingerprint hashes the context canonically; files enter by content.
func contextFingerprint(ctx map[string]any) (string, error) {
	fp, _, err := fingerprintContext(ctx)
	return fp, err
}

// fingerprintContext is contextFingerprint, and the SHA-256 of each file
// of the context by its path (files are code too, see operationCode).
func fingerprintContext(ctx map[string]any) (string, map[string]string, error) {
	files := map[string]string{}
	resolved, err := resolveContext(ctx, func(f File) (any, error) {
		sum, err := hashFile(string(f))
		if err != nil {
			return nil, err
		}
		files[string(f)] = sum
		return map[string]any{"file_sha256": sum}, nil
	})
	if err != nil {
		return "", nil, err
	}
	b, err := params.Canonical(resolved)
	if err != nil {
		return "", nil, fmt.Errorf("context: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), files, nil
}

// operationContext gives the operation its view of the context.
func operationContext(ctx map[string]any) (Context, error) {
	m, err := resolveContext(ctx, func(f File) (any, error) {
		return filepath.Abs(string(f))
	})
	return Context(m), err
}

func resolveContext(ctx map[string]any, file func(File) (any, error)) (map[string]any, error) {
	out := make(map[string]any, len(ctx))
	keys := make([]string, 0, len(ctx))
	for k := range ctx {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := ctx[k]
		if f, ok := v.(File); ok {
			r, err := file(f)
			if err != nil {
				return nil, fmt.Errorf("context %q: %w", k, err)
			}
			out[k] = r
			continue
		}
		out[k] = v
	}
	return out, nil
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Operation is what one run executes. Most users build one with [Op] from a
// plain function; command-line experiments implement it directly.
type Operation interface {
	// Execute runs once. A returned error or a panic fails the run; an
	// error after ctx is cancelled marks it cancelled.
	Execute(ctx context.Context, rt *Runtime) error
}

// Describer is an [Operation] that can say what it runs, so that a store
// sees when the operation of an experiment changes under the same name and
// version, and warns of it (store.OperationChange): its runs in the store
// would pass for runs of the new one, as run IDs do not hash the
// operation. The command operations of experiment files are Describers
// (their command line); a Go function is not. Which code produced each
// run is told apart by its fingerprint (see [Coder]).
type Describer interface {
	// Describe returns what the operation runs, as named fields of plain
	// values (a command: its argv as written), the same for two
	// operations that run the same thing.
	Describe() map[string]any
}

// OperationFunc adapts a function to [Operation].
type OperationFunc func(ctx context.Context, rt *Runtime) error

// Execute implements [Operation].
func (f OperationFunc) Execute(ctx context.Context, rt *Runtime) error { return f(ctx, rt) }

var (
	typePoint   = reflect.TypeOf(params.Point(nil))
	typeBundle  = reflect.TypeOf(seeds.Bundle{})
	typeCapture = reflect.TypeOf((*capture.Capture)(nil)).Elem()
	typeCtx     = reflect.TypeOf((*context.Context)(nil)).Elem()
	typeRuntime = reflect.TypeOf((*Runtime)(nil))
	typeContext = reflect.TypeOf(Context(nil))
	typeError   = reflect.TypeOf((*error)(nil)).Elem()
)

// Op turns a function into an [Operation]. Like Python's @metalab.operation,
// the function declares what it needs by its argument types, in any order
// and any subset:
//
//	params.Point     the run's params
//	seeds.Bundle     the run's seed bundle
//	capture.Capture  where metrics, data, artifacts and logs go
//	context.Context  cancelled when the sweep is cancelled or the run times out
//	launcher.Context the experiment context
//	*launcher.Runtime  logger, scratch directory, run ID
//
// It returns nothing or an error. Op panics if fn has another shape, so a
// mistake shows at program start, not in the middle of a sweep.
func Op(fn any) Operation {
	op, err := newReflectOp(fn)
	if err != nil {
		panic(err)
	}
	return op
}

type reflectOp struct {
	fn   reflect.Value
	args []reflect.Type
}

func newReflectOp(fn any) (*reflectOp, error) {
	v := reflect.ValueOf(fn)
	t := v.Type()
	if t.Kind() != reflect.Func {
		return nil, fmt.Errorf("launcher.Op: want a function, got %T", fn)
	}
	if t.NumOut() > 1 || (t.NumOut() == 1 && t.Out(0) != typeError) {
		return nil, fmt.Errorf("launcher.Op: %v must return nothing or error", t)
	}
	if t.IsVariadic() {
		return nil, fmt.Errorf("launcher.Op: %v must not be variadic", t)
	}
	op := &reflectOp{fn: v}
	seen := map[reflect.Type]bool{}
	for i := 0; i < t.NumIn(); i++ {
		a := t.In(i)
		switch a {
		case typePoint, typeBundle, typeCapture, typeCtx, typeRuntime, typeContext:
		default:
			return nil, fmt.Errorf("launcher.Op: argument %d of %v has type %v; "+
				"want params.Point, seeds.Bundle, capture.Capture, context.Context, launcher.Context or *launcher.Runtime", i+1, t, a)
		}
		if seen[a] {
			return nil, fmt.Errorf("launcher.Op: %v asks for %v twice", t, a)
		}
		seen[a] = true
		op.args = append(op.args, a)
	}
	return op, nil
}

// Execute implements [Operation].
func (o *reflectOp) Execute(ctx context.Context, rt *Runtime) error {
	in := make([]reflect.Value, len(o.args))
	for i, a := range o.args {
		switch a {
		case typePoint:
			in[i] = reflect.ValueOf(rt.Params)
		case typeBundle:
			in[i] = reflect.ValueOf(rt.Seeds)
		case typeCapture:
			in[i] = reflect.ValueOf(&rt.Capture).Elem()
		case typeCtx:
			in[i] = reflect.ValueOf(&ctx).Elem()
		case typeRuntime:
			in[i] = reflect.ValueOf(rt)
		case typeContext:
			in[i] = reflect.ValueOf(rt.Context)
		}
	}
	out := o.fn.Call(in)
	if len(out) == 1 && !out[0].IsNil() {
		return out[0].Interface().(error)
	}
	return nil
}

// ErrInvalidExperiment wraps every error that comes from the experiment's
// definition rather than from running it.
var ErrInvalidExperiment = errors.New("invalid experiment")

// checkPostgresURL says what is wrong with an experiment's PostgreSQL URL:
// not one, or one with a password, which the store would keep in the open.
func checkPostgresURL(s string) error {
	if !pgstore.IsURL(s) {
		return fmt.Errorf("postgres %q is not a PostgreSQL URL (postgres://USER@HOST:PORT/DB)", s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("postgres: %v", err)
	}
	if _, has := u.User.Password(); has {
		return fmt.Errorf("postgres %s holds a password, which the store would keep in the open: put it in ~/.pgpass or $PGPASSWORD", pgstore.Redact(s))
	}
	if u.Query().Has("password") {
		return fmt.Errorf("postgres %s holds a password (password=), which the store would keep in the open: put it in ~/.pgpass or $PGPASSWORD", pgstore.Redact(s))
	}
	return nil
}
