package capture

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseLine parses arbitrary capture lines and applies them to a run's
// recorder: no panic, and nothing recorded carries a name, or an artifact a
// path, that leaves the run's directory in the store.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		`{"metric": "loss", "value": 0.5, "step": 3}`,
		`{"metric": "x", "value": NaN}`,
		`{"data": "cfg", "value": {"a": [1, 2]}}`,
		`{"artifact": "model.bin", "path": "out/model.bin", "format": "bin"}`,
		`{"artifact": "../../etc/passwd", "path": "/etc/passwd"}`,
		`{"artifact": "x", "path": "in.txt", "format": "../y"}`,
		`{"log": "hello"}`,
		`{"metric": "a\u0000b", "value": 1}`,
		`not json`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		ParseLine(line) // must not panic
		store := t.TempDir()
		artDir := filepath.Join(store, "artifacts", "0123456789abcdef")
		r := TestRecorder(t, store, "artifacts/0123456789abcdef")
		if err := r.ApplyLines(bytes.NewReader(line), store); err != nil {
			t.Fatalf("ApplyLines: %v", err)
		}
		res := r.Result()
		for name := range res.Metrics {
			if err := ValidateName("metric", name); err != nil {
				t.Fatalf("recorded metric %q: %v", name, err)
			}
		}
		for name := range res.Data {
			if err := ValidateName("data", name); err != nil {
				t.Fatalf("recorded data %q: %v", name, err)
			}
		}
		for _, a := range res.Artifacts {
			p := filepath.Join(store, filepath.FromSlash(a.Path))
			if err := ValidateName("artifact", a.Name); err != nil || !strings.HasPrefix(p, artDir+string(filepath.Separator)) {
				t.Fatalf("recorded artifact %q at %q (outside %s? %v)", a.Name, a.Path, artDir, err)
			}
		}
	})
}
