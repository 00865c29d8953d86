package faults

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/metalab-hpc/metalab/store"
)

// confineOp attacks metalab's files as $METALAB_PARAM_MODE says, aiming
// every symlink at $VICTIM, a tree the test planted.
const confineOp = `#!/bin/sh
v="$VICTIM"
cap="$METALAB_CAPTURE"
art="$METALAB_ARTIFACT_DIR"
scr="$METALAB_SCRATCH"
case "$METALAB_PARAM_MODE" in
ok)             echo '{"metric": "y", "value": 1}' >> "$cap"; echo a > "$art/a.txt" ;;
artdir-link)    echo x > "$art/own.txt"; rm -rf "$art"; ln -s "$v" "$art" ;;
scratch-link)   rm -rf "$scr"; ln -s "$v" "$scr" ;;
capture-link)   rm -f "$cap"; ln -s "$v/captures.jsonl" "$cap" ;;
capture-fifo)   rm -f "$cap"; mkfifo "$cap" ;;
scratch-wipe)   echo '{"metric": "y", "value": 1}' >> "$cap"; rm -rf "$scr"/* ;;
entry-link)     echo '{"metric": "y", "value": 1}' >> "$cap"; ln -s "$v/a.txt" "$art/a.txt"; ln -s "$v/sub" "$art/sub"; mkfifo "$art/fifo" ;;
dev-zero)       echo '{"artifact": "z", "path": "/dev/zero"}' >> "$cap" ;;
fifo-path)      mkfifo "$scr/f"; echo "{\"artifact\": \"f\", \"path\": \"$scr/f\"}" >> "$cap" ;;
too-large)      head -c 4096 /dev/zero > "$scr/big"; echo "{\"artifact\": \"big\", \"path\": \"$scr/big\"}" >> "$cap" ;;
own-file)       echo mine > "own-$METALAB_RUN_ID.txt"; echo "{\"artifact\": \"own\", \"path\": \"own-$METALAB_RUN_ID.txt\"}" >> "$cap" ;;
chmod)          echo '{"metric": "y", "value": 1}' >> "$cap"; mkdir "$scr/locked"; touch "$scr/locked/f"; chmod 000 "$scr/locked" "$art" "$scr" ;;
store-art-link) ln -s "$v" "$METALAB_STORE/artifacts/$METALAB_RUN_ID"; echo a > "$art/a.txt" ;;
log-link)       for f in "$METALAB_STORE"/logs/*.out; do rm -f "$f"; ln -s "$v/a.txt" "$f"; done; echo '{"metric": "y", "value": 1}' >> "$cap" ;;
esac
exit 0
`

// TestConfinedFileOperations runs operations that replace metalab's
// directories and files by symlinks to a victim tree, FIFOs and devices,
// delete them or take away their permissions: each run ends as documented,
// with a message that says what the operation did, the sweep goes on, and
// the victim tree is untouched, byte for byte.
func TestConfinedFileOperations(t *testing.T) {
	bin := buildMetalab(t)
	dir := t.TempDir()
	victim := plantVictim(t, dir)
	before := snapshot(t, victim)
	tmp := filepath.Join(dir, "tmp")
	os.Mkdir(tmp, 0o755)

	type want struct {
		status store.Status
		sub    string // in the error, or in a warning of a completed run
	}
	expect := map[string]want{
		"ok":             {store.StatusCompleted, ""},
		"artdir-link":    {store.StatusFailed, "replaced its artifact directory $METALAB_ARTIFACT_DIR by a symlink to " + victim},
		"scratch-link":   {store.StatusFailed, "replaced its scratch directory $METALAB_SCRATCH"},
		"capture-link":   {store.StatusFailed, "replaced its capture file $METALAB_CAPTURE by a symlink to " + victim},
		"capture-fifo":   {store.StatusFailed, "replaced its capture file $METALAB_CAPTURE by a FIFO"},
		"scratch-wipe":   {store.StatusFailed, "removed its capture file $METALAB_CAPTURE"},
		"entry-link":     {store.StatusCompleted, "$METALAB_ARTIFACT_DIR/a.txt is a symlink; not stored"},
		"dev-zero":       {store.StatusFailed, "/dev/zero is a character device, not a regular file"},
		"fifo-path":      {store.StatusFailed, "is a FIFO, not a regular file"},
		"too-large":      {store.StatusFailed, "is 4 KiB, larger than the limit of 1 KiB (max_artifact_size)"},
		"own-file":       {store.StatusCompleted, ""},
		"chmod":          {store.StatusCompleted, ""},
		"store-art-link": {store.StatusFailed, "is a symlink, not a directory"},
		"log-link":       {store.StatusCompleted, ""},
	}
	var modes []string
	for m := range expect {
		modes = append(modes, fmt.Sprintf("%q", m))
	}
	toml := `name = "confine"
version = "1"
command = ["sh", "op.sh"]
timeout = "20s"
max_artifact_size = "1KiB"

[params.grid]
mode = [` + strings.Join(modes, ", ") + `]

[seeds]
replicates = 2
`
	cmd, exp, st := sweepCmd(t, bin, dir, "confine", confineOp, toml, 2, "TMPDIR="+tmp, "VICTIM="+victim)
	start := time.Now()
	out, err := combined(cmd)
	elapsed := time.Since(start)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("want exit 1 (some runs failed), got %v:\n%s", err, out)
	}
	assertUnchanged(t, victim, before)

	recs := winners(t, exp, st, "mode")
	for mode, w := range expect {
		rs := recs[mode]
		if len(rs) != 2 {
			t.Errorf("%s: %d records, want 2", mode, len(rs))
			continue
		}
		for _, r := range rs {
			text := r.Error + " " + strings.Join(r.Warnings, " ")
			if r.Status != w.status || !strings.Contains(text, w.sub) {
				t.Errorf("%s: %s, %q; want %s with %q", mode, r.Status, text, w.status, w.sub)
			}
			if mode == "entry-link" && len(r.Artifacts) != 0 {
				t.Errorf("%s: artifacts %v stored through a link", mode, r.Artifacts)
			}
			switch mode {
			case "ok":
				if len(r.Artifacts) != 1 || r.Metrics["y"] != 1 {
					t.Errorf("ok: artifacts %v metrics %v, want a.txt and y=1", r.Artifacts, r.Metrics)
				}
			case "scratch-wipe", "chmod", "entry-link", "log-link":
				// What the run wrote before it struck is kept.
				if r.Metrics["y"] != 1 {
					t.Errorf("%s: metrics %v, want y=1", mode, r.Metrics)
				}
			case "capture-link":
				if _, ok := r.Metrics["stolen"]; ok {
					t.Errorf("capture-link: the victim's lines were read as captures: %v", r.Metrics)
				}
			case "artdir-link":
				if len(r.Artifacts) != 0 {
					t.Errorf("%s: artifacts %v stored through a link", mode, r.Artifacts)
				}
			case "own-file":
				if len(r.Artifacts) != 1 {
					t.Errorf("own-file: artifacts %v, want one", r.Artifacts)
				} else if _, err := os.Stat(filepath.Join(dir, "own-"+r.RunID+".txt")); err != nil {
					t.Errorf("own-file: the operation's own file was not left in place: %v", err)
				}
			}
		}
	}
	// Every scratch directory is gone, and nothing metalab made is left in
	// $TMPDIR; a store log that a run replaced by a link is refused, never
	// followed, by `metalab logs`.
	if left := leftovers(t, tmp); len(left) > 0 {
		t.Errorf("left in $TMPDIR: %v", left)
	}
	var logRun string
	for _, r := range recs["log-link"] {
		logRun = r.RunID
	}
	lout, lerr := combined(exec.Command(bin, "logs", "--store", st, logRun))
	if lerr == nil && strings.Contains(lout, "victim file a") {
		t.Errorf("metalab logs followed a link planted in the store's logs:\n%s", lout)
	}
	assertUnchanged(t, victim, before)
	failed := 0
	for _, rs := range recs {
		for _, r := range rs {
			if r.Status == store.StatusFailed {
				failed++
			}
		}
	}
	figures(t, "modes=%d runs=%d failed_as_documented=%d victim_changed=0 sweep_seconds=%.1f",
		len(expect), 2*len(expect), failed, elapsed.Seconds())
}

// TestLogsConfinedToStore: a record whose log path leaves the store (an
// edited segment: "../victim/a.txt", an absolute path) is refused by
// `metalab logs`, which prints nothing of the file it names.
func TestLogsConfinedToStore(t *testing.T) {
	bin := buildMetalab(t)
	dir := t.TempDir()
	victim := plantVictim(t, dir)
	before := snapshot(t, victim)
	toml := "name = \"logs\"\nversion = \"1\"\ncommand = [\"sh\", \"op.sh\"]\n"
	cmd, _, st := sweepCmd(t, bin, dir, "logs", "#!/bin/sh\necho own output\n", toml, 1, "TMPDIR="+dir)
	if out, err := combined(cmd); err != nil {
		t.Fatalf("metalab run: %v\n%s", err, out)
	}
	var rec *store.Record
	for _, r := range winningRecords(t, st) {
		rec = r
	}
	if rec == nil || rec.Stdout == nil {
		t.Fatalf("no record with output: %+v", rec)
	}
	for _, path := range []string{"../victim/a.txt", filepath.Join(victim, "a.txt"), "logs/../../victim/a.txt"} {
		// A later record of the same run, as an edited segment would hold.
		s, err := store.Open(st)
		if err != nil {
			t.Fatal(err)
		}
		w, err := s.NewWriter(store.WriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		forged := *rec
		forged.Writer = ""
		forged.Ended = forged.Ended.Add(time.Hour)
		forged.Stdout = &store.LogRef{File: path, Offset: 0, Length: 14}
		forged.Stderr = nil
		if err := w.Append(&forged); err != nil {
			t.Fatal(err)
		}
		w.Close()
		s.Close()
		out, err := combined(exec.Command(bin, "logs", "--store", st, rec.RunID))
		if err == nil || strings.Contains(out, "victim file") {
			t.Errorf("logs of a record naming %q: %v\n%s", path, err, out)
		}
		if !strings.Contains(out, "path leaves its directory") && !strings.Contains(out, "is a symlink") {
			t.Errorf("logs of a record naming %q does not say why it refuses:\n%s", path, out)
		}
	}
	assertUnchanged(t, victim, before)
	figures(t, "forged_log_paths=3 refused=3 victim_changed=0")
}
