package faults

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/metalab-hpc/metalab/store"
)

var (
	hostileRuns = flag.Int("hostile-runs", 1000, "runs of TestRandomHostileOperations (per-run mode)")
	hostileSeed = flag.Uint64("hostile-seed", 0, "seed of TestRandomHostileOperations; 0 picks one (printed)")
)

// hostileAction is one thing a hostile run may do. $V is the victim tree,
// $CAP, $ART, $SCR, $ST and $ID the run's capture file, artifact
// directory, scratch directory, store and run ID.
type hostileAction struct {
	name string
	sh   string
	// fails: a run that does this fails, whatever else it does. benign: a
	// run that does only benign things completes (as root, which CI is).
	fails, benign bool
	persistent    bool // also makes sense for a persistent process
}

var hostileActions = []hostileAction{
	{name: "ok", benign: true, persistent: true,
		sh: `emit '{"metric": "y", "value": 1}'; mkdir -p "$ART"; echo a > "$ART/a.txt"`},
	{name: "artlink", fails: true, persistent: true, sh: `rm -rf "$ART"; ln -sfn "$V" "$ART"`},
	{name: "artlinkfile", fails: true, persistent: true, sh: `rm -rf "$ART"; ln -sfn "$V/a.txt" "$ART"`},
	{name: "scrlink", fails: true, persistent: true, sh: `rm -rf "$SCR"; ln -sfn "$V" "$SCR"`},
	{name: "caplink", fails: true, sh: `rm -f "$CAP"; ln -sfn "$V/captures.jsonl" "$CAP"`},
	{name: "capfifo", fails: true, sh: `rm -f "$CAP"; mkfifo "$CAP"`},
	{name: "wipe", fails: true, sh: `rm -rf "$SCR"/*`},
	{name: "wipescratch", persistent: true, sh: `rm -rf "$SCR"/* 2>/dev/null`},
	{name: "chmod", benign: true, persistent: true, sh: `mkdir -p "$SCR/locked"; touch "$SCR/locked/f"; chmod 000 "$SCR/locked"`},
	{name: "chmodart", benign: true, sh: `chmod 000 "$ART"`},
	// Late writers wait until the run's main process is gone (and reaped:
	// kill -0 finds a zombie), then half a second more, so that they write
	// after metalab has read the run's captures however slow the machine.
	// They check, when they write, that they would not write through a
	// link that their own or a later run planted (the test must not let a
	// run write into the victim itself); metalab's part is to kill them, or
	// not to read what they write.
	{name: "late", benign: true, persistent: true,
		sh: `setsid sh -c 'while kill -0 "$3" 2>/dev/null; do sleep 0.05; done; sleep 0.5; reg() { [ -f "$1" ] && [ ! -L "$1" ]; }; ` +
			`reg "$1" && echo "{\"metric\": \"late\", \"value\": 1}" >> "$1"; ` +
			`[ -d "$2" ] && [ ! -L "$2" ] && echo x > "$2/late.txt"' x "$CAP" "$ART" "$$" </dev/null >/dev/null 2>&1 &`},
	// A daemon that clears its environment is out of metalab's reach: it
	// writes through a descriptor it opened while the name was the run's.
	{name: "latenoenv", benign: true,
		sh: `if [ -f "$CAP" ] && [ ! -L "$CAP" ]; then exec 9>>"$CAP"; ` +
			`env -i setsid sh -c 'while kill -0 "$1" 2>/dev/null; do sleep 0.05; done; sleep 0.5; echo "{\"metric\": \"late\", \"value\": 1}" >&9' x "$$" </dev/null >/dev/null 2>&1 & exec 9>&-; fi`},
	{name: "entrylink", benign: true, persistent: true,
		sh: `mkdir -p "$ART"; ln -sfn "$V/a.txt" "$ART/e1"; ln -sfn "$V/sub" "$ART/e2"`},
	{name: "devzero", fails: true, persistent: true, sh: `emit '{"artifact": "z", "path": "/dev/zero"}'`},
	{name: "fifopath", fails: true, persistent: true,
		sh: `mkdir -p "$SCR"; mkfifo "$SCR/f$$"; emit "{\"artifact\": \"f\", \"path\": \"$SCR/f$$\"}"`},
	{name: "readvictim", benign: true, persistent: true, sh: `emit "{\"artifact\": \"v\", \"path\": \"$V/link\"}"`},
	{name: "storeart", persistent: true, sh: `ln -sfn "$V" "$ST/artifacts/$ID" 2>/dev/null; true`},
	{name: "loglink", benign: true, persistent: true,
		sh: `for f in "$ST"/logs/*.err; do rm -f "$f"; ln -sfn "$V/a.txt" "$f"; done`},
	{name: "fork", benign: true, persistent: true, sh: `(sleep 30 &) ; sleep 30 </dev/null >/dev/null 2>&1 & true`},
	{name: "fail", fails: true, sh: `exit 3`},
	{name: "kill", fails: true, sh: `kill -9 $$`},
}

// randomHostileOp runs the actions file of its run, in per-run mode.
const randomHostileOp = `#!/bin/sh
V="$VICTIM"; CAP="$METALAB_CAPTURE"; ART="$METALAB_ARTIFACT_DIR"; SCR="$METALAB_SCRATCH"; ST="$METALAB_STORE"; ID="$METALAB_RUN_ID"
safe() { [ ! -L "$SCR" ] && [ ! -L "$ART" ]; }
emit() { [ -L "$CAP" ] || [ -p "$CAP" ] || echo "$1" >> "$CAP"; }
. "$ACTIONS/$METALAB_PARAM_I.sh"
exit 0
`

// randomHostilePersistent serves runs from one process per slot; each run
// runs its actions file in a subshell, with the request's directories, and
// writes its capture lines to the channel, tagged with its run.
const randomHostilePersistent = `#!/bin/sh
V="$VICTIM"; ST="$METALAB_STORE"
safe() { [ ! -L "$SCR" ] && [ ! -L "$ART" ]; }
field() { printf '%s' "$req" | sed "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/"; }
while read -r req; do
  ID=$(field run_id); ART=$(field artifact_dir); SCR=$(field scratch)
  I=$(printf '%s' "$req" | sed 's/.*"i":\([0-9]*\).*/\1/')
  emit() { printf '%s\n' "$1" | sed "s/}\$/, \"run\": \"$ID\"}/" >&3; }
  ( . "$ACTIONS/$I.sh" ) </dev/null
  printf '{"done": "%s"}\n' "$ID" >&3
done
`

// TestRandomHostileOperations drives operations through random sequences
// of hostile file actions (directories and files replaced by symlinks to a
// victim tree or by FIFOs, deletes, chmod, daemons that write late, forks,
// links planted in the store) for -hostile-runs runs in per-run mode and a
// fifth as many through persistent processes. The victim tree must stay
// unchanged byte for byte, no late write may be credited, every run must
// end as its actions say, and nothing may be left behind.
func TestRandomHostileOperations(t *testing.T) {
	bin := buildMetalab(t)
	seed := *hostileSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -hostile-seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	dir := t.TempDir()
	victim := plantVictim(t, dir)
	before := snapshot(t, victim)

	type sweepResult struct {
		runs, failed, completed, credited int
		seconds                           float64
	}
	sweep := func(name, mode string, n int) sweepResult {
		sdir := filepath.Join(dir, name)
		actions := filepath.Join(sdir, "actions")
		tmp := filepath.Join(sdir, "tmp")
		for _, d := range []string{actions, tmp} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		var pool []hostileAction
		for _, a := range hostileActions {
			if mode == "" || a.persistent {
				pool = append(pool, a)
			}
		}
		chosen := make([][]hostileAction, n)
		for i := range n {
			k := 1 + rng.IntN(3)
			var sh []string
			for range k {
				a := pool[rng.IntN(len(pool))]
				chosen[i] = append(chosen[i], a)
				// A run must never write into the victim itself, through a
				// link an earlier action of its own planted: that would be
				// the run's doing, not metalab's.
				sh = append(sh, "# "+a.name+"\nif safe; then "+a.sh+"\nfi")
			}
			if err := os.WriteFile(filepath.Join(actions, fmt.Sprint(i)+".sh"), []byte(strings.Join(sh, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		op := randomHostileOp
		modeLine := ""
		if mode != "" {
			op, modeLine = randomHostilePersistent, "mode = \"persistent\"\n"
		}
		xs := make([]string, n)
		for i := range xs {
			xs[i] = fmt.Sprint(i)
		}
		toml := fmt.Sprintf("name = %q\nversion = \"1\"\ncommand = [\"sh\", \"op.sh\"]\ntimeout = \"20s\"\n%s\n[params.grid]\ni = [%s]\n",
			name, modeLine, strings.Join(xs, ", "))
		cmd, exp, st := sweepCmd(t, bin, sdir, name, op, toml, 2, "TMPDIR="+tmp, "VICTIM="+victim, "ACTIONS="+actions)
		start := time.Now()
		out, err := combined(cmd)
		res := sweepResult{runs: n, seconds: time.Since(start).Seconds()}
		var ee *exec.ExitError
		if err != nil && (!errors.As(err, &ee) || ee.ExitCode() != 1) {
			t.Fatalf("%s: metalab run: %v\n%s", name, err, tail(out, 3000))
		}
		assertUnchanged(t, victim, before)

		recs := winners(t, exp, st, "i")
		for i := range n {
			rs := recs[fmt.Sprint(i)]
			if len(rs) != 1 {
				t.Errorf("%s run %d: %d records, want 1", name, i, len(rs))
				continue
			}
			r := rs[0]
			var names []string
			fails, benign := false, true
			for _, a := range chosen[i] {
				names = append(names, a.name)
				fails = fails || a.fails
				benign = benign && a.benign
			}
			if _, ok := r.Metrics["late"]; ok {
				res.credited++
				t.Errorf("%s run %d (%v): a late write was credited: %v", name, i, names, r.Metrics)
			}
			switch r.Status {
			case store.StatusFailed:
				res.failed++
				if r.Error == "" {
					t.Errorf("%s run %d (%v): failed without a message", name, i, names)
				}
			case store.StatusCompleted:
				res.completed++
			default:
				t.Errorf("%s run %d (%v): status %s", name, i, names, r.Status)
			}
			switch {
			case fails && r.Status != store.StatusFailed:
				t.Errorf("%s run %d (%v): %s, want failed", name, i, names, r.Status)
			case benign && r.Status != store.StatusCompleted && (os.Geteuid() == 0 || !slices.ContainsFunc(chosen[i], isChmod)):
				t.Errorf("%s run %d (%v): %s %q, want completed", name, i, names, r.Status, r.Error)
			}
		}
		if left := leftovers(t, tmp); len(left) > 0 {
			t.Errorf("%s: left in $TMPDIR: %v", name, left)
		}
		return res
	}

	perRun := sweep("hostile", "", *hostileRuns)
	persistent := sweep("hostilep", "persistent", max(*hostileRuns/5, 10))
	// The forked sleepers of the "fork" action were killed with their
	// runs; the env-cleared late writers wait for their run, then 0.5 s.
	time.Sleep(time.Second)
	if n := aliveTagged(t); n > 0 {
		t.Errorf("%d processes of the sweeps' runs are still alive", n)
	}
	assertUnchanged(t, victim, before)
	figures(t, "seed=%d runs=%d persistent_runs=%d failed=%d completed=%d late_credited=%d victim_changed=0 seconds=%.0f+%.0f",
		seed, perRun.runs, persistent.runs, perRun.failed+persistent.failed, perRun.completed+persistent.completed,
		perRun.credited+persistent.credited, perRun.seconds, persistent.seconds)
}

func isChmod(a hostileAction) bool { return strings.HasPrefix(a.name, "chmod") }

// aliveTagged counts live processes whose environment carries a run tag
// of metalab's (the sweeps are over: none should be left), and kills them.
func aliveTagged(t *testing.T) int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !strings.Contains(string(b), "METALAB_RUN_TAG=") || !alive(pid) {
			continue
		}
		if !strings.Contains(string(b), "VICTIM=") { // another test's, not ours
			continue
		}
		n++
		syscall.Kill(pid, syscall.SIGKILL)
	}
	return n
}

// tail is the end of s, for a failure message.
func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
