package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"strings"
)

// Run IDs do not hash the code an operation runs (unless the experiment
// asks, see launcher.Experiment.TrackCode), so that a changed comment does
// not make a whole sweep stale; instead every record carries the
// fingerprint of the code that produced it, and the store's record of each
// experiment version keeps what went into every fingerprint its runs
// carry ([ExperimentInfo.Codes]): a reader tells which completed runs came
// from other code than the current one, and which file changed.

// Code fingerprints the code of an operation: its command line, the content
// hashes of the program files it runs, the interpreter's path, the build of
// a Go program.
type Code struct {
	// Fingerprint is the first 6 bytes, in hex, of SHA-256 over the JSON of
	// Parts (keys sorted).
	Fingerprint string
	// Parts are what went into it, by name: "file train.py" and the
	// SHA-256 of its content, "program python3" and the path it resolves
	// to, and so on (see [CodePart]).
	Parts map[string]string
}

// NewCode fingerprints parts.
func NewCode(parts map[string]string) Code {
	if parts == nil {
		parts = map[string]string{}
	}
	b, _ := json.Marshal(parts) // sorted keys; a map of strings always encodes
	sum := sha256.Sum256(b)
	return Code{Fingerprint: hex.EncodeToString(sum[:6]), Parts: parts}
}

// CodePart names a part of a [Code]: its kind ("file", "program",
// "context", "go") and what it is (a file as the command names it).
func CodePart(kind, name string) string { return kind + " " + name }

// ChangedParts names the parts in which old differs from cur, as a person
// knows them (a file by its name, "python3", "the Go build"), sorted: what
// to say of runs that came from old.
func ChangedParts(old, cur map[string]string) []string {
	seen := map[string]bool{}
	for _, k := range slices.Concat(slices.Collect(maps.Keys(old)), slices.Collect(maps.Keys(cur))) {
		ov, inOld := old[k]
		cv, inCur := cur[k]
		if inOld && inCur && ov == cv {
			continue
		}
		kind, name, _ := strings.Cut(k, " ")
		switch {
		case kind == "go":
			name = "Go build"
		case name == "":
			name = kind
		}
		seen[name] = true
	}
	return slices.Sorted(maps.Keys(seen))
}
