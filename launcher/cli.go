package launcher

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/metalab-hpc/metalab/slurm"
	"github.com/metalab-hpc/metalab/store"
)

// What the commands share: the --store flag, the scheduler client, how an
// argument names an experiment, and files written whole.

func storeFlag() cli.Flag {
	return &cli.StringFlag{Name: "store", Aliases: []string{"s"}, Usage: "store `DIR`", Required: true}
}

// experimentFlag picks one experiment of a store that holds several.
func experimentFlag() cli.Flag {
	return &cli.StringFlag{Name: "experiment", Aliases: []string{"e"},
		Usage: "only the runs of experiment `NAME[@VERSION]` (default: every experiment of the store)"}
}

// slurmClient returns the scheduler client: the App's, or one with tool
// paths from the environment (METALAB_SBATCH, ...).
func (a *App) slurmClient() *slurm.Client {
	if a.Slurm != nil {
		return a.Slurm
	}
	return slurm.ClientFromEnv(os.Getenv)
}

// isExperimentFile reports whether a command's argument names an
// experiment file rather than a Go experiment compiled into the program.
func (a *App) isExperimentFile(arg string) bool {
	return arg != "" && a.LoadFile != nil && (strings.HasSuffix(arg, ".toml") || fileExists(arg))
}

// experiment finds the experiment a command means: an experiment file, or
// one of the compiled-in Go experiments by name (the only one when there is
// just one).
func (a *App) experiment(target string) (*Experiment, error) {
	if a.isExperimentFile(target) {
		exp, err := a.LoadFile(target)
		if err != nil {
			return nil, inputErr(err, "")
		}
		return exp, nil
	}
	switch {
	case target == "" && len(a.Experiments) == 1:
		return &a.Experiments[0], nil
	case target == "" && len(a.Experiments) == 0:
		return nil, usageErr(fmt.Sprintf("usage: %s run EXPERIMENT.toml", a.Name), "no experiment given")
	case target == "":
		return nil, usageErr("name one of: "+a.experimentNames(), "this program has %d experiments; name one", len(a.Experiments))
	}
	for i := range a.Experiments {
		if a.Experiments[i].Name == target {
			return &a.Experiments[i], nil
		}
	}
	if a.LoadFile != nil {
		return nil, usageErr("check the path", "no experiment file %q", target)
	}
	return nil, usageErr("name one of: "+a.experimentNames(), "no experiment named %q", target)
}

func (a *App) experimentNames() string {
	var names []string
	for _, e := range a.Experiments {
		names = append(names, e.Name)
	}
	return strings.Join(names, ", ")
}

// target is how workers find the experiment again: an experiment file by
// its absolute path, a Go experiment by its name.
func (a *App) target(arg string, exp *Experiment) (string, error) {
	if a.isExperimentFile(arg) {
		return filepath.Abs(arg)
	}
	return exp.Name, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// writeFileAtomic writes a regular file whole or not at all.
func writeFileAtomic(path string, fill func(io.Writer) error) error {
	return store.WriteFileAtomic(path, 0o644, fill)
}

// safeName makes a string usable in a file name.
func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	if len(b) > 40 {
		b = b[:40]
	}
	return string(b)
}

// checkStoreDir refuses a --store that names an existing directory that
// holds files but is neither a store nor one being made: a sweep would
// scatter its segments, indexes and logs among the files there (or, in a
// directory of stores, beside them). force lets it through. A store being
// made, by this process earlier or by another that holds its lock and has
// not bound it yet, holds nothing but the directories that the store
// package creates before its manifest.
func checkStoreDir(dir string, force bool) error {
	if force || dir == "" || fileExists(store.ManifestPath(dir)) {
		return nil
	}
	f, err := os.Open(dir)
	if err != nil {
		return nil // missing, or not a directory: opening the store says
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return nil
	}
	var foreign []string
	for _, n := range names {
		if !store.OwnsName(n) {
			foreign = append(foreign, n)
		}
	}
	if len(foreign) == 0 {
		return nil
	}
	sort.Strings(foreign)
	shown := foreign[:min(3, len(foreign))]
	for i, n := range shown {
		if fi, err := os.Lstat(filepath.Join(dir, n)); err == nil && fi.IsDir() {
			shown[i] = n + "/"
		}
	}
	list := strings.Join(shown, ", ")
	if len(foreign) > len(shown) {
		list += fmt.Sprintf(" and %d more", len(foreign)-len(shown))
	}
	return usageErr("name a new or empty directory, or a store; --force runs into this one anyway",
		"--store %s is not a metalab store, and not empty: it holds %s", dir, list)
}
