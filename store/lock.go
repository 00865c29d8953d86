package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	mrand "math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/metalab-hpc/metalab/internal/safefs"
)

// The lock's directory, relative to the store, and its timing.
const (
	locksDir = "locks"

	// DefaultLockHeartbeat is how often a holder refreshes its entry.
	DefaultLockHeartbeat = 10 * time.Second
	// DefaultLockStale is how long after its last heartbeat the entry of a
	// process on another host (or in another PID namespace) is stale: twelve
	// missed heartbeats, and room for clocks that disagree by a minute.
	DefaultLockStale = 2 * time.Minute

	// Contenders that start at the same moment see each other; the one
	// with the least entry waits this long for the others to withdraw.
	contendPoll   = 20 * time.Millisecond
	contendWindow = 3 * time.Second
	// A waiting process looks again about this often (jittered ±50%).
	waitPoll = time.Second
	// An entry is a few hundred bytes; a larger one is not metalab's.
	maxEntrySize = 4 << 10
)

// LockMode says whom a lock holder excludes.
type LockMode int

const (
	// Exclusive excludes every other holder: a local `metalab run`.
	Exclusive LockMode = iota + 1
	// Shared excludes only Exclusive holders: the SLURM workers of a
	// submission, many at once.
	Shared
	// Submit excludes Exclusive holders and other Submit holders, not
	// Shared ones: a `metalab submit` while it checks the queue and
	// submits. Two submits would each see nothing queued and submit the
	// same runs twice, and a local run would execute what a submission
	// hands to SLURM; but the workers of earlier submissions, alive or
	// dead, are the queue check's business, and a worker killed on another
	// host must not block submitting its runs again for the stale time.
	Submit
)

func (m LockMode) String() string {
	switch m {
	case Exclusive:
		return "exclusive"
	case Shared:
		return "shared"
	case Submit:
		return "submit"
	}
	return "LockMode(" + strconv.Itoa(int(m)) + ")"
}

// prefix starts the names of a mode's entries, so that a shared taker
// reads only the exclusive entries of a directory of a thousand workers.
func (m LockMode) prefix() string {
	switch m {
	case Shared:
		return "s."
	case Submit:
		return "q."
	}
	return "x."
}

func (m LockMode) conflicts(o LockMode) bool {
	return m == Exclusive || o == Exclusive || m == Submit && o == Submit
}

// LockOptions tune [Store.Lock].
type LockOptions struct {
	// Mode is Exclusive, Shared or Submit.
	Mode LockMode
	// Purpose says what the holder does, for the messages of those it
	// excludes: "metalab run", "metalab worker (submission S, job J)".
	Purpose string
	// Group names what the holder belongs to (a submission ID); it is
	// recorded for messages and for later rules, and excludes nothing.
	Group string
	// Wait is how long to wait for conflicting holders to go: 0 returns a
	// [*BusyError] at once; a negative Wait waits until ctx ends.
	Wait time.Duration
	// OnWait, if set, is called once when Lock starts waiting, with whom
	// it waits for.
	OnWait func(*BusyError)
	// Heartbeat and StaleAfter default to [DefaultLockHeartbeat] and
	// [DefaultLockStale]. Every process sharing a store must use the same
	// StaleAfter.
	Heartbeat  time.Duration
	StaleAfter time.Duration

	// Hooks for tests: the clock, sleeping, who this process is, and
	// whether a process of this host is alive.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
	self  *process
	alive func(process) bool
}

// process identifies a process well enough to tell, from the same host,
// whether it still runs.
type process struct {
	Host string `json:"host"`
	PID  int    `json:"pid"`
	// Boot is the kernel's boot ID: a PID of an earlier boot is dead.
	Boot string `json:"boot_id,omitempty"`
	// PIDNS is the PID namespace: two containers may share a host name and
	// not each other's PIDs.
	PIDNS string `json:"pid_ns,omitempty"`
	// Start is when the process started, in clock ticks since boot: a PID
	// reused by another process has another start.
	Start string `json:"proc_start,omitempty"`
}

// sameSpace reports whether p's PID can be checked from q.
func (p process) sameSpace(q process) bool {
	return p.Host == q.Host && p.Boot == q.Boot && p.PIDNS == q.PIDNS
}

// entry is the content of a lock entry, written once.
type entry struct {
	Mode    string    `json:"mode"`
	Purpose string    `json:"purpose,omitempty"`
	Group   string    `json:"group,omitempty"`
	Since   time.Time `json:"since"`
	process
}

// LockHolder is a process that holds (or is taking) a store's lock.
type LockHolder struct {
	Mode    LockMode
	Purpose string
	Group   string
	Host    string
	PID     int
	// Since is when it took the lock, by its own clock; zero when its
	// entry could not be read.
	Since time.Time
	// Heartbeat is when it last showed it was alive, by its own clock.
	Heartbeat time.Time
	// Entry is its entry's path relative to the store.
	Entry string

	proc      *process // nil: unreadable entry
	stale     string   // why it is stale, if it is
	removeErr error    // why a stale entry could not be removed
}

// describe names a holder for a person: what, where, since when, and how
// recently it was alive, by the clock of now.
func (h LockHolder) describe(now time.Time) string {
	what := h.Purpose
	if what == "" {
		what = "a metalab process"
	}
	var parts []string
	if h.Host != "" {
		parts = append(parts, "host "+h.Host)
	}
	if h.PID > 0 {
		parts = append(parts, "pid "+strconv.Itoa(h.PID))
	}
	if !h.Since.IsZero() {
		parts = append(parts, "since "+h.Since.Local().Format("2006-01-02 15:04:05 MST"))
	}
	switch age := now.Sub(h.Heartbeat).Round(time.Second); {
	case h.Heartbeat.IsZero():
	case age < 0:
		parts = append(parts, fmt.Sprintf("last heartbeat %s in the future by this host's clock", -age))
	default:
		parts = append(parts, fmt.Sprintf("last heartbeat %s ago", age))
	}
	s := what
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	if h.removeErr != nil {
		s += fmt.Sprintf(", whose lock is stale (%s) but cannot be removed: %v", h.stale, h.removeErr)
	}
	return s
}

// BusyError is returned by [Store.Lock] when conflicting holders keep the
// lock.
type BusyError struct {
	Dir string
	// Mode is the mode that was asked for.
	Mode    LockMode
	Holders []LockHolder
	// StaleAfter is the stale rule the holders were judged by.
	StaleAfter time.Duration

	now time.Time // when the holders were seen
}

func (e *BusyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "store %s is in use by %s", e.Dir, e.Holders[0].describe(e.now))
	switch n := len(e.Holders) - 1; n {
	case 0:
	case 1:
		b.WriteString(" and 1 other process")
	default:
		fmt.Fprintf(&b, " and %d other processes", n)
	}
	return b.String()
}

// Hint says when the store frees itself.
func (e *BusyError) Hint() string {
	for _, h := range e.Holders {
		if h.removeErr != nil {
			return fmt.Sprintf("that process is gone; remove %s by hand", h.Entry)
		}
	}
	return fmt.Sprintf("the lock of a process that dies frees itself: at once on its own host, %s after its last heartbeat elsewhere",
		e.StaleAfter)
}

// Lock is a held lock of a store. Its holder refreshes its heartbeat until
// [Lock.Release].
type Lock struct {
	dir  string
	root *os.Root // DIR/locks
	name string
	mode LockMode
	now  func() time.Time
	hb   time.Duration
	ttl  time.Duration

	tookOver []LockHolder

	stop, done chan struct{}
	lost       chan struct{}
	mu         sync.Mutex
	err        error     // why the lock was lost
	lastBeat   time.Time // last successful heartbeat
	release    sync.Once
	releaseErr error
}

// Lock takes the store's lock in the given mode: Exclusive for a process
// that must be the only writer of the store's runs (a local sweep), Shared
// for processes that run disjoint parts of one sweep together (the SLURM
// workers of a submission), Submit for one submitter at a time beside
// them (see [Submit]). When conflicting holders keep it, Lock waits
// as opts.Wait says and then returns a [*BusyError] that names them.
//
// # Protocol
//
// The lock is a directory, DIR/locks, with one entry per holder. An entry
// is a small JSON file (mode, purpose, host, PID, boot ID, PID namespace,
// process start time, since when) whose modification time is the holder's
// heartbeat. Its name, MODE.TIME.HOST.PID.NONCE, is new for every attempt
// and never used again.
//
// To take the lock, a process writes its entry under a temporary name
// created with O_EXCL, renames it to its entry name (so that nobody ever
// reads half an entry), and only then lists the directory. If the listing
// holds its own entry and no live conflicting one, it holds the lock.
// Two conflicting processes A and B never both hold it: if A's listing
// missed B's entry, A listed before B announced itself, so B's listing,
// later still, finds A's entry. Both may see each other when they start at
// the same moment: then the one whose entry sorts first (by TIME, then the
// rest of the name) waits up to 3 s for the others to withdraw, which they
// do at once, and so one of them wins. (It also waits when what it sees
// is a holder that announced itself after it but looked first; it then
// gives up after the 3 s.) Restic locks its repositories the same way,
// without a lock server.
//
// Nothing here needs fcntl or flock locks, which NFS serves only through a
// lock daemon that clusters often do not run, and Lustre only when mounted
// with -o flock. It needs what NFS (v3 and later) and Lustre do atomically
// on the server: create with O_EXCL, which makes a name one process's alone
// even if two drew the same random part; rename, which makes an entry
// appear whole; unlink; and a listing of a directory opened afresh for
// each look (an NFS client revalidates a directory it opens, where a
// lookup of one name could be answered from its cache).
//
// # Heartbeat and the stale rule
//
// A holder sets its entry's modification time to its clock every
// Heartbeat (10 s). An entry is stale, and anybody removes it:
//   - on the same host (same host name, boot ID and PID namespace), as
//     soon as its PID is gone (kill(pid, 0) fails with ESRCH, or /proc
//     shows a zombie) or now belongs to a process with another start time;
//     an entry of an earlier boot of this host is stale at once;
//   - from another host, StaleAfter (2 min) after its last heartbeat by the
//     reader's clock. Clocks of the hosts sharing a store must agree to
//     within StaleAfter minus Heartbeat (NTP keeps a cluster within
//     milliseconds). A process that waits also counts a heartbeat it saw
//     unchanged for StaleAfter of its own clock as stale, so that a holder
//     whose clock runs ahead cannot keep the lock after it died.
//
// A holder killed with SIGKILL, or with its node, leaves its entry; it
// frees the lock by the rule above. A holder that finds its entry gone at a
// heartbeat (a paused process judged stale), or cannot write one for
// StaleAfter, has lost the lock: [Lock.Lost] is closed and it must stop.
//
// # Taking over a stale lock
//
// Two processes may judge the same stale entry at once: both remove it
// (one of them gets "no such file", which is fine) and both go on to
// announce and look as above, so exactly one wins. Neither can remove the
// other's new entry by mistake, as removal is by name and a name is never
// reused; the classic race of one lock file, where a slow taker removes
// the lock that a quick taker has just created in its place, cannot
// happen.
func (s *Store) Lock(ctx context.Context, opts LockOptions) (*Lock, error) {
	if opts.Mode != Exclusive && opts.Mode != Shared && opts.Mode != Submit {
		return nil, fmt.Errorf("store: invalid lock mode %v", opts.Mode)
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultLockHeartbeat
	}
	if opts.StaleAfter <= 0 {
		opts.StaleAfter = DefaultLockStale
	}
	if opts.now == nil {
		opts.now = time.Now
	}
	if opts.sleep == nil {
		opts.sleep = sleepCtx
	}
	if opts.alive == nil {
		opts.alive = alive
	}
	me := thisProcess()
	if opts.self != nil {
		me = *opts.self
	}
	if s.root == nil {
		return nil, fmt.Errorf("store %s is closed", s.dir)
	}
	if err := s.mkdir(locksDir); err != nil {
		return nil, err
	}
	root, err := s.root.OpenRoot(locksDir)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	l := &locker{dir: s.dir, root: root, opts: opts, me: me, watched: map[string]seen{}}
	var waitStart time.Time
	for {
		lk, busy, err := l.attempt(ctx)
		if err != nil {
			root.Close()
			return nil, err
		}
		if lk != nil {
			lk.start()
			return lk, nil
		}
		now := opts.now()
		if waitStart.IsZero() {
			waitStart = now
			if opts.Wait != 0 && opts.OnWait != nil {
				opts.OnWait(busy)
			}
		}
		left := opts.Wait - now.Sub(waitStart)
		if opts.Wait == 0 || opts.Wait > 0 && left <= 0 {
			root.Close()
			return nil, busy
		}
		d := time.Duration(float64(waitPoll) * (0.5 + mrand.Float64()))
		if opts.Wait > 0 {
			d = min(d, left)
		}
		if err := opts.sleep(ctx, d); err != nil {
			root.Close()
			return nil, fmt.Errorf("%w; stopped waiting: %w", busy, err)
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// locker takes a lock: one or more attempts.
type locker struct {
	dir     string
	root    *os.Root
	opts    LockOptions
	me      process
	watched map[string]seen // heartbeats seen unchanged, by entry name
	taken   []LockHolder    // stale conflicting entries removed
}

// seen is a heartbeat and when this process first saw it.
type seen struct{ beat, at time.Time }

// attempt announces this process, looks, and either holds the lock or
// withdraws and says who holds it.
func (l *locker) attempt(ctx context.Context) (*Lock, *BusyError, error) {
	name, err := l.announce()
	if err != nil {
		return nil, nil, err
	}
	withdraw := func() { l.root.Remove(name) }
	restarts := 0
	for tries := 0; ; tries++ {
		holders, mine, err := l.look(name)
		if err != nil {
			withdraw()
			return nil, nil, err
		}
		if !mine {
			// Another process judged our fresh entry stale, which only a
			// wrong clock or a foreign PID namespace can make it do. Such
			// an entry must not count as held: announce again, a few times.
			if restarts++; restarts > 3 {
				return nil, nil, fmt.Errorf("store %s: the lock entries of this process keep disappearing from %s; check the clocks of the hosts sharing the store",
					l.dir, locksDir)
			}
			if name, err = l.announce(); err != nil {
				return nil, nil, err
			}
			continue
		}
		if len(holders) == 0 {
			return l.held(name), nil, nil
		}
		// Only the first of contenders that see each other waits; an
		// entry that cannot be removed will not withdraw.
		first := true
		for _, h := range holders {
			if entryKey(h.Entry) < entryKey(name) || h.removeErr != nil {
				first = false
			}
		}
		if !first || tries >= int(contendWindow/contendPoll) {
			withdraw()
			return nil, &BusyError{Dir: l.dir, Mode: l.opts.Mode, Holders: holders, StaleAfter: l.opts.StaleAfter, now: l.opts.now()}, nil
		}
		if err := l.opts.sleep(ctx, contendPoll); err != nil {
			withdraw()
			return nil, nil, err
		}
	}
}

// entryKey orders entries: by the time they were announced, then by the
// rest of the name, whatever their mode.
func entryKey(rel string) string {
	name := rel[strings.LastIndexByte(rel, '/')+1:]
	return name[2:]
}

// announce writes this process's entry whole and returns its name.
func (l *locker) announce() (string, error) {
	now := l.opts.now()
	var nonce [8]byte
	rand.Read(nonce[:])
	host := entryHost(l.me.Host)
	tmp := fmt.Sprintf("w.%s.%d.%x", host, l.me.PID, nonce)
	name := fmt.Sprintf("%s%016x.%s.%d.%x", l.opts.Mode.prefix(), uint64(max(now.UnixNano(), 0)), host, l.me.PID, nonce)
	b, err := json.Marshal(entry{Mode: l.opts.Mode.String(), Purpose: l.opts.Purpose, Group: l.opts.Group, Since: now, process: l.me})
	if err != nil {
		return "", fmt.Errorf("store: lock entry: %w", err)
	}
	f, _, err := safefs.OpenRegularIn(l.root, tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, safefs.FileCreate)
	if err != nil {
		return "", fmt.Errorf("store: taking the lock: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// The first heartbeat, by the same clock as the later ones.
		err = l.root.Chtimes(tmp, now, now)
	}
	if err == nil {
		err = l.root.Rename(tmp, name)
	}
	if err != nil {
		l.root.Remove(tmp)
		return "", fmt.Errorf("store: taking the lock: %w", err)
	}
	return name, nil
}

// look lists the lock directory and returns the live holders that conflict
// with this process, removing the stale ones on the way, and whether this
// process's entry (mine) is there.
func (l *locker) look(mine string) (holders []LockHolder, found bool, err error) {
	d, err := l.root.Open(".")
	if err != nil {
		return nil, false, fmt.Errorf("store: reading the lock: %w", err)
	}
	des, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return nil, false, fmt.Errorf("store: reading the lock: %w", err)
	}
	now := l.opts.now()
	for _, de := range des {
		name := de.Name()
		switch {
		case name == mine:
			found = true
			continue
		case !de.Type().IsRegular():
			continue // not metalab's: a lock entry is a regular file
		case strings.HasPrefix(name, "w."):
			l.dropTemp(name, now)
			continue
		}
		mode, ok := entryMode(name)
		if !ok || !mode.conflicts(l.opts.Mode) {
			continue
		}
		h, ok := l.read(name, mode)
		if !ok {
			continue // released meanwhile
		}
		if h.stale = l.stale(h, now); h.stale != "" {
			err := l.root.Remove(name)
			if err == nil || errors.Is(err, fs.ErrNotExist) {
				delete(l.watched, name)
				l.taken = append(l.taken, h)
				continue
			}
			h.removeErr = err
		}
		holders = append(holders, h)
	}
	return holders, found, nil
}

func entryMode(name string) (LockMode, bool) {
	switch {
	case strings.HasPrefix(name, "x."):
		return Exclusive, true
	case strings.HasPrefix(name, "s."):
		return Shared, true
	case strings.HasPrefix(name, "q."):
		return Submit, true
	}
	return 0, false
}

// read reads an entry; ok is false if it is gone. An entry that cannot be
// parsed (not written by metalab) is judged by its heartbeat alone.
func (l *locker) read(name string, mode LockMode) (h LockHolder, ok bool) {
	h = LockHolder{Mode: mode, Entry: locksDir + "/" + name}
	f, info, err := safefs.OpenRegularIn(l.root, name, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return h, false
	}
	if err != nil {
		// Unreadable (another user's, with a strict umask): its heartbeat
		// still tells whether it is alive.
		info, err = l.root.Lstat(name)
		if errors.Is(err, fs.ErrNotExist) {
			return h, false
		}
		if err == nil {
			h.Heartbeat = info.ModTime()
		} else {
			h.Heartbeat = l.opts.now()
		}
		return h, true
	}
	defer f.Close()
	h.Heartbeat = info.ModTime()
	b, err := io.ReadAll(io.LimitReader(f, maxEntrySize))
	var e entry
	if err != nil || json.Unmarshal(b, &e) != nil || e.PID <= 0 {
		return h, true
	}
	h.Purpose, h.Group, h.Host, h.PID, h.Since = e.Purpose, e.Group, e.Host, e.PID, e.Since
	h.proc = &e.process
	return h, true
}

// stale says why h's entry is stale, or "" if it is live.
func (l *locker) stale(h LockHolder, now time.Time) string {
	if p := h.proc; p != nil && p.Host == l.me.Host {
		if p.sameSpace(l.me) {
			if l.opts.alive(*p) {
				return ""
			}
			return "its process is gone"
		}
		if p.Boot != "" && l.me.Boot != "" && p.Boot != l.me.Boot && p.PIDNS == l.me.PIDNS {
			return "its host has restarted since"
		}
	}
	if age := now.Sub(h.Heartbeat); age > l.opts.StaleAfter {
		return fmt.Sprintf("no heartbeat for %s", age.Round(time.Second))
	}
	name := h.Entry[len(locksDir)+1:]
	w, ok := l.watched[name]
	if !ok || !w.beat.Equal(h.Heartbeat) {
		l.watched[name] = seen{beat: h.Heartbeat, at: now}
		return ""
	}
	if d := now.Sub(w.at); d > l.opts.StaleAfter {
		return fmt.Sprintf("its heartbeat has not changed for %s", d.Round(time.Second))
	}
	return ""
}

// dropTemp removes the temporary entry of a process that died before it
// renamed it. Removing one that is still being written is harmless: its
// rename fails and that process announces itself again.
func (l *locker) dropTemp(name string, now time.Time) {
	parts := strings.SplitN(name, ".", 4)
	if len(parts) != 4 {
		return
	}
	pid, err := strconv.Atoi(parts[2])
	dead := err == nil && parts[1] == entryHost(l.me.Host) && pid != l.me.PID &&
		!l.opts.alive(process{Host: l.me.Host, PID: pid, Boot: l.me.Boot, PIDNS: l.me.PIDNS})
	if !dead {
		info, err := l.root.Lstat(name)
		dead = err == nil && now.Sub(info.ModTime()) > l.opts.StaleAfter
	}
	if dead {
		l.root.Remove(name)
	}
}

func (l *locker) held(name string) *Lock {
	now := l.opts.now()
	return &Lock{
		dir: l.dir, root: l.root, name: name, mode: l.opts.Mode,
		now: l.opts.now, hb: l.opts.Heartbeat, ttl: l.opts.StaleAfter,
		tookOver: l.taken, lastBeat: now,
		stop: make(chan struct{}), done: make(chan struct{}), lost: make(chan struct{}),
	}
}

func (l *Lock) start() {
	go func() {
		defer close(l.done)
		t := time.NewTicker(l.hb)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-t.C:
				l.beat()
			}
		}
	}()
}

// beat refreshes the heartbeat. The entry is touched, never created: if it
// is gone, another process judged this one stale and may hold the lock now.
func (l *Lock) beat() {
	now := l.now()
	err := l.root.Chtimes(l.name, now, now)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.err != nil:
	case err == nil:
		l.lastBeat = now
	case errors.Is(err, fs.ErrNotExist):
		l.lose(fmt.Errorf("store %s: lost its lock: another process removed %s/%s as stale (was this process paused for %s?)",
			l.dir, locksDir, l.name, l.ttl))
	case now.Sub(l.lastBeat) >= l.ttl:
		l.lose(fmt.Errorf("store %s: lost its lock: no heartbeat written for %s: %w", l.dir, now.Sub(l.lastBeat).Round(time.Second), err))
	}
}

func (l *Lock) lose(err error) {
	l.err = err
	close(l.lost)
}

// Lost is closed when the lock was lost (see [Lock.Err]): another process
// may hold it now, so its holder must stop writing runs.
func (l *Lock) Lost() <-chan struct{} { return l.lost }

// Err says why the lock was lost, or is nil.
func (l *Lock) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Mode is the mode the lock is held in.
func (l *Lock) Mode() LockMode { return l.mode }

// Entry is the lock entry's path relative to the store.
func (l *Lock) Entry() string { return locksDir + "/" + l.name }

// TookOver lists the stale entries of conflicting holders that were removed
// to take the lock: processes that died holding it.
func (l *Lock) TookOver() []LockHolder { return l.tookOver }

// Release stops the heartbeat and removes the entry. It is safe to call
// more than once, and after the lock was lost.
func (l *Lock) Release() error {
	l.release.Do(func() {
		close(l.stop)
		<-l.done
		err := l.root.Remove(l.name)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			l.releaseErr = fmt.Errorf("store %s: releasing the lock: %w", l.dir, err)
		}
		l.root.Close()
	})
	return l.releaseErr
}

// thisProcess is who this process is, read once.
var thisProcess = sync.OnceValue(func() process {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	ns, _ := os.Readlink("/proc/self/ns/pid")
	pid := os.Getpid()
	return process{Host: host, PID: pid, Boot: string(bytes.TrimSpace(boot)), PIDNS: ns, Start: procStart(pid)}
})

// alive reports whether p, a process of this host and PID namespace, runs.
func alive(p process) bool {
	if p.PID <= 0 {
		return false // kill(0) and kill(-1) would ask about groups
	}
	// ESRCH: no such process. EPERM: it exists, as another user's.
	if errors.Is(syscall.Kill(p.PID, 0), syscall.ESRCH) {
		return false
	}
	state, start := procStat(p.PID)
	switch {
	case state == "Z" || state == "X":
		return false // killed, and not yet reaped by its parent
	case p.Start != "" && start != "" && start != p.Start:
		return false // the PID was reused
	}
	return true
}

// procStart is when process pid started, in clock ticks since boot, or ""
// where there is no /proc.
func procStart(pid int) string {
	_, start := procStat(pid)
	return start
}

// procStat reads the state (field 3) and start time (field 22) of
// /proc/PID/stat; both are "" where there is no /proc.
func procStat(pid int) (state, start string) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", ""
	}
	defer f.Close()
	line, _ := bufio.NewReader(io.LimitReader(f, 4096)).ReadString('\n')
	// The command name, field 2, is in parentheses and may hold anything.
	i := strings.LastIndexByte(line, ')')
	if i < 0 {
		return "", ""
	}
	fields := strings.Fields(line[i+1:])
	if len(fields) < 20 {
		return "", ""
	}
	return fields[0], fields[19]
}

// entryHost is a host name as a part of an entry name: its first label,
// in letters, digits, '-' and '_'.
func entryHost(h string) string {
	if i := strings.IndexByte(h, '.'); i > 0 {
		h = h[:i]
	}
	b := []byte(h)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) > 40 {
		b = b[:40]
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}

// Holders lists the live holders of the store's lock, in every mode, by
// the stale rule of [Store.Lock] applied once, now: it takes nothing and
// removes nothing. A reader asks it whether the process that wrote a run's
// start record can still write its end.
func (s *Store) Holders() ([]LockHolder, error) {
	if s.root == nil {
		return nil, fmt.Errorf("store %s is closed", s.dir)
	}
	root, err := s.root.OpenRoot(locksDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	defer root.Close()
	d, err := root.Open(".")
	if err != nil {
		return nil, fmt.Errorf("store: reading the lock: %w", err)
	}
	des, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return nil, fmt.Errorf("store: reading the lock: %w", err)
	}
	l := &locker{dir: s.dir, root: root, me: thisProcess(), watched: map[string]seen{},
		opts: LockOptions{StaleAfter: DefaultLockStale, alive: alive}}
	now := time.Now()
	var live []LockHolder
	for _, de := range des {
		mode, ok := entryMode(de.Name())
		if !ok || !de.Type().IsRegular() {
			continue
		}
		h, ok := l.read(de.Name(), mode)
		if ok && l.stale(h, now) == "" {
			live = append(live, h)
		}
	}
	return live, nil
}

// Runs reports whether h is the process pid of host, as a record names
// them (a host name's first label, as in entry names).
func (h LockHolder) Runs(host string, pid int) bool {
	return h.PID == pid && h.PID > 0 && entryHost(h.Host) == entryHost(host)
}
