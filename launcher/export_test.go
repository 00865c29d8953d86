package launcher

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/store"
)

func TestCSVColumnsAndClashes(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	runs := []*Record{{
		RunID: "aaaaaaaaaaaaaaaa", Status: store.StatusCompleted, Replicate: 1, Seed: 17311043386426800777,
		Params:  params.Point{"lr": 0.1, "status": "x", "n": int64(3), "tags": []any{"a", "b"}, "code": "v2"},
		Result:  capture.Result{Metrics: capture.Metrics{"lr": 0.5, "loss": math.NaN(), "acc": 0.9}},
		Started: start, Ended: start.Add(1500 * time.Millisecond), Code: "0123456789ab",
	}, {
		RunID: "bbbbbbbbbbbbbbbb", Status: store.StatusFailed, Error: "boom\nsecond line",
		Params: params.Point{"lr": 0.2, "status": "y", "n": int64(4)},
	}}
	var buf bytes.Buffer
	if err := (&Results{runs: runs}).WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("the CSV does not parse: %v", err)
	}
	wantHeader := "run_id,status,replicate,seed,param_code,param_lr,n,param_status,tags,acc,loss,metric_lr,started,ended,duration_s,code,error"
	if got := strings.Join(rows[0], ","); got != wantHeader {
		t.Fatalf("header\n got %s\nwant %s", got, wantHeader)
	}
	wantRow := []string{"aaaaaaaaaaaaaaaa", "completed", "1", "17311043386426800777", "v2", "0.1", "3", "x", `["a","b"]`,
		"0.9", "", "0.5", "2026-01-02T03:04:05Z", "2026-01-02T03:04:06.5Z", "1.500000", "0123456789ab", ""}
	if got := strings.Join(rows[1], "|"); got != strings.Join(wantRow, "|") {
		t.Errorf("row 1\n got %s\nwant %s", got, strings.Join(wantRow, "|"))
	}
	if got, want := rows[2][len(rows[2])-1], "boom"; got != want {
		t.Errorf("error cell %q, want the first line %q", got, want)
	}
	if got, want := rows[2][9], ""; got != want {
		t.Errorf("missing metric cell %q, want empty (NaN in pandas)", got)
	}
}

func TestJSONLKeepsFullRecords(t *testing.T) {
	runs := []*Record{{RunID: "aaaaaaaaaaaaaaaa", Status: store.StatusCompleted, Params: params.Point{"s": `a"$(x)` + "\n<ü>"},
		Result: capture.Result{Metrics: capture.Metrics{"m": 1}, Data: map[string]json.RawMessage{"d": json.RawMessage(`[1,2]`)}}}}
	var buf bytes.Buffer
	if err := (&Results{runs: runs}).WriteJSONL(&buf); err != nil {
		t.Fatal(err)
	}
	var back store.Record
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Params.String("s") != runs[0].Params.String("s") || string(back.Data["d"]) != "[1,2]" || back.Metrics["m"] != 1 {
		t.Errorf("JSONL round trip lost data: %s", buf.Bytes())
	}
}
