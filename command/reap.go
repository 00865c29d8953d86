package command

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Nothing a run starts may outlive it. Killing the run's process group
// reaches its children and their children, but not a descendant that left
// the group (setsid, setpgid: a daemon's double fork), which the kernel
// would hand to init when its parent exits, out of metalab's sight.
//
// So metalab makes itself a child subreaper (PR_SET_CHILD_SUBREAPER, Linux
// 3.4): such orphans become its children instead. When a run ends, metalab
// looks at its own children: those in the run's process group, and those
// outside any group of metalab's whose environment carries the run's tag
// ($METALAB_RUN_TAG, inherited by every descendant that does not clear its
// environment), are killed and reaped; killing one hands its own children
// to metalab in turn, so it looks again until none is left. A descendant
// that cleared its environment and left the group cannot be told from
// another run's and is left alone: it outlives the sweep (on SLURM, the end
// of the job kills it), but what it writes reaches only its own run's file
// names, which nobody reads any more.
//
// Orphans that are metalab's children must also be reaped by it, or they
// stay zombies: a scan reaps the zombies among its children that it
// started no process as (the started set), so that it never takes the
// exit status that os/exec waits for.

// runTagEnv names the environment variable that tags a run's processes.
const runTagEnv = "METALAB_RUN_TAG"

// leftoverWait bounds the killing and reaping of one run's leftovers (a
// process in uninterruptible sleep on a hung filesystem does not die).
const leftoverWait = 5 * time.Second

var procs struct {
	subreaper bool
	once      sync.Once
	mu        sync.Mutex
	started   map[int]bool // processes started for runs, not yet waited for
	self      procStat
}

// enableSubreaper makes metalab a child subreaper, once.
func enableSubreaper() {
	procs.once.Do(func() {
		procs.subreaper = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == nil
		procs.started = map[int]bool{}
		procs.self, _ = readStat(os.Getpid())
	})
}

// newRunTag returns a fresh tag for a run's processes.
func newRunTag() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// startProcess starts cmd and records it as started, so that no scan reaps
// it from under os/exec's Wait; call waited once Wait has returned.
func startProcess(cmd *exec.Cmd) error {
	enableSubreaper()
	procs.mu.Lock()
	defer procs.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	procs.started[cmd.Process.Pid] = true
	return nil
}

// waited forgets a process started by startProcess once Wait has reaped it.
func waited(pid int) {
	procs.mu.Lock()
	delete(procs.started, pid)
	procs.mu.Unlock()
}

// killLeftovers kills and reaps what is left of a run whose main process
// (leader of process group pgid) has exited and been waited for, and
// returns how many processes it killed. The group gets SIGKILL first.
func killLeftovers(pgid int, tag string) int {
	if pgid > 0 {
		syscall.Kill(-pgid, syscall.SIGKILL)
	}
	if !procs.subreaper {
		return 0
	}
	killed := 0
	deadline := time.Now().Add(leftoverWait)
	for {
		kill, zombies := leftovers(pgid, tag)
		for _, pid := range kill {
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				killed++
			}
		}
		for _, pid := range append(kill, zombies...) {
			reap(pid, deadline)
		}
		if len(kill) == 0 || time.Now().After(deadline) {
			return killed
		}
	}
}

// leftovers lists metalab's children (other than processes it started) that
// belong to the run with process group pgid and tag, and the zombies among
// its children that nobody waits for.
func leftovers(pgid int, tag string) (kill, zombies []int) {
	procs.mu.Lock()
	defer procs.mu.Unlock()
	for _, pid := range children() {
		if procs.started[pid] {
			continue
		}
		st, err := readStat(pid)
		if err != nil || st.ppid != os.Getpid() {
			continue
		}
		// A child in metalab's own group is a process that metalab's
		// caller started (a Go operation's exec.Command): not a run's.
		foreign := st.pgrp != procs.self.pgrp
		switch {
		case st.state == 'Z' && foreign:
			zombies = append(zombies, pid)
		case st.pgrp == pgid && pgid > 0:
			kill = append(kill, pid)
		case foreign && tag != "" && hasTag(pid, tag):
			kill = append(kill, pid)
		}
	}
	return kill, zombies
}

// children lists the children of metalab. Orphans handed to a subreaper
// become children of its first live thread, the main one, whose list the
// kernel keeps in /proc/PID/task/PID/children; processes metalab started
// are listed there only if that thread forked them, and are skipped anyway.
func children() []int {
	pid := strconv.Itoa(os.Getpid())
	b, err := os.ReadFile("/proc/" + pid + "/task/" + pid + "/children")
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// procStat is what metalab reads of /proc/PID/stat.
type procStat struct {
	state               byte
	ppid, pgrp, session int
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	// The command name, in parentheses, may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, os.ErrInvalid
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 4 || len(f[0]) != 1 {
		return procStat{}, os.ErrInvalid
	}
	var st procStat
	st.state = f[0][0]
	st.ppid, _ = strconv.Atoi(f[1])
	st.pgrp, _ = strconv.Atoi(f[2])
	st.session, _ = strconv.Atoi(f[3])
	return st, nil
}

// hasTag reports whether the environment pid was started with carries tag.
func hasTag(pid int, tag string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	want := runTagEnv + "=" + tag
	for _, kv := range bytes.Split(b, []byte{0}) {
		if string(kv) == want {
			return true
		}
	}
	return false
}

// reap waits for a killed child to exit, until deadline.
func reap(pid int, deadline time.Time) {
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		if got == pid || (err != nil && err != unix.EINTR) || time.Now().After(deadline) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
