package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockWorld fakes what the lock protocol observes: a clock that moves only
// when a process sleeps or the test says, and which PIDs of this host are
// gone.
type lockWorld struct {
	mu      sync.Mutex
	now     time.Time
	dead    map[int]bool
	onSleep func(n int) // called on each sleep, with its count
	sleeps  int
}

func newLockWorld() *lockWorld {
	return &lockWorld{now: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), dead: map[int]bool{}}
}

func (w *lockWorld) clock() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

func (w *lockWorld) advance(d time.Duration) {
	w.mu.Lock()
	w.now = w.now.Add(d)
	w.mu.Unlock()
}

func (w *lockWorld) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w.advance(d)
	w.mu.Lock()
	w.sleeps++
	n, f := w.sleeps, w.onSleep
	w.mu.Unlock()
	if f != nil {
		f(n)
	}
	return ctx.Err()
}

func (w *lockWorld) alive(p process) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.dead[p.PID]
}

func (w *lockWorld) kill(pid int) {
	w.mu.Lock()
	w.dead[pid] = true
	w.mu.Unlock()
}

// opts are the options of process self in this world. Heartbeats are
// driven by the tests through beat, never by the ticker.
func (w *lockWorld) opts(mode LockMode, self process) LockOptions {
	return LockOptions{
		Mode: mode, Purpose: fmt.Sprintf("test %s", mode), Heartbeat: time.Hour,
		now: w.clock, sleep: w.sleep, self: &self, alive: w.alive,
	}
}

// abandon stops a lock's heartbeat and leaves its entry, as SIGKILL does.
func abandon(l *Lock) {
	l.release.Do(func() {
		close(l.stop)
		<-l.done
		l.root.Close()
	})
}

func lockEntries(t *testing.T, s *Store) []string {
	t.Helper()
	des, err := os.ReadDir(filepath.Join(s.Dir(), locksDir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

var (
	thisHost  = process{Host: "node1.cluster", PID: 100, Boot: "boot-1", PIDNS: "pid:[1]"}
	otherHost = process{Host: "node2.cluster", PID: 200, Boot: "boot-2", PIDNS: "pid:[1]"}
)

func with(p process, f func(*process)) process { f(&p); return p }

func TestLock(t *testing.T) {
	sameHost := with(thisHost, func(p *process) { p.PID = 200 })
	tests := []struct {
		name   string
		holder *process // nil: nobody holds the store
		held   LockMode
		age    time.Duration // since the holder's last heartbeat
		dead   bool          // the holder's PID is gone
		mode   LockMode      // the mode asked for
		busy   bool
		taken  int // stale entries taken over
	}{
		{name: "free", mode: Exclusive},
		{name: "held by a live pid of this host", holder: &sameHost, held: Exclusive, age: time.Hour, mode: Exclusive, busy: true},
		{name: "held by a dead pid of this host", holder: &sameHost, held: Exclusive, age: time.Second, dead: true, mode: Exclusive, taken: 1},
		{name: "held by a process of an earlier boot of this host", holder: ptr(with(sameHost, func(p *process) { p.Boot = "boot-0" })),
			held: Exclusive, age: time.Second, mode: Exclusive, taken: 1},
		{name: "held from another pid namespace of this host", holder: ptr(with(sameHost, func(p *process) { p.PIDNS = "pid:[2]" })),
			held: Exclusive, age: 30 * time.Second, dead: true, mode: Exclusive, busy: true},
		{name: "other host, fresh heartbeat", holder: &otherHost, held: Exclusive, age: 30 * time.Second, mode: Exclusive, busy: true},
		{name: "other host, stale heartbeat", holder: &otherHost, held: Exclusive, age: DefaultLockStale + time.Second, mode: Exclusive, taken: 1},
		{name: "other host, heartbeat in the future", holder: &otherHost, held: Exclusive, age: -10 * time.Minute, mode: Exclusive, busy: true},
		{name: "shared with shared", holder: &otherHost, held: Shared, age: time.Second, mode: Shared},
		{name: "shared held, exclusive asked", holder: &otherHost, held: Shared, age: time.Second, mode: Exclusive, busy: true},
		{name: "exclusive held, shared asked", holder: &otherHost, held: Exclusive, age: time.Second, mode: Shared, busy: true},
		{name: "shared held by a dead pid, exclusive asked", holder: &sameHost, held: Shared, age: time.Second, dead: true, mode: Exclusive, taken: 1},
		{name: "exclusive of a dead pid, shared asked", holder: &sameHost, held: Exclusive, age: time.Second, dead: true, mode: Shared, taken: 1},
		{name: "submit held, submit asked", holder: &otherHost, held: Submit, age: time.Second, mode: Submit, busy: true},
		{name: "submit held, exclusive asked", holder: &otherHost, held: Submit, age: time.Second, mode: Exclusive, busy: true},
		{name: "exclusive held, submit asked", holder: &otherHost, held: Exclusive, age: time.Second, mode: Submit, busy: true},
		{name: "shared held, submit asked", holder: &otherHost, held: Shared, age: time.Second, mode: Submit},
		{name: "submit held, shared asked", holder: &otherHost, held: Submit, age: time.Second, mode: Shared},
		{name: "submit of a dead pid, submit asked", holder: &sameHost, held: Submit, age: time.Second, dead: true, mode: Submit, taken: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := TestStore(t)
			w := newLockWorld()
			ctx := context.Background()
			if tt.holder != nil {
				w.advance(-tt.age) // the holder's last heartbeat
				h, err := s.Lock(ctx, w.opts(tt.held, *tt.holder))
				if err != nil {
					t.Fatal(err)
				}
				abandon(h)
				w.advance(tt.age)
				if tt.dead {
					w.kill(tt.holder.PID)
				}
			}
			l, err := s.Lock(ctx, w.opts(tt.mode, thisHost))
			var busy *BusyError
			switch {
			case tt.busy && !errors.As(err, &busy):
				t.Fatalf("Lock()=%v, want a BusyError", err)
			case tt.busy:
				h := busy.Holders[0]
				if got, want := fmt.Sprint(h.Host, " ", h.PID), fmt.Sprint(tt.holder.Host, " ", tt.holder.PID); got != want {
					t.Errorf("holder %s, want %s", got, want)
				}
				msg := err.Error()
				for _, want := range []string{s.Dir(), "host " + tt.holder.Host, fmt.Sprintf("pid %d", tt.holder.PID), "since ", "heartbeat"} {
					if !strings.Contains(msg, want) {
						t.Errorf("message %q does not say %q", msg, want)
					}
				}
				if got, want := len(lockEntries(t, s)), 1; got != want {
					t.Errorf("%d lock entries after a refusal, want %d (the holder's)", got, want)
				}
			case err != nil:
				t.Fatalf("Lock()=%v, want the lock", err)
			default:
				if got, want := len(l.TookOver()), tt.taken; got != want {
					t.Errorf("TookOver() lists %d entries, want %d", got, want)
				}
				entries := lockEntries(t, s)
				want := 1
				if tt.holder != nil && tt.taken == 0 {
					want = 2
				}
				if len(entries) != want {
					t.Errorf("lock entries %v, want %d", entries, want)
				}
				if err := l.Release(); err != nil {
					t.Fatal(err)
				}
				if got, want := len(lockEntries(t, s)), want-1; got != want {
					t.Errorf("%d lock entries after Release, want %d", got, want)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestLockWait waits for holders that release, die or stop beating, and
// gives up when told.
func TestLockWait(t *testing.T) {
	live := with(thisHost, func(p *process) { p.PID = 200 })
	tests := []struct {
		name    string
		holder  process
		offset  time.Duration // of the holder's clock
		wait    time.Duration
		release int // the holder releases at this sleep (0: never)
		cancel  int // the waiter's context ends at this sleep (0: never)
		want    string
		// how long the waiter waits, by its clock
		atLeast, atMost time.Duration
	}{
		{name: "until released", holder: live, wait: -1, release: 3, want: "held", atMost: 5 * time.Second},
		{name: "until the other host's heartbeat is stale", holder: otherHost, wait: 10 * time.Minute, want: "held",
			atLeast: DefaultLockStale - time.Second, atMost: DefaultLockStale + time.Second},
		{name: "a dead holder whose clock runs an hour ahead", holder: otherHost, offset: time.Hour, wait: -1, want: "held",
			atLeast: DefaultLockStale, atMost: DefaultLockStale + 5*time.Second},
		{name: "gives up after Wait", holder: live, wait: 5 * time.Second, want: "busy", atLeast: 5 * time.Second, atMost: 5 * time.Second},
		{name: "gives up when cancelled", holder: live, wait: -1, cancel: 4, want: "cancelled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := TestStore(t)
			w := newLockWorld()
			// A second early, so that the holder's entry sorts first.
			w.advance(tt.offset - time.Second)
			h, err := s.Lock(context.Background(), w.opts(Exclusive, tt.holder))
			if err != nil {
				t.Fatal(err)
			}
			w.advance(time.Second - tt.offset)
			if tt.release == 0 {
				abandon(h)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			w.onSleep = func(n int) {
				if n == tt.release {
					h.Release()
				}
				if n == tt.cancel {
					cancel()
				}
			}
			var waited []*BusyError
			opts := w.opts(Exclusive, thisHost)
			opts.Wait = tt.wait
			opts.OnWait = func(b *BusyError) { waited = append(waited, b) }
			start := w.clock()
			l, err := s.Lock(ctx, opts)
			took := w.clock().Sub(start)
			var busy *BusyError
			got := "held"
			switch {
			case errors.Is(err, context.Canceled) && errors.As(err, &busy):
				got = "cancelled"
			case errors.As(err, &busy):
				got = "busy"
			case err != nil:
				t.Fatal(err)
			default:
				l.Release()
			}
			if got != tt.want {
				t.Fatalf("Lock()=%q (%v), want %q", got, err, tt.want)
			}
			if len(waited) != 1 || waited[0].Holders[0].PID != tt.holder.PID {
				t.Errorf("OnWait called %d times, want once, naming pid %d", len(waited), tt.holder.PID)
			}
			if took < tt.atLeast || tt.atMost > 0 && took > tt.atMost {
				t.Errorf("waited %s, want %s to %s", took, tt.atLeast, tt.atMost)
			}
		})
	}
}

// TestLockTakeoverInterleavings plays every interleaving of two takers'
// announce and look steps over one stale entry: never do both see the
// store free, and the stale entry is gone.
func TestLockTakeoverInterleavings(t *testing.T) {
	// The steps of A (a0 announce, a1 look) and B, in every order that keeps
	// each taker's own order.
	orders := []string{"aabb", "abab", "abba", "baab", "baba", "bbaa"}
	for _, order := range orders {
		t.Run(order, func(t *testing.T) {
			s := TestStore(t)
			w := newLockWorld()
			dead := with(thisHost, func(p *process) { p.PID = 300 })
			h, err := s.Lock(context.Background(), w.opts(Exclusive, dead))
			if err != nil {
				t.Fatal(err)
			}
			abandon(h)
			w.kill(300)
			takers := map[byte]*locker{}
			names := map[byte]string{}
			free := map[byte]bool{}
			for i, pid := range []int{101, 102} {
				root, err := s.root.OpenRoot(locksDir)
				if err != nil {
					t.Fatal(err)
				}
				defer root.Close()
				takers["ab"[i]] = &locker{dir: s.Dir(), root: root, opts: w.opts(Exclusive, thisHost), watched: map[string]seen{},
					me: with(thisHost, func(p *process) { p.PID = pid })}
				takers["ab"[i]].opts.StaleAfter = DefaultLockStale
			}
			for _, c := range []byte(order) {
				l := takers[c]
				if names[c] == "" {
					if names[c], err = l.announce(); err != nil {
						t.Fatal(err)
					}
					continue
				}
				holders, mine, err := l.look(names[c])
				if err != nil {
					t.Fatal(err)
				}
				free[c] = mine && len(holders) == 0
			}
			if free['a'] && free['b'] {
				t.Fatalf("both takers see the store free")
			}
			for _, e := range lockEntries(t, s) {
				if strings.Contains(e, ".300.") {
					t.Errorf("stale entry %s left", e)
				}
			}
		})
	}
}

// TestLockTakeoverRace has many goroutines, each a process of its own,
// take over one stale lock at once, many times: exactly one wins each time.
func TestLockTakeoverRace(t *testing.T) {
	// A round takes up to 3 s: a taker that announced itself before the
	// winner but looked after it waits for the winner to withdraw, which a
	// winner does not.
	const takers, rounds = 12, 6
	s := TestStore(t)
	var mu sync.Mutex
	dead := map[int]bool{}
	isAlive := func(p process) bool { mu.Lock(); defer mu.Unlock(); return !dead[p.PID] }
	for round := range rounds {
		stalePID := 1000 + round
		h, err := s.Lock(context.Background(), LockOptions{Mode: Exclusive, self: ptr(with(thisHost, func(p *process) { p.PID = stalePID })), alive: isAlive})
		if err != nil {
			t.Fatal(err)
		}
		abandon(h)
		mu.Lock()
		dead[stalePID] = true
		mu.Unlock()

		var wg sync.WaitGroup
		wins := make(chan *Lock, takers)
		for i := range takers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				me := with(thisHost, func(p *process) { p.PID = 2000 + i })
				l, err := s.Lock(context.Background(), LockOptions{Mode: Exclusive, self: &me, alive: isAlive})
				var busy *BusyError
				switch {
				case err == nil:
					wins <- l
				case !errors.As(err, &busy):
					t.Error(err)
				}
			}()
		}
		// A winner holds until every taker has tried, so that a later win
		// cannot pass for a concurrent one.
		wg.Wait()
		close(wins)
		n := 0
		for l := range wins {
			n++
			l.Release()
		}
		if n != 1 {
			t.Fatalf("round %d: %d takers won, want exactly 1", round, n)
		}
		if left := lockEntries(t, s); len(left) != 0 {
			t.Fatalf("round %d: entries left: %v", round, left)
		}
	}
}

// TestLockTakeoverProcesses has real processes take over the lock of a
// process that has exited: exactly one wins.
func TestLockTakeoverProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	const takers = 6
	s := TestStore(t)
	exited := exec.Command("true")
	if err := exited.Run(); err != nil {
		t.Fatal(err)
	}
	corpse := thisProcess()
	corpse.PID, corpse.Start = exited.Process.Pid, ""
	h, err := s.Lock(context.Background(), LockOptions{Mode: Exclusive, Purpose: "exited", self: &corpse})
	if err != nil {
		t.Fatal(err)
	}
	abandon(h)

	type taker struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		out   *bufio.Reader
	}
	var ts []taker
	for range takers {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$")
		cmd.Env = append(os.Environ(), "METALAB_LOCK_HELPER="+s.Dir())
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ts = append(ts, taker{cmd, stdin, bufio.NewReader(stdout)})
	}
	won, busy := 0, 0
	for _, tk := range ts {
		line, err := tk.out.ReadString('\n')
		switch strings.TrimSpace(line) {
		case "won":
			won++
		case "busy":
			busy++
		default:
			t.Errorf("taker said %q (%v)", line, err)
		}
	}
	for _, tk := range ts {
		tk.stdin.Close()
		if err := tk.cmd.Wait(); err != nil {
			t.Error(err)
		}
	}
	if won != 1 || busy != takers-1 {
		t.Errorf("%d processes won and %d were refused, want 1 and %d", won, busy, takers-1)
	}
	if left := lockEntries(t, s); len(left) != 0 {
		t.Errorf("entries left: %v", left)
	}
}

// TestLockHelperProcess is a taker of TestLockTakeoverProcesses: it says
// whether it won, and a winner holds the lock until its stdin closes.
func TestLockHelperProcess(t *testing.T) {
	dir := os.Getenv("METALAB_LOCK_HELPER")
	if dir == "" {
		t.Skip("run by TestLockTakeoverProcesses")
	}
	s, err := Open(dir)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	l, err := s.Lock(context.Background(), LockOptions{Mode: Exclusive, Purpose: "helper"})
	var busy *BusyError
	switch {
	case errors.As(err, &busy):
		fmt.Println("busy")
		io.ReadAll(os.Stdin)
		os.Exit(0)
	case err != nil:
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("won")
	io.ReadAll(os.Stdin)
	if err := l.Release(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// TestLockHeartbeat refreshes the entry's time, and finds out when the lock
// was taken away.
func TestLockHeartbeat(t *testing.T) {
	s := TestStore(t)
	w := newLockWorld()
	l, err := s.Lock(context.Background(), w.opts(Exclusive, thisHost))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	path := filepath.Join(s.Dir(), filepath.FromSlash(l.Entry()))
	w.advance(10 * time.Second)
	l.beat()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := info.ModTime(), w.clock(); !got.Equal(want) {
		t.Errorf("heartbeat %s, want %s", got, want)
	}
	select {
	case <-l.Lost():
		t.Fatal("lost without cause")
	default:
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	l.beat()
	select {
	case <-l.Lost():
	default:
		t.Fatal("not lost after its entry was removed")
	}
	if err := l.Err(); err == nil || !strings.Contains(err.Error(), "lost its lock") {
		t.Errorf("Err()=%v, want lost its lock", err)
	}
	if err := l.Release(); err != nil {
		t.Errorf("Release() of a lost lock: %v", err)
	}
}

// TestLockForeignEntries: an entry metalab cannot parse is judged by its
// heartbeat, and what is not a regular file is no entry at all.
func TestLockForeignEntries(t *testing.T) {
	tests := []struct {
		name string
		age  time.Duration
		link bool
		busy bool
	}{
		{name: "garbage, fresh", age: time.Second, busy: true},
		{name: "garbage, old", age: DefaultLockStale + time.Second},
		{name: "symlink", link: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := TestStore(t)
			w := newLockWorld()
			if err := s.mkdir(locksDir); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(s.Dir(), locksDir, "x.0000000000000000.h.1.00")
			if tt.link {
				if err := os.Symlink("/nonexistent", p); err != nil {
					t.Fatal(err)
				}
			} else {
				if err := os.WriteFile(p, []byte("not json"), 0o644); err != nil {
					t.Fatal(err)
				}
				mt := w.clock().Add(-tt.age)
				if err := os.Chtimes(p, mt, mt); err != nil {
					t.Fatal(err)
				}
			}
			l, err := s.Lock(context.Background(), w.opts(Exclusive, thisHost))
			var busy *BusyError
			if got := errors.As(err, &busy); got != tt.busy {
				t.Fatalf("Lock()=%v, want busy %v", err, tt.busy)
			}
			if err == nil {
				l.Release()
			}
		})
	}
}

// TestAlive checks the real liveness test against this process and one
// that has exited.
func TestAlive(t *testing.T) {
	exited := exec.Command("true")
	if err := exited.Run(); err != nil {
		t.Fatal(err)
	}
	// A child that has exited and that this process does not reap yet: a
	// zombie, which kill(pid, 0) still finds.
	zombie := exec.Command("true")
	if err := zombie.Start(); err != nil {
		t.Fatal(err)
	}
	defer zombie.Wait()
	for i := 0; i < 500; i++ {
		if state, _ := procStat(zombie.Process.Pid); state != "R" && state != "S" && state != "D" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	me := thisProcess()
	tests := []struct {
		name string
		p    process
		want bool
	}{
		{"this process", me, true},
		{"a zombie", with(me, func(p *process) { p.PID, p.Start = zombie.Process.Pid, "" }), false},
		{"an exited process", with(me, func(p *process) { p.PID, p.Start = exited.Process.Pid, "" }), false},
		{"this PID, reused by another start", with(me, func(p *process) { p.Start = "1" }), me.Start == ""},
		{"PID 0", with(me, func(p *process) { p.PID = 0 }), false},
		{"PID -1", with(me, func(p *process) { p.PID = -1 }), false},
	}
	for _, tt := range tests {
		if got := alive(tt.p); got != tt.want {
			t.Errorf("alive(%s)=%v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestHolders lists the live holders of any mode, and not a holder whose
// process is gone, without removing its entry.
func TestHolders(t *testing.T) {
	s := TestStore(t)
	if hs, err := s.Holders(); err != nil || len(hs) != 0 {
		t.Fatalf("Holders() of a store never locked=%v, %v, want none", hs, err)
	}
	ctx := context.Background()
	me := thisProcess()
	dead := with(me, func(p *process) { p.PID = 1 << 22; p.Start = "" }) // above pid_max's default
	gone, err := s.Lock(ctx, LockOptions{Mode: Submit, self: &dead, alive: func(process) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	abandon(gone)
	l, err := s.Lock(ctx, LockOptions{Mode: Shared, Purpose: "worker"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	hs, err := s.Holders()
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 1 || hs[0].Purpose != "worker" || !hs[0].Runs(me.Host, os.Getpid()) || hs[0].Runs(me.Host, dead.PID) {
		t.Errorf("Holders()=%+v, want this process alone", hs)
	}
	if got := len(lockEntries(t, s)); got != 2 {
		t.Errorf("%d lock entries after Holders(), want both left", got)
	}
}
