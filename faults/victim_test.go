package faults

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
)

// plantVictim makes a tree of files that the hostile operations of these
// tests point their symlinks at, under the test's own temporary directory:
// files, a file that looks like capture lines, nested directories, a
// symlink and an empty directory. Nothing metalab does may change it.
func plantVictim(t *testing.T, parent string) string {
	t.Helper()
	dir := filepath.Join(parent, "victim")
	files := map[string]string{
		"a.txt":          "victim file a\n",
		"captures.jsonl": `{"metric": "stolen", "value": 1}` + "\n",
		"sub/b.txt":      "victim file b\n",
		"sub/deep/c.bin": strings.Repeat("\x00\x01victim", 1000),
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("a.txt", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// snapshot describes every entry under dir: type, mode, size, owner and
// content hash (or link target), byte for byte, plus the directory's own
// mode and modification time.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		desc := fmt.Sprintf("%v uid=%d gid=%d", info.Mode(), st.Uid, st.Gid)
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			desc += " -> " + target
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			desc += fmt.Sprintf(" size=%d sha256=%s mtime=%d", len(b), hex.EncodeToString(sum[:8]), info.ModTime().UnixNano())
		case info.IsDir():
			desc += fmt.Sprintf(" mtime=%d", info.ModTime().UnixNano())
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", dir, err)
	}
	return out
}

// assertUnchanged fails the test when the tree differs from before, and
// says how.
func assertUnchanged(t *testing.T, dir string, before map[string]string) {
	t.Helper()
	after := snapshot(t, dir)
	var diffs []string
	for p, d := range before {
		if a, ok := after[p]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: removed (was %s)", p, d))
		} else if a != d {
			diffs = append(diffs, fmt.Sprintf("%s: %s, was %s", p, a, d))
		}
	}
	for p, a := range after {
		if _, ok := before[p]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: created (%s)", p, a))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Fatalf("the victim tree %s changed:\n%s", dir, strings.Join(diffs, "\n"))
	}
}
