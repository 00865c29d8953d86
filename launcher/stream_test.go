package launcher

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/store"
)

// streamStore writes runs of several shapes to a store: clashing names,
// names with escapes, missing and null metrics, lists, failed runs.
func streamStore(t *testing.T) *store.Store {
	st := store.TestStore(t)
	if err := st.Init(store.Manifest{Experiment: "e", Version: "1", Identity: "x", Spec: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	w, err := st.NewWriter(store.WriterOptions{Name: "w"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	recs := []*Record{{
		RunID: "aaaaaaaaaaaaaaaa", Status: store.StatusCompleted, Replicate: 1, Seed: 17311043386426800777,
		Params:  params.Point{"lr": 0.1, "status": "x", "n": int64(3), "tags": []any{"a", "b"}, "q\"\\ü": "v"},
		Result:  capture.Result{Metrics: capture.Metrics{"lr": 0.5, "loss": math.NaN(), "a\"cc": 0.9}},
		Started: start, Ended: start.Add(1500 * time.Millisecond),
	}, {
		RunID: "bbbbbbbbbbbbbbbb", Status: store.StatusFailed, Error: "boom\nsecond line",
		Params: params.Point{"lr": 0.2, "status": "y", "n": int64(4), "m": map[string]any{"k": []any{int64(1), nil}}},
	}, {
		RunID: "cccccccccccccccc", Status: store.StatusCompleted, Params: params.Point{"lr": 0.3},
		Result: capture.Result{Metrics: capture.Metrics{"only_here": 1}, Data: map[string]json.RawMessage{"d": json.RawMessage(`{"x":[1,"}"]}`)}},
	}}
	for _, r := range recs {
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
	return st
}

// TestStreamedExportsMatchResults checks that the streamed CSV and JSONL
// exports hold what Results writes, header and lines, up to the order of
// the runs.
func TestStreamedExportsMatchResults(t *testing.T) {
	st := streamStore(t)
	for _, statuses := range [][]store.Status{nil, {store.StatusFailed}, {store.StatusCompleted}} {
		res, err := LoadResults(st.Dir())
		if err != nil {
			t.Fatal(err)
		}
		if len(statuses) > 0 {
			res = res.WithStatus(statuses...)
		}
		for _, f := range []struct {
			name   string
			write  func(*Results, io.Writer) error
			stream func(*store.Store, []store.Status, experimentFilter, io.Writer) error
		}{
			{"csv", (*Results).WriteCSV, streamCSV},
			{"jsonl", (*Results).WriteJSONL, streamJSONL},
		} {
			var want, got bytes.Buffer
			if err := f.write(res, &want); err != nil {
				t.Fatal(err)
			}
			if err := f.stream(st, statuses, experimentFilter{}, &got); err != nil {
				t.Fatal(err)
			}
			if g, w := sortedLines(got.String(), f.name == "csv"), sortedLines(want.String(), f.name == "csv"); g != w {
				t.Errorf("%s %v: streamed\n%s\nwant\n%s", f.name, statuses, g, w)
			}
		}
	}
}

// sortedLines sorts the lines of s, all but a header.
func sortedLines(s string, header bool) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	body := lines
	if header {
		body = lines[1:]
	}
	slices.Sort(body)
	return strings.Join(lines, "\n")
}
