package faults

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// permsOp records a metric, an artifact left in the artifact directory, an
// artifact by path, and writes to stdout and stderr.
const permsOp = `#!/bin/sh
set -eu
echo "run $METALAB_RUN_ID says hello"
echo "a line on stderr" >&2
echo "$METALAB_RUN_ID" > "$METALAB_ARTIFACT_DIR/id.txt"
echo "model of $METALAB_RUN_ID" > "model-$METALAB_RUN_ID.bin"
echo "{\"artifact\": \"model\", \"path\": \"model-$METALAB_RUN_ID.bin\"}" >> "$METALAB_CAPTURE"
echo "{\"metric\": \"y\", \"value\": $METALAB_PARAM_X}" >> "$METALAB_CAPTURE"
`

// TestStorePermissions runs a sweep, then results, summary, status and
// collect, under umask 002 (a store shared by a group) and umask 077 (a
// private one), and walks the whole store: nothing may ever be
// world-writable; under 002 every file and directory is readable by the
// group (directories also searchable), under 077 nothing is readable by
// the group or others.
func TestStorePermissions(t *testing.T) {
	bin := buildMetalab(t)
	for _, tt := range []struct {
		umask string
		check func(path string, mode fs.FileMode) string // a complaint, or ""
	}{
		{"002", func(path string, mode fs.FileMode) string {
			want := fs.FileMode(0o040)
			if mode.IsDir() {
				want = 0o050
			}
			if mode.Perm()&want != want {
				return "not readable by the group"
			}
			return ""
		}},
		{"077", func(path string, mode fs.FileMode) string {
			if mode.Perm()&0o077 != 0 {
				return "open to the group or others"
			}
			return ""
		}},
	} {
		t.Run("umask "+tt.umask, func(t *testing.T) {
			dir := t.TempDir()
			exp := writeExperiment(t, dir, "perms", permsOp, 6, 2, "")
			st := filepath.Join(dir, "store")
			metalab := func(args ...string) {
				t.Helper()
				cmd := exec.Command("sh", append([]string{"-c", "umask " + tt.umask + `; exec "$@"`, "sh", bin}, args...)...)
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
				if out, err := combined(cmd); err != nil {
					t.Fatalf("metalab %s: %v\n%s", strings.Join(args, " "), err, out)
				}
			}
			// While the commands run, a watcher walks the store again and
			// again: "never world-writable" holds for the files that come
			// and go (temporary files, journals) too.
			stop := make(chan struct{})
			watched := make(chan []string)
			go func() {
				var seen []string
				walks := 0
				for {
					select {
					case <-stop:
						watched <- append(seen, fmt.Sprint(walks))
						return
					default:
					}
					walks++
					time.Sleep(time.Millisecond)
					filepath.WalkDir(st, func(path string, d fs.DirEntry, err error) error {
						if err != nil {
							return nil // gone meanwhile
						}
						if info, err := d.Info(); err == nil && info.Mode().Perm()&0o002 != 0 {
							seen = append(seen, fmt.Sprintf("%s: %v", path, info.Mode()))
						}
						return nil
					})
				}
			}()
			metalab("run", exp, "--store", st, "--progress", "quiet")
			metalab("results", "--store", st, "--format", "csv", "--output", filepath.Join(st, "tmp", "export.csv"))
			metalab("summary", "--store", st)
			metalab("status", "--store", st)
			metalab("collect", "--store", st, exp)
			close(stop)
			seen := <-watched
			walks := seen[len(seen)-1]
			for _, w := range seen[:len(seen)-1] {
				t.Errorf("world-writable while the commands ran: %s", w)
			}

			var files, dirs, artifacts int
			var bad []string
			err := filepath.WalkDir(st, func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				info, err := d.Info()
				if err != nil {
					return err
				}
				mode := info.Mode()
				if mode&fs.ModeSymlink != 0 {
					bad = append(bad, path+": a symlink")
					return nil
				}
				if mode.IsDir() {
					dirs++
				} else {
					files++
					if strings.Contains(filepath.ToSlash(path), "/artifacts/") {
						artifacts++
					}
				}
				rel, _ := filepath.Rel(st, path)
				if mode.Perm()&0o002 != 0 {
					bad = append(bad, fmt.Sprintf("%s: %v, world-writable", rel, mode))
				}
				if why := tt.check(path, mode); why != "" {
					bad = append(bad, fmt.Sprintf("%s: %v, %s", rel, mode, why))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if artifacts != 2*12 {
				t.Errorf("%d artifact files in the store, want %d", artifacts, 2*12)
			}
			for _, b := range bad {
				t.Error(b)
			}
			figures(t, "umask=%s files=%d dirs=%d artifacts=%d bad=%d walks_while_running=%s world_writable_seen=%d",
				tt.umask, files, dirs, artifacts, len(bad), walks, len(seen)-1)
		})
	}
}
