package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/metalab-hpc/metalab/internal/host"
)

// noTick is a flush interval long enough that only Flush and Close commit.
const noTick = time.Hour

// newWriter makes a writer that only commits on Flush and Close.
func newWriter(t testing.TB, s *Store, name, node string) *Writer {
	t.Helper()
	w, err := s.NewWriter(WriterOptions{Name: name, Node: node, FlushInterval: noTick})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// readFile reads a segment file with ReadSegment, returning its records.
func readFile(t testing.TB, path string) ([]*Record, ReadReport) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []*Record
	rep, err := ReadSegment(f, func(r *Record, off int64, n int) error {
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return recs, rep
}

func TestWriterAppendRead(t *testing.T) {
	s := TestStore(t)
	w := newWriter(t, s, "w1", "n1")
	var want []*Record
	for i := range 50 {
		r := testRecord(i, []Status{StatusRunning, StatusCompleted, StatusFailed, StatusCancelled}[i%4], i)
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
		if got, want := r.Writer, "w1"; got != want {
			t.Fatalf("Append set Writer=%q, want %q", got, want)
		}
		want = append(want, r)
		if i == 20 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.IndexErr(); err != nil {
		t.Errorf("IndexErr()=%v", err)
	}

	path := filepath.Join(s.Dir(), "segments", "w1.jsonl")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	f, _ := os.Open(path)
	defer f.Close()
	var got []*Record
	rep, err := ReadSegment(f, func(r *Record, off int64, n int) error {
		if line := data[off : off+int64(n)]; line[n-1] != '\n' || bytes.Count(line, []byte("\n")) != 1 {
			t.Errorf("record at %d+%d is not one line: %q", off, n, line)
		}
		offs = append(offs, off)
		got = append(got, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rep.Records, len(want); got != want {
		t.Fatalf("Records=%d, want %d", got, want)
	}
	if got, want := rep.Bytes, int64(len(data)); got != want {
		t.Errorf("Bytes=%d, want %d", got, want)
	}
	if len(rep.Torn) != 0 {
		t.Errorf("Torn=%v, want none", rep.Torn)
	}
	for i := range want {
		if got[i].Format != RecordFormat {
			t.Errorf("record %d: Format=%d, want %d", i, got[i].Format, RecordFormat)
		}
		if g, w := encode(t, got[i]), encode(t, want[i]); g != w {
			t.Errorf("record %d:\n got %s\nwant %s", i, g, w)
		}
	}
}

func TestWriterNames(t *testing.T) {
	s := TestStore(t)
	w := newWriter(t, s, "", "")
	defer w.Close()
	host := host.Short()
	if re := regexp.MustCompile(`^` + regexp.QuoteMeta(host) + fmt.Sprintf(`-p%d-[0-9a-f]{4}$`, os.Getpid())); !re.MatchString(w.Name()) {
		t.Errorf("default Name()=%q, want %s", w.Name(), re)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "index", "nodes", host+".sqlite")); err != nil {
		t.Errorf("default node index: %v", err)
	}

	var names []string
	for range 3 {
		w := newWriter(t, s, "same", "n")
		names = append(names, w.Name())
		defer w.Close()
	}
	if got, want := strings.Join(names, " "), "same same-2 same-3"; got != want {
		t.Errorf("names of three writers named same: %s, want %s", got, want)
	}

	for _, o := range []WriterOptions{{Name: "../x"}, {Name: ".hidden"}, {Node: "a/b"}, {Name: "a b"}} {
		if w, err := s.NewWriter(o); err == nil {
			w.Close()
			t.Errorf("NewWriter(%+v) succeeded, want an error", o)
		}
	}
}

func TestAppendRejects(t *testing.T) {
	s := TestStore(t)
	w := newWriter(t, s, "w", "n")
	tests := []struct {
		name string
		rec  *Record
	}{
		{"no run ID", &Record{Status: StatusCompleted}},
		{"no status", &Record{RunID: runID(1)}},
		{"unknown status", &Record{RunID: runID(1), Status: "done"}},
	}
	for _, tt := range tests {
		if err := w.Append(tt.rec); err == nil {
			t.Errorf("%s: Append succeeded, want an error", tt.name)
		}
	}
	// Rejected records do not stop the writer.
	if err := w.Append(testRecord(1, StatusCompleted, 1)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(testRecord(2, StatusCompleted, 1)); !errors.Is(err, ErrWriterClosed) {
		t.Errorf("Append after Close: %v, want ErrWriterClosed", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	recs, _ := readFile(t, filepath.Join(s.Dir(), "segments", "w.jsonl"))
	if got, want := len(recs), 1; got != want {
		t.Errorf("segment has %d records, want %d", got, want)
	}
}

// TestWriterTicks checks that records become durable without Flush.
func TestWriterTicks(t *testing.T) {
	s := TestStore(t)
	w, err := s.NewWriter(WriterOptions{Name: "w", Node: "n", FlushInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Append(testRecord(1, StatusCompleted, 1)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(s.Dir(), "segments", "w.jsonl")
	for deadline := time.Now().Add(10 * time.Second); ; {
		if recs, _ := readFile(t, path); len(recs) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the record was not written within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWriterHugeRecords writes records larger than the buffers a Writer
// keeps for reuse, between ordinary ones.
func TestWriterHugeRecords(t *testing.T) {
	s := TestStore(t)
	w := newWriter(t, s, "w", "n")
	var want []int
	for i := range 12 {
		r := testRecord(i, StatusCompleted, i)
		size := 10
		if i%4 == 1 {
			size = 4*kickSize + 1
		}
		r.Logs = []string{strings.Repeat("x", size)}
		want = append(want, size)
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
		if i%3 == 2 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	recs, rep := readFile(t, filepath.Join(s.Dir(), "segments", "w.jsonl"))
	var got []int
	for _, r := range recs {
		got = append(got, len(r.Logs[0]))
	}
	if g, w := fmt.Sprint(got), fmt.Sprint(want); g != w || len(rep.Torn) != 0 {
		t.Errorf("log sizes %s, torn %v; want %s and none", g, rep.Torn, w)
	}
}

// TestReadSegmentTornEveryOffset cuts the last record of a segment at every
// byte: everything before is read, and the cut record is reported as torn
// and never read.
func TestReadSegmentTornEveryOffset(t *testing.T) {
	var seg bytes.Buffer
	for i := range 3 {
		seg.WriteString(encode(t, testRecord(i, StatusCompleted, i)) + "\n")
	}
	start := seg.Len()
	last := encode(t, testRecord(99, StatusCompleted, 99)) + "\n"
	seg.WriteString(last)
	full := seg.Bytes()

	cuts, tornReported := 0, 0
	defer func() {
		figures(t, "cuts=%d (every byte offset of the last record) records_before_read=%d torn_reported=%d misread=%d",
			cuts, 3*cuts, tornReported, map[bool]int{false: 0, true: 1}[t.Failed()])
	}()
	for cut := start; cut <= len(full); cut++ {
		cuts++
		var ids []string
		rep, err := ReadSegment(bytes.NewReader(full[:cut]), func(r *Record, off int64, n int) error {
			ids = append(ids, r.RunID)
			return nil
		})
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		wantIDs := []string{runID(0), runID(1), runID(2)}
		var wantTorn []Torn
		switch {
		case cut == len(full):
			wantIDs = append(wantIDs, runID(99))
		case cut > start:
			wantTorn = []Torn{{Offset: int64(start), Length: cut - start, Reason: reasonIncomplete}}
		}
		if got, want := strings.Join(ids, ","), strings.Join(wantIDs, ","); got != want {
			t.Fatalf("cut %d: records %s, want %s", cut, got, want)
		}
		if got, want := rep.Records, len(wantIDs); got != want {
			t.Errorf("cut %d: Records=%d, want %d", cut, got, want)
		}
		wantBytes := int64(start)
		if cut == len(full) {
			wantBytes = int64(cut)
		}
		if got, want := rep.Bytes, wantBytes; got != want {
			t.Errorf("cut %d: Bytes=%d, want %d", cut, got, want)
		}
		if got, want := fmt.Sprint(rep.Torn), fmt.Sprint(wantTorn); got != want {
			t.Errorf("cut %d: Torn=%s, want %s", cut, got, want)
		}
		tornReported += len(rep.Torn)
	}
}

// TestReadSegmentBadLines puts a line that is not a record between two good
// ones: it is reported with a reason and skipped, and reading goes on.
func TestReadSegmentBadLines(t *testing.T) {
	good1 := encode(t, testRecord(1, StatusCompleted, 1)) + "\n"
	good2 := encode(t, testRecord(2, StatusFailed, 2)) + "\n"
	tests := []struct {
		name, line, reason string
	}{
		{"garbage", "\x00\x00garbage\x00\n", "invalid JSON"},
		{"half a record", good1[:40] + "\n", "invalid JSON"},
		{"empty line", "\n", "invalid JSON"},
		{"not an object", "[1,2,3]\n", "not a record"},
		{"wrong type", `{"v":1,"run_id":"00000000000000aa","status":"completed","seed":"x"}` + "\n", "not a record"},
		{"no run_id", `{"v":1,"status":"completed"}` + "\n", "without run_id"},
		{"no status", `{"v":1,"run_id":"00000000000000aa"}` + "\n", "without status"},
		{"unknown status", `{"v":1,"run_id":"00000000000000aa","status":"exploded"}` + "\n", `unknown status "exploded"`},
		{"newer format", `{"v":2,"run_id":"00000000000000aa","status":"completed"}` + "\n", "format 2 is newer"},
		{"newer format, new shape", `{"v":3,"run_id":["x"],"status":{}}` + "\n", "format 3 is newer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seg := good1 + tt.line + good2
			var got []string
			rep, err := ReadSegment(strings.NewReader(seg), func(r *Record, off int64, n int) error {
				got = append(got, fmt.Sprintf("%s@%d+%d", r.RunID, off, n))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want := []string{
				fmt.Sprintf("%s@0+%d", runID(1), len(good1)),
				fmt.Sprintf("%s@%d+%d", runID(2), len(good1)+len(tt.line), len(good2)),
			}
			if g, w := strings.Join(got, " "), strings.Join(want, " "); g != w {
				t.Errorf("records %s, want %s", g, w)
			}
			if got, want := rep.Bytes, int64(len(seg)); got != want {
				t.Errorf("Bytes=%d, want %d", got, want)
			}
			if len(rep.Torn) != 1 {
				t.Fatalf("Torn=%v, want one", rep.Torn)
			}
			if got, want := rep.Torn[0].Offset, int64(len(good1)); got != want {
				t.Errorf("Torn[0].Offset=%d, want %d", got, want)
			}
			if got, want := rep.Torn[0].Length, len(tt.line); got != want {
				t.Errorf("Torn[0].Length=%d, want %d", got, want)
			}
			if !strings.Contains(rep.Torn[0].Reason, tt.reason) {
				t.Errorf("Torn[0].Reason=%q, want it to contain %q", rep.Torn[0].Reason, tt.reason)
			}
		})
	}
}

func TestReadSegmentLongLines(t *testing.T) {
	var seg bytes.Buffer
	var want []int
	for i, size := range []int{10, 3 << 20, 100, 1<<20 - 1, 1 << 20, 5} {
		r := testRecord(i, StatusCompleted, i)
		r.Logs = []string{strings.Repeat("x", size)}
		seg.WriteString(encode(t, r) + "\n")
		want = append(want, size)
	}
	var got []int
	rep, err := ReadSegment(&seg, func(r *Record, off int64, n int) error {
		got = append(got, len(r.Logs[0]))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if g, w := fmt.Sprint(got), fmt.Sprint(want); g != w {
		t.Errorf("log sizes %s, want %s", g, w)
	}
	if len(rep.Torn) != 0 {
		t.Errorf("Torn=%v", rep.Torn)
	}
}

func TestReadSegmentStopsOnError(t *testing.T) {
	seg := encode(t, testRecord(1, StatusCompleted, 1)) + "\n" + encode(t, testRecord(2, StatusCompleted, 2)) + "\n"
	stop := errors.New("stop")
	calls := 0
	_, err := ReadSegment(strings.NewReader(seg), func(*Record, int64, int) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("ReadSegment()=%v after %d calls, want stop after 1", err, calls)
	}
}

// faultyFile fails writes beyond a budget of bytes (writing the part that
// fits, as a full disk does), or fails Sync.
type faultyFile struct {
	*os.File
	budget   int
	failSync bool
}

func (f *faultyFile) Write(b []byte) (int, error) {
	if len(b) <= f.budget {
		f.budget -= len(b)
		return f.File.Write(b)
	}
	n, _ := f.File.Write(b[:f.budget])
	f.budget = 0
	return n, syscall.ENOSPC
}

func (f *faultyFile) Sync() error {
	if f.failSync {
		return syscall.EIO
	}
	return f.File.Sync()
}

func TestWriterFailure(t *testing.T) {
	tests := []struct {
		name  string
		fault faultyFile
		errno syscall.Errno
	}{
		{"partial write", faultyFile{budget: 100}, syscall.ENOSPC},
		{"no space at all", faultyFile{budget: 0}, syscall.ENOSPC},
		{"fsync fails", faultyFile{budget: 1 << 30, failSync: true}, syscall.EIO},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := TestStore(t)
			w := newWriter(t, s, "w", "n")
			for i := range 3 {
				if err := w.Append(testRecord(i, StatusCompleted, i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(s.Dir(), "segments", "w.jsonl")
			info, _ := os.Stat(path)
			good := info.Size()

			w.commitMu.Lock()
			fault := tt.fault
			fault.File = w.f.(*os.File)
			w.f = &fault
			w.commitMu.Unlock()

			for i := 3; i < 6; i++ {
				if err := w.Append(testRecord(i, StatusCompleted, i)); err != nil {
					t.Fatal(err)
				}
			}
			err := w.Flush()
			if !errors.Is(err, tt.errno) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Flush()=%v, want %v naming %s", err, tt.errno, path)
			}
			if err := w.Append(testRecord(7, StatusCompleted, 7)); !errors.Is(err, tt.errno) {
				t.Errorf("Append after the failure: %v, want %v", err, tt.errno)
			}
			if err := w.Flush(); !errors.Is(err, tt.errno) {
				t.Errorf("Flush after the failure: %v, want %v", err, tt.errno)
			}
			if err := w.Close(); !errors.Is(err, tt.errno) {
				t.Errorf("Close after the failure: %v, want %v", err, tt.errno)
			}

			// The segment is back to its last durable size and holds the
			// three durable records only.
			info, _ = os.Stat(path)
			if got, want := info.Size(), good; got != want {
				t.Errorf("segment size %d after the failure, want %d", got, want)
			}
			recs, rep := readFile(t, path)
			if got, want := len(recs), 3; got != want {
				t.Errorf("%d records in the segment, want %d", got, want)
			}
			if len(rep.Torn) != 0 {
				t.Errorf("Torn=%v", rep.Torn)
			}
			crep, err := s.Collect(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if got, want := crep.Runs, 3; got != want {
				t.Errorf("Collect: Runs=%d, want %d", got, want)
			}
			if got, want := crep.Records, 0; got != want {
				t.Errorf("Collect read %d records from segments, want %d (the node index has them)", got, want)
			}
		})
	}
}

// TestWritersConcurrent has 8 goroutines append through one shared writer,
// and 8 more through a writer each, all to one node index, while another
// collects.
func TestWritersConcurrent(t *testing.T) {
	s := TestStore(t)
	const goroutines, perG = 8, 200
	shared, err := s.NewWriter(WriterOptions{Name: "shared", Node: "n", FlushInterval: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*goroutines+1)
	// Collect meanwhile, from the same process.
	stop := make(chan struct{})
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.Collect(t.Context()); err != nil {
				errs <- fmt.Errorf("Collect during the writes: %w", err)
				return
			}
		}
	}()
	for g := range goroutines {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range perG {
				if err := shared.Append(testRecord(g*perG+i, StatusCompleted, i)); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			w, err := s.NewWriter(WriterOptions{Name: fmt.Sprintf("own%d", g), Node: "n", FlushInterval: 2 * time.Millisecond})
			if err != nil {
				errs <- err
				return
			}
			for i := range perG {
				if err := w.Append(testRecord(goroutines*perG+g*perG+i, StatusFailed, i)); err != nil {
					errs <- err
				}
				if i%50 == 0 {
					if err := w.Flush(); err != nil {
						errs <- err
					}
				}
			}
			if err := w.Close(); err != nil {
				errs <- err
			}
			if err := w.IndexErr(); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-collected
	if err := shared.Close(); err != nil {
		t.Fatal(err)
	}
	if err := shared.IndexErr(); err != nil {
		t.Fatal(err)
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	rep, err := s.Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rep.Runs, 2*goroutines*perG; got != want {
		t.Errorf("Runs=%d, want %d", got, want)
	}
	if got, want := rep.Completed, goroutines*perG; got != want {
		t.Errorf("Completed=%d, want %d", got, want)
	}
	if got, want := rep.Records, 0; got != want {
		t.Errorf("Collect read %d records from segments, want 0: the node index should have them all", got)
	}
}

// BenchmarkAppend measures sustained appends of realistic records, commits
// included (the writer is closed inside the timing).
func BenchmarkAppend(b *testing.B) {
	s := TestStore(b)
	w, err := s.NewWriter(WriterOptions{Name: "bench", Node: "n"})
	if err != nil {
		b.Fatal(err)
	}
	recs := make([]*Record, 1000)
	for i := range recs {
		recs[i] = testRecord(i, StatusCompleted, i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		r := recs[i%len(recs)]
		r.RunID = runID(i)
		if err := w.Append(r); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}

// BenchmarkAppendParallel measures Append alone (commits run in the
// background) from all CPUs at once.
func BenchmarkAppendParallel(b *testing.B) {
	s := TestStore(b)
	w, err := s.NewWriter(WriterOptions{Name: "bench", Node: "n"})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := testRecord(1, StatusCompleted, 1)
		for pb.Next() {
			if err := w.Append(r); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
