package launcher

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/store"
)

// tableRecords are records of every shape the columns must give back as
// the store's decoder does: hostile strings in every string field, params
// of every kind, null and missing metrics, exit codes, odd run IDs, times
// with an offset and outside the columns' range, and records with what
// only a full decoding keeps (series, data, logs).
func tableRecords() []*Record {
	start := time.Date(2026, 3, 4, 5, 6, 7, 891011121, time.UTC)
	hostile := []string{"", "plain", `quote " and \ backslash`, "new\nline\ttab", "\x01\x1f", "ünïcødé ✓ 😀",
		"line\u2028sep", `{"json":"inside"}`, "trailing\\", "bad \xff utf-8"}
	zero, three := 0, 3
	var recs []*Record
	for i, s := range hostile {
		r := &Record{
			Format: store.RecordFormat, RunID: fmt.Sprintf("%016x", 0xabc000+i), Status: store.StatusCompleted,
			Experiment: "e", Version: "1", SeedBase: int64(i) - 3, Replicate: i % 3, Seed: math.MaxUint64 - uint64(i),
			Params: params.Point{"lr": []any{0.1, 0.01, 1e-300}[i%3], "n": int64(i % 4), "s": []string{"a", "b\"", "ü"}[i%3]},
			Code:   []string{"", "c0de"}[i%2], Error: s, Signal: s, Host: s, Writer: s,
			SlurmJobID: s, SlurmArrayJobID: s, SlurmTaskID: s, SlurmRestart: i, PID: 1000 + i, PeakRSSKB: int64(i) << 30,
			Started: start.Add(time.Duration(i) * time.Second), Ended: start.Add(time.Duration(i)*time.Second + 1500*time.Microsecond),
		}
		r.Metrics = capture.Metrics{"loss": float64(i) / 7, s + "m": -float64(i)}
		switch i % 4 {
		case 1:
			r.Metrics["null"] = math.NaN()
		case 2:
			r.Metrics = nil
			r.Status = store.StatusFailed
		case 3:
			r.ExitCode = &zero
		}
		recs = append(recs, r)
	}
	recs = append(recs,
		&Record{Format: store.RecordFormat, RunID: "odd-id", Status: store.StatusRunning, Experiment: "e", Version: "2",
			Params:  params.Point{"lr": 0.5, "list": []any{int64(1), "two", nil}, "map": map[string]any{"k": true}, "nil": nil},
			Started: start},
		&Record{Format: store.RecordFormat, RunID: "0000000000000001", Status: store.StatusCancelled, Experiment: "e", Version: "1",
			Params: params.Point{}, ExitCode: &three, Started: start.In(time.FixedZone("x", 3600))},
		&Record{Format: store.RecordFormat, RunID: "0000000000000002", Status: store.StatusCompleted, Experiment: "f", Version: "",
			Params: params.Point{"lr": 1.0}, Started: time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC), Ended: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)},
		&Record{Format: store.RecordFormat, RunID: "0000000000000003", Status: store.StatusCompleted, Experiment: "e", Version: "1",
			Params: params.Point{"lr": 0.1, "n": int64(1)}, Started: start,
			Result: capture.Result{Metrics: capture.Metrics{"loss": 2}, Series: map[string][]capture.Point{"curve": {{Step: 1}}},
				Data: map[string]json.RawMessage{"d": json.RawMessage(`[1]`)}, Logs: []string{"l"}}},
	)
	return recs
}

// TestColumnsMatchRecords checks that the results read into columns give
// back, record for record, what the store's full decoder reads from the
// same store, in the order sortRuns gives the records.
func TestColumnsMatchRecords(t *testing.T) {
	st := store.TestStore(t)
	if err := st.Init(store.Manifest{Experiment: "e", Version: "1", Identity: "x", Spec: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	w, err := st.NewWriter(store.WriterOptions{Name: "w"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range tableRecords() {
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Collect(context.Background()); err != nil {
		t.Fatal(err)
	}
	var want []*Record
	if err := st.Records(func(r *Record) error { want = append(want, r); return nil }); err != nil {
		t.Fatal(err)
	}
	sortRuns(want)
	res, err := LoadResults(st.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Len(), len(want); got != want {
		t.Fatalf("Len()=%d, want %d", got, want)
	}
	if got := len(res.tab.full); got != 3 {
		t.Errorf("%d records read in full, want 3 (the time with an offset, the years out of range, the series)", got)
	}
	check := func(how string, got []*Record) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d records, want %d", how, len(got), len(want))
		}
		for i := range want {
			g, _ := json.Marshal(got[i])
			w, _ := json.Marshal(want[i])
			if string(g) != string(w) {
				t.Errorf("%s: record %d:\n got %s\nwant %s", how, i, g, w)
			}
			if !reflect.DeepEqual(got[i].Params, want[i].Params) {
				t.Errorf("%s: record %d: Params=%#v, want %#v", how, i, got[i].Params, want[i].Params)
			}
			if got[i].Started.Location().String() != want[i].Started.Location().String() {
				t.Errorf("%s: record %d: Started in %v, want %v", how, i, got[i].Started.Location(), want[i].Started.Location())
			}
		}
	}
	check("Runs", res.Runs())
	check("All", slices.Collect(res.All()))
	var rows []*Record
	for row := range res.Rows() {
		rows = append(rows, row.Record())
		rec := want[len(rows)-1]
		if got := row.RunID(); got != rec.RunID {
			t.Errorf("Row.RunID()=%q, want %q", got, rec.RunID)
		}
		if got := row.Status(); got != rec.Status {
			t.Errorf("Row.Status()=%q, want %q", got, rec.Status)
		}
		if got, ok := row.Param("lr"); ok != (rec.Params["lr"] != nil) || !reflect.DeepEqual(got, rec.Params["lr"]) {
			t.Errorf("%s: Row.Param(lr)=%v, %v, want %v", rec.RunID, got, ok, rec.Params["lr"])
		}
		m, ok := row.Metric("loss")
		wm, wok := rec.Metrics["loss"]
		if ok != wok || m != wm {
			t.Errorf("%s: Row.Metric(loss)=%v, %v, want %v, %v", rec.RunID, m, ok, wm, wok)
		}
	}
	check("Rows", rows)

	// What the methods read from the columns agrees with the same
	// methods over the records themselves.
	given := &Results{runs: want}
	for _, tt := range []struct {
		name string
		of   func(*Results) any
	}{
		{"Counts", func(r *Results) any { return r.Counts() }},
		{"Experiments", func(r *Results) any { return r.Experiments() }},
		{"Metric", func(r *Results) any { return fmt.Sprint(r.Metric("loss")) }},
		{"Where", func(r *Results) any { return runIDs(r.Where("lr", 0.1)) }},
		{"Where int", func(r *Results) any { return runIDs(r.Where("n", 1.0)) }},
		{"WithStatus", func(r *Results) any { return runIDs(r.WithStatus(store.StatusFailed, store.StatusRunning)) }},
		{"OfExperiment", func(r *Results) any { return runIDs(r.OfExperiment("e@1").Completed()) }},
		{"Summary", func(r *Results) any { s, _ := json.Marshal(r.Summary("lr", "n")); return string(s) }},
		{"SeriesSummary", func(r *Results) any { s, _ := json.Marshal(r.SeriesSummary("curve", "lr")); return string(s) }},
		{"Table", func(r *Results) any { return r.Table() }},
	} {
		if got, want := tt.of(res), tt.of(given); !reflect.DeepEqual(got, want) {
			t.Errorf("%s of the columns=%v, want %v", tt.name, got, want)
		}
	}
	if err := res.Err(); err != nil {
		t.Errorf("Err()=%v", err)
	}
}

func runIDs(r *Results) []string {
	var ids []string
	for run := range r.Rows() {
		ids = append(ids, run.RunID())
	}
	return ids
}

// TestColumnsSkipAnotherRunsLine checks that a line whose run ID is not
// the one the index has at its place (a segment overwritten after it was
// indexed) is left out of the columns and reported as damage, as the
// store's full decoding of records does.
func TestColumnsSkipAnotherRunsLine(t *testing.T) {
	st := store.TestStore(t)
	if err := st.Init(store.Manifest{Experiment: "e", Version: "1", Identity: "x"}); err != nil {
		t.Fatal(err)
	}
	w, err := st.NewWriter(store.WriterOptions{Name: "w"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 3 {
		r := &Record{Format: store.RecordFormat, RunID: fmt.Sprintf("%016x", i+1), Status: store.StatusCompleted,
			Params: params.Point{"i": int64(i)}, Result: capture.Result{Metrics: capture.Metrics{"m": 1}}, Started: start, Ended: start}
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Collect(context.Background()); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(st.Dir(), "segments", "w.jsonl")
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Run 2's line now names run 9: valid JSON, another run's record;
	// silently, the segment's size and time as they were.
	b = bytes.Replace(b, []byte(`"0000000000000002"`), []byte(`"0000000000000009"`), 1)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, info.ModTime(), info.ModTime()); err != nil {
		t.Fatal(err)
	}
	res, err := LoadResults(st.Dir())
	var de *store.DamageError
	if !errors.As(err, &de) {
		t.Fatalf("LoadResults: error %v, want a *store.DamageError", err)
	}
	if got, want := runIDs(res), []string{"0000000000000001", "0000000000000003"}; !reflect.DeepEqual(got, want) {
		t.Errorf("runs %v, want %v", got, want)
	}
	if got, want := res.Mean("m"), 1.0; got != want {
		t.Errorf("Mean(m)=%v, want %v", got, want)
	}
}
