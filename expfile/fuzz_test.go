package expfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad loads arbitrary experiment files: every problem is an *Error
// naming the file, never a panic, and what loads is a valid experiment.
func FuzzLoad(f *testing.F) {
	for _, file := range []string{"testdata/typo.toml", "../examples/pi/pi.toml", "../examples/shell/sweep.toml"} {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("name = \"x\"\nversion = \"1\"\ncommand = [\"sh\", \"-c\", \"true\"]\n[params.grid]\na = [1, 2]\n[seeds]\nbase = 1\nreplicates = 2\n"))
	f.Add([]byte("name = \"x\"\nversion = \"1\"\ncommand = \"sh -c true\"\ntimeout = \"1m\"\n[[params.cases]]\na = \"it's $(x)\"\n"))
	f.Add([]byte("name = \"x\"\nversion = \"1\"\ncommand = [\"sh\"]\n[params.random]\ntrials = 3\nseed = 1\n[params.random.space]\nlr = {dist = \"loguniform\", low = 1e-4, high = 1e-1}\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join(dir, "exp.toml")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		exp, err := Load(file)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Load error %T %v, want an *Error", err, err)
			}
			return
		}
		if err := exp.Validate(); err != nil {
			t.Fatalf("Load returned an invalid experiment: %v", err)
		}
	})
}
