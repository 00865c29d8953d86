package launcher

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"

	"github.com/metalab-hpc/metalab/store"
)

// Coder is an [Operation] that can fingerprint the code it runs, so that
// each record says which code produced it (store.Record.Code) and a sweep
// tells the completed runs that came from other code (see
// [Options.RerunChanged]). The command operations of experiment files are
// Coders: their program files by content, the interpreter by its path. Any
// other operation is code of the program that runs it, fingerprinted by
// its build (see [goBuildCode]).
type Coder interface {
	// Code returns what the operation's code is made of, by name (see
	// store.CodePart): a file's SHA-256, a program's resolved path. It is
	// called once per sweep, not per run.
	Code() (map[string]string, error)
}

// goBuildCode fingerprints the running Go program, once per process: the
// main module's path and version and its VCS revision from
// debug.ReadBuildInfo, and the SHA-256 of the executable, which changes
// with any edit of a program built by 'go run' or 'go test' (they stamp
// no revision). Hashing a 30 MB binary costs some 20 ms, once; the pinned
// copy a SLURM worker runs hashes the same.
var goBuildCode = sync.OnceValues(func() (map[string]string, error) {
	parts := map[string]string{}
	if bi, ok := debug.ReadBuildInfo(); ok {
		parts[store.CodePart("go", "module")] = bi.Main.Path + "@" + bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" || s.Key == "vcs.modified" {
				parts[store.CodePart("go", s.Key)] = s.Value
			}
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("fingerprinting the program's code: %w", err)
	}
	sum, err := hashFile(exe)
	if err != nil {
		return nil, fmt.Errorf("fingerprinting the program's code: %w", err)
	}
	parts[store.CodePart("go", "executable")] = sum
	return parts, nil
})

// operationCode fingerprints exp's code: its operation's (see [Coder]),
// and the files of its context, whose hashes contextFiles gives.
func operationCode(exp *Experiment, contextFiles map[string]string) (store.Code, error) {
	var parts map[string]string
	var err error
	if c, ok := exp.Operation.(Coder); ok {
		parts, err = c.Code()
	} else {
		parts, err = goBuildCode()
	}
	if err != nil {
		return store.Code{}, fmt.Errorf("%w %q: %w", ErrInvalidExperiment, exp.Name, err)
	}
	all := make(map[string]string, len(parts)+len(contextFiles))
	for k, v := range parts {
		all[k] = v
	}
	for path, sum := range contextFiles {
		// The file by its name, as the command would name it; the path
		// only if another file has that name.
		k := store.CodePart("file", filepath.Base(path))
		if v, ok := all[k]; ok && v != sum {
			k = store.CodePart("file", path)
		}
		all[k] = sum
	}
	return store.NewCode(all), nil
}

// codeChange counts the completed runs of a plan that came from other
// code than the plan's.
type codeChange struct {
	// runs is their number; by counts them by the fingerprint they have.
	runs int
	by   map[string]int
	// parts names what changed (see store.ChangedParts), when the store
	// knows the parts of their fingerprints.
	parts []string
	// rerun: they run again (--rerun-changed).
	rerun bool
}

// what names what changed, for a message: "a different linreg.py", or
// "other code" when the store does not know.
func (c *codeChange) what() string {
	if len(c.parts) == 0 {
		return "other code"
	}
	return "a different " + joinAnd(c.parts)
}

// message says it, and what to do about it: verb is the command that
// would run them again.
func (c *codeChange) message(prog, verb string) string {
	them := "them"
	if c.runs == 1 {
		them = "it"
	}
	if c.rerun {
		return fmt.Sprintf("%s came from %s; --rerun-changed runs %s again", nCompleted(c.runs), c.what(), them)
	}
	return fmt.Sprintf("%s came from %s; '%s %s --rerun-changed' runs %s again", nCompleted(c.runs), c.what(), prog, verb, them)
}

// nCompleted is "1 completed run", "2 completed runs".
func nCompleted(n int) string {
	if n == 1 {
		return "1 completed run"
	}
	return fmt.Sprintf("%d completed runs", n)
}

// changedParts names what differs between the code of runs (their
// fingerprints, counted in by) and cur, from the parts the store keeps of
// each fingerprint (nil when it knows none of them).
func changedParts(by map[string]int, codes map[string]map[string]string, cur map[string]string) []string {
	seen := map[string]bool{}
	for fp := range by {
		old, ok := codes[fp]
		if !ok {
			continue
		}
		for _, p := range store.ChangedParts(old, cur) {
			seen[p] = true
		}
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// joinAnd writes "a", "a and b", "a, b and c".
func joinAnd(s []string) string {
	if len(s) <= 1 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
