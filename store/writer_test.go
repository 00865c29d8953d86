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
