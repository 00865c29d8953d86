package store

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func opJSON(argv ...string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"command": argv})
	return b
}

func planInfo(id string, runs int) PlanInfo {
	return PlanInfo{Identity: id, Spec: json.RawMessage(`{"runs":1}`), Runs: runs}
}

// TestAddExperiment: a store holds any number of experiments; the same
// name and version take a new plan, keep their creation and report another
// operation, field by field, once; a record without an operation takes
// none away.
func TestAddExperiment(t *testing.T) {
	s := TestStore(t)
	if got, err := s.Experiments(); err != nil || len(got) != 0 {
		t.Fatalf("Experiments() of a new store = %v, %v; want none", got, err)
	}
	a1 := ExperimentInfo{Name: "a", Version: "1", Operation: opJSON("sh", "a.sh"), Plan: planInfo("p1", 4)}
	if change, err := s.AddExperiment(a1); err != nil || change != nil {
		t.Fatalf("AddExperiment(a new experiment) = %v, %v", change, err)
	}
	m, err := s.Manifest()
	if err != nil {
		t.Fatalf("AddExperiment wrote no manifest: %v", err)
	}
	if m.Experiment != "a" || m.Version != "1" || m.Identity != "p1" {
		t.Errorf("manifest %+v, want the first plan's", m)
	}
	first, _ := s.Experiment("a", "1")
	time.Sleep(time.Millisecond)

	// Growth: a new plan of the same experiment.
	grown := a1
	grown.Plan = PlanInfo{Identity: "p2", Runs: 12, Outside: 1}
	if change, err := s.AddExperiment(grown); err != nil || change != nil {
		t.Fatalf("AddExperiment(grown plan)=%v, %v, want nil", change, err)
	}
	got, err := s.Experiment("a", "1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Plan.Identity != "p2" || got.Plan.Runs != 12 || got.Plan.Outside != 1 || got.Plan.Made.IsZero() {
		t.Errorf("plan after growth %+v, want p2 of 12 runs, 1 outside, with its time", got.Plan)
	}
	if !got.Created.Equal(first.Created) {
		t.Errorf("Created %v changed to %v", first.Created, got.Created)
	}

	// Another version and another experiment are experiments of their own.
	for _, e := range []ExperimentInfo{
		{Name: "a", Version: "2", Operation: opJSON("sh", "a2.sh"), Plan: planInfo("q", 2)},
		{Name: "b", Version: "1", Plan: planInfo("r", 3)},
	} {
		if change, err := s.AddExperiment(e); err != nil || change != nil {
			t.Errorf("AddExperiment(%s)=%v, %v, want nil", e.Ref(), change, err)
		}
	}
	list, err := s.Experiments()
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, e := range list {
		refs = append(refs, e.Ref())
	}
	if got, want := strings.Join(refs, " "), "a@1 a@2 b@1"; got != want {
		t.Errorf("Experiments()=%s, want %s", got, want)
	}

	// The same name and version with another operation: reported, saying
	// what differs; CheckExperiment writes nothing, AddExperiment records
	// the new operation and the new plan.
	changed := a1
	changed.Operation, _ = json.Marshal(map[string]any{"command": []string{"sh", "b.sh"}, "mode": "persistent"})
	changed.Plan = planInfo("p3", 6)
	wantChange := `the operation of experiment "a" version "1" changed since store ` + s.Dir() + ` recorded it on ` +
		first.Created.UTC().Format(time.DateOnly) + `: command was ["sh","a.sh"], is ["sh","b.sh"] now; mode was (none), is "persistent" now`
	for _, try := range []struct {
		name string
		f    func(ExperimentInfo) (*OperationChange, error)
		plan string // the plan recorded after it
	}{{"CheckExperiment", s.CheckExperiment, "p2"}, {"AddExperiment", s.AddExperiment, "p3"}} {
		change, err := try.f(changed)
		if err != nil || change == nil {
			t.Fatalf("%s(changed operation)=%v, %v, want an *OperationChange", try.name, change, err)
		}
		if got := change.String(); got != wantChange {
			t.Errorf("%s change:\n%s\nwant\n%s", try.name, got, wantChange)
		}
		if h := change.Hint(); !strings.Contains(h, "new version") || !strings.Contains(h, "another store") {
			t.Errorf("hint %q, want it to say how to proceed", h)
		}
		if got, _ := s.Experiment("a", "1"); got.Plan.Identity != try.plan {
			t.Errorf("after %s the store records plan %s, want %s", try.name, got.Plan.Identity, try.plan)
		}
	}
	// Reported once: the store now records the new operation.
	if change, err := s.CheckExperiment(changed); err != nil || change != nil {
		t.Errorf("CheckExperiment(the recorded operation)=%v, %v, want nil", change, err)
	}
	changeBack := changed
	changeBack.Operation = a1.Operation
	if change, _ := s.CheckExperiment(changeBack); change == nil || !change.Since.After(first.Created) {
		t.Errorf("CheckExperiment(the first operation again)=%v, want a change since the second was recorded", change)
	}
	if _, err := s.AddExperiment(a1); err != nil {
		t.Fatal(err)
	}
	// The same operation, spelled otherwise, is the same.
	same := a1
	same.Operation = json.RawMessage(`{ "command" : [ "sh" , "a.sh" ] }`)
	if change, err := s.CheckExperiment(same); err != nil || change != nil {
		t.Errorf("CheckExperiment(same operation, other spacing)=%v, %v", change, err)
	}
	// An operation metalab cannot see (a Go function) is not compared, and
	// keeps the one recorded.
	goOp := a1
	goOp.Operation = nil
	if change, err := s.AddExperiment(goOp); err != nil || change != nil {
		t.Errorf("AddExperiment(no operation)=%v, %v, want nil", change, err)
	}
	if got, _ := s.Experiment("a", "1"); !jsonEqual(got.Operation, a1.Operation) {
		t.Errorf("operation after a record without one: %s, want %s", got.Operation, a1.Operation)
	}
	// The manifest never changed.
	if m2, _ := s.Manifest(); m2.Identity != m.Identity || m2.StoreID() != m.StoreID() {
		t.Errorf("manifest changed from %+v to %+v", m, m2)
	}
}

// TestLegacyStoreGrows: a store written by the metalab before stores held
// several experiments (a manifest of format 1, no experiments/) opens, lists
// its experiment from the manifest, and takes a grown plan, another version
// and another operation of it (the old one is not known), its manifest
// left byte for byte.
func TestLegacyStoreGrows(t *testing.T) {
	dir := t.TempDir()
	legacy := `{"format":1,"experiment":"grow","version":"1","identity":"19ec643f0000000000000000000000000000000000000000000000000000aaaa",` +
		`"spec":{"context":"e3b0","experiment":"grow","params":{"grid":{"i":[1,2]}},"runs":4,"seeds":{"base":0,"replicates":2},"version":"1"},` +
		`"created":"2026-11-01T10:00:00.123456789Z"}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "metalab.json"), []byte(legacy), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, err := s.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	id := m.StoreID()
	list, err := s.Experiments()
	if err != nil || len(list) != 1 {
		t.Fatalf("Experiments()=%v, %v; want the manifest's", list, err)
	}
	if e := list[0]; e.Ref() != "grow@1" || e.Plan.Runs != 4 || e.Plan.Identity != m.Identity || len(e.Operation) != 0 {
		t.Errorf("experiment of a legacy store %+v, want grow@1 of 4 runs and no operation", e)
	}
	for _, e := range []ExperimentInfo{
		{Name: "grow", Version: "1", Operation: opJSON("sh", "g.sh"), Plan: planInfo("grown", 12)},
		{Name: "grow", Version: "2", Plan: planInfo("v2", 2)},
	} {
		if change, err := s.AddExperiment(e); err != nil || change != nil {
			t.Errorf("AddExperiment(%s) into a legacy store: %v, %v", e.Ref(), change, err)
		}
	}
	list, _ = s.Experiments()
	if len(list) != 2 || list[0].Plan.Runs != 12 || list[0].Created != m.Created {
		t.Errorf("Experiments() after growth %+v, want grow@1 of 12 runs created with the store, and grow@2", list)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "metalab.json")); string(b) != legacy {
		t.Errorf("metalab.json changed:\n%s\nwant\n%s", b, legacy)
	}
	if m2, _ := s.Manifest(); m2.StoreID() != id {
		t.Errorf("StoreID()=%s after growth, want %s", m2.StoreID(), id)
	}
}

func TestExperimentFile(t *testing.T) {
	tests := []struct{ name, version, prefix string }{
		{"grow", "1", "grow@1-"},
		{"my sweep $(rm -rf /)", "0.2", "my_sweep___rm_-rf___@0.2-"},
		{"../up", "", "_up@-"},
		{strings.Repeat("x", 100), "v", strings.Repeat("x", 40) + "@v-"},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		f := experimentFile(tt.name, tt.version)
		if !strings.HasPrefix(f, tt.prefix) || !strings.HasSuffix(f, ".json") || strings.Contains(f, "/") {
			t.Errorf("experimentFile(%q, %q)=%q, want %s<hash>.json", tt.name, tt.version, f, tt.prefix)
		}
		seen[f] = true
	}
	if a, b := experimentFile("a b", "1"), experimentFile("a_b", "1"); a == b {
		t.Errorf("two experiments share the file %s", a)
	}
	if a, b := experimentFile("a@1", ""), experimentFile("a", "1@"); a == b {
		t.Errorf("two experiments share the file %s", a)
	}
}

func TestCountByExperiment(t *testing.T) {
	s := TestStore(t)
	if err := s.Init(Manifest{Experiment: "sweep", Version: "1"}); err != nil {
		t.Fatal(err)
	}
	w, err := s.NewWriter(WriterOptions{Name: "w"})
	if err != nil {
		t.Fatal(err)
	}
	statuses := []Status{StatusCompleted, StatusCompleted, StatusFailed, StatusRunning, StatusCancelled, StatusCompleted}
	for i, st := range statuses {
		r := testRecord(i, st, i)
		if i >= 4 {
			r.Experiment, r.Version = "other", "2"
		}
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	// A later record of run 0 wins, and counts once.
	if err := w.Append(testRecord(0, StatusCompleted, 10)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Collect(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := s.CountByExperiment()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(got)
	want := `{"other@2":{"completed":1,"failed":0,"cancelled":1,"running":0},"sweep@1":{"completed":2,"failed":1,"cancelled":0,"running":1}}`
	if !bytes.Equal(b, []byte(want)) {
		t.Errorf("CountByExperiment()=%s, want %s", b, want)
	}
}

func TestRunIDs(t *testing.T) {
	s := TestStore(t)
	w, err := s.NewWriter(WriterOptions{Name: "w"})
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range []Status{StatusCompleted, StatusFailed, StatusRunning} {
		if err := w.Append(testRecord(i, st, i)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	if _, err := s.Collect(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := map[string]Status{}
	if err := s.RunIDs(func(id []byte, st Status) { got[string(id)] = st }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[runID(0)] != StatusCompleted || got[runID(1)] != StatusFailed || got[runID(2)] != StatusRunning {
		t.Errorf("RunIDs gave %v", got)
	}
	var completed []string
	if err := s.CompletedIDs(func(id []byte) { completed = append(completed, string(id)) }); err != nil {
		t.Fatal(err)
	}
	if len(completed) != 1 || completed[0] != runID(0) {
		t.Errorf("CompletedIDs gave %v, want %s", completed, runID(0))
	}
}
