package command

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

// TestAppendRequest: the hand-written request line decodes as json.Marshal's
// does, also for paths that need escaping or are not UTF-8.
func TestAppendRequest(t *testing.T) {
	for _, r := range []request{
		{RunID: "0123456789abcdef", Params: json.RawMessage(`{"lr":0.1,"s":"a\nb"}`), Seed: math.MaxUint64, NumpySeed: math.MaxUint32,
			Replicate: 3, SeedBase: -7, ArtifactDir: "/tmp/x/artifacts", Scratch: "/tmp/x/scratch"},
		{RunID: "r", Params: json.RawMessage(`{}`), ArtifactDir: "/tmp/<a> & \"b\"\\\u2028/artifacts", Scratch: "/tmp/\xff\x00/scratch"},
	} {
		got, err := appendRequest(nil, r)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got[len(got)-1] != '\n' {
			t.Fatalf("appendRequest()=%q, want a line", got)
		}
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("appendRequest()=%s: %v", got, err)
		}
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("appendRequest() decodes to %v, want %v", g, w)
		}
	}
}
