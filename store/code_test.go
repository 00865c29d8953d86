package store

import (
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNewCode(t *testing.T) {
	a := NewCode(map[string]string{CodePart("file", "a.py"): "11", CodePart("program", "python3"): "/usr/bin/python3"})
	b := NewCode(map[string]string{CodePart("program", "python3"): "/usr/bin/python3", CodePart("file", "a.py"): "11"})
	c := NewCode(map[string]string{CodePart("file", "a.py"): "12", CodePart("program", "python3"): "/usr/bin/python3"})
	if a.Fingerprint != b.Fingerprint {
		t.Errorf("the same parts have fingerprints %s and %s", a.Fingerprint, b.Fingerprint)
	}
	if a.Fingerprint == c.Fingerprint {
		t.Errorf("other parts have the same fingerprint %s", a.Fingerprint)
	}
	if got, want := len(a.Fingerprint), 12; got != want {
		t.Errorf("len(fingerprint)=%d, want %d", got, want)
	}
	if got, want := NewCode(nil).Fingerprint, NewCode(map[string]string{}).Fingerprint; got != want {
		t.Errorf("NewCode(nil)=%s, want NewCode({})'s %s", got, want)
	}
}

func TestChangedParts(t *testing.T) {
	base := map[string]string{"command": `["python3","a.py"]`, "file a.py": "1", "file util.py": "2", "program python3": "/usr/bin/python3.11"}
	with := func(k, v string) map[string]string {
		m := maps.Clone(base)
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name     string
		old, cur map[string]string
		want     []string
	}{
		{"same", base, base, nil},
		{"a file", base, with("file a.py", "9"), []string{"a.py"}},
		{"a file gone", base, with("file util.py", ""), []string{"util.py"}},
		{"a file new", with("file util.py", ""), base, []string{"util.py"}},
		{"the interpreter", base, with("program python3", "/opt/python3"), []string{"python3"}},
		{"the command", base, with("command", `["python3","a.py","-O"]`), []string{"command"}},
		{"a Go build", map[string]string{"go executable": "1", "go module": "m@v"}, map[string]string{"go executable": "2", "go module": "m@v"}, []string{"Go build"}},
	}
	for _, tt := range tests {
		got := ChangedParts(tt.old, tt.cur)
		if len(got) == 0 && len(tt.want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: ChangedParts()=%v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestAddExperimentCodes: the latest code is the experiment's, and the
// parts of every code seen are kept; an experiment recorded before codes
// reads as none.
func TestAddExperimentCodes(t *testing.T) {
	s := TestStore(t)
	c1 := NewCode(map[string]string{"file a.py": "1"})
	c2 := NewCode(map[string]string{"file a.py": "2"})
	e := ExperimentInfo{Name: "a", Version: "1", Plan: planInfo("p1", 4)}
	if _, err := s.AddExperiment(e); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Experiment("a", "1")
	if got.Code != "" || got.Codes != nil {
		t.Errorf("without code: Code=%q, Codes=%v; want none", got.Code, got.Codes)
	}
	for _, c := range []Code{c1, c2, c1} {
		e.Code, e.Codes = c.Fingerprint, map[string]map[string]string{c.Fingerprint: c.Parts}
		if _, err := s.AddExperiment(e); err != nil {
			t.Fatal(err)
		}
	}
	e.Code, e.Codes = "", nil // a sweep that knows no code keeps what is recorded
	if _, err := s.AddExperiment(e); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Experiment("a", "1")
	if got.Code != c1.Fingerprint {
		t.Errorf("Code=%q, want the latest, %q", got.Code, c1.Fingerprint)
	}
	if want := []string{c1.Fingerprint, c2.Fingerprint}; !reflect.DeepEqual(slices.Sorted(maps.Keys(got.Codes)), slices.Sorted(slices.Values(want))) ||
		!reflect.DeepEqual(got.Codes[c2.Fingerprint], c2.Parts) {
		t.Errorf("Codes=%v, want the parts of %v", got.Codes, want)
	}
}

// TestRerunRecordWins: of two completed records of a run, the later wins,
// whatever the order the index learns them in: written by one writer or
// two, merged from node indexes, or rebuilt from the segments. Each
// carries its code, which CompletedCodes reports; CompletedAmongSince
// counts only the later.
func TestRerunRecordWins(t *testing.T) {
	for _, order := range []string{"old first", "new first"} {
		t.Run(order, func(t *testing.T) {
			s := TestStore(t)
			old, rerun := testRecord(1, StatusCompleted, 10), testRecord(1, StatusCompleted, 20)
			old.Code, rerun.Code = "000000000001", "000000000002"
			other := testRecord(2, StatusCompleted, 5)
			other.Code = "000000000001"
			first, second := old, rerun
			if order == "new first" {
				first, second = rerun, old
			}
			w1 := newWriter(t, s, "w1", "n1")
			w2 := newWriter(t, s, "w2", "n2")
			for _, a := range []struct {
				w *Writer
				r *Record
			}{{w1, first}, {w1, other}, {w2, second}} {
				if err := a.w.Append(a.r); err != nil {
					t.Fatal(err)
				}
			}
			for _, w := range []*Writer{w1, w2} {
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
			}
			check := func(when string) {
				t.Helper()
				codes := map[string]string{}
				if err := s.CompletedCodes("sweep", "1", func(id, code string) { codes[id] = code }); err != nil {
					t.Fatal(err)
				}
				if want := map[string]string{runID(1): "000000000002", runID(2): "000000000001"}; !reflect.DeepEqual(codes, want) {
					t.Errorf("%s: CompletedCodes()=%v, want %v", when, codes, want)
				}
				if err := s.CompletedCodes("other", "1", func(id, code string) { t.Errorf("%s: CompletedCodes(other) gave %s", when, id) }); err != nil {
					t.Fatal(err)
				}
				done, err := s.CompletedAmongSince([]string{runID(1), runID(2)}, t0.Add(15*time.Second))
				if err != nil {
					t.Fatal(err)
				}
				if want := map[string]bool{runID(1): true}; !reflect.DeepEqual(done, want) {
					t.Errorf("%s: CompletedAmongSince(t0+15s)=%v, want %v", when, done, want)
				}
			}
			collect(t, s)
			check("merged")
			nodes, _ := filepath.Glob(filepath.Join(s.Dir(), "index", "nodes", "*"))
			for _, p := range append(nodes, filepath.Join(s.Dir(), "index", "store.sqlite")) {
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
			}
			collect(t, s)
			check("rebuilt from the segments")
		})
	}
}

func TestScanRecordKeysCode(t *testing.T) {
	r := testRecord(3, StatusCompleted, 1)
	r.Code = "abcdef012345"
	line, ok := appendRecord(nil, r)
	if !ok {
		t.Fatal("appendRecord declined")
	}
	k, err := ScanRecordKeys(line)
	if err != nil || k.RunID != runID(3) || k.Code != "abcdef012345" || !strings.HasPrefix(string(line), `{"v":`) {
		t.Errorf("ScanRecordKeys()=%+v, %v; want the run ID and code", k, err)
	}
}
