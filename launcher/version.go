package launcher

import (
	"debug/elf"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// modulePath is metalab's module: in a program of [Main] it is a
// dependency, whose version the program's own does not tell.
const modulePath = "github.com/metalab-hpc/metalab"

// buildInfo is what `metalab version` reports: enough to tell two binaries
// apart on a cluster, where a node may run a copy pinned weeks ago.
type buildInfo struct {
	// Program and its module version ("(devel)" for a build from a
	// checkout without a tag).
	Program, Version string
	// Metalab is the version of the metalab module in a program of
	// [Main]; "" in the metalab binary itself.
	Metalab string
	// Commit, CommitTime and Modified describe the checkout the program
	// was built from, when go build recorded it.
	Commit, CommitTime string
	Modified           bool
	GoVersion          string
	SQLite             string
	// Static: the binary needs no dynamic loader (hack/build-static.sh).
	Static bool
	// Tags and CGO are build settings that change what the binary can do
	// (netgo, osusergo, sqlite_omit_load_extension).
	Tags string
	CGO  string
}

// readBuildInfo reports the build of the running program, named name.
func readBuildInfo(name string) buildInfo {
	bi := buildInfo{Program: name, GoVersion: runtime.Version(), Version: "unknown"}
	bi.SQLite, _, _ = sqlite3.Version()
	bi.Static = isStatic()
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return bi
	}
	bi.Version = info.Main.Version
	if info.Main.Path != modulePath {
		bi.Metalab = "unknown"
		for _, d := range info.Deps {
			if d.Path == modulePath {
				bi.Metalab = d.Version
				if d.Replace != nil {
					bi.Metalab += " => " + d.Replace.Path + " " + d.Replace.Version
				}
			}
		}
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			bi.Commit = s.Value
		case "vcs.time":
			bi.CommitTime = s.Value
		case "vcs.modified":
			bi.Modified = s.Value == "true"
		case "-tags":
			bi.Tags = s.Value
		case "CGO_ENABLED":
			bi.CGO = s.Value
		}
	}
	return bi
}

// isStatic reports whether the running binary is statically linked: an
// ELF executable without a PT_INTERP header names no dynamic loader. It
// asks the binary itself, not the flags it was built with, which another
// build script may spell differently.
func isStatic() bool {
	f, err := elf.Open("/proc/self/exe")
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

// WriteTo writes the build report, one "key value" line each.
func (bi buildInfo) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", bi.Program, bi.Version)
	if bi.Metalab != "" {
		fmt.Fprintf(&b, "metalab  %s\n", bi.Metalab)
	}
	if bi.Commit != "" {
		commit := bi.Commit
		if bi.CommitTime != "" {
			commit += " (" + bi.CommitTime + ")"
		}
		if bi.Modified {
			commit += ", with uncommitted changes"
		}
		fmt.Fprintf(&b, "commit   %s\n", commit)
	} else {
		b.WriteString("commit   unknown (not recorded: built outside a git checkout, or with -buildvcs=false)\n")
	}
	fmt.Fprintf(&b, "go       %s\n", bi.GoVersion)
	fmt.Fprintf(&b, "sqlite   %s\n", bi.SQLite)
	link := "dynamic (needs the C library of the machine it runs on; hack/build-static.sh builds a static one)"
	if bi.Static {
		link = "static"
	}
	fmt.Fprintf(&b, "linking  %s\n", link)
	if bi.Tags != "" {
		fmt.Fprintf(&b, "tags     %s\n", bi.Tags)
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}
