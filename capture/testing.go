package capture

import (
	"os"
	"testing"
)

// TestRecorder returns a recorder whose artifacts go to dir (a slash path
// such as "artifacts/r1") inside storeDir, for tests of this and other
// packages.
func TestRecorder(t testing.TB, storeDir, dir string) *Recorder {
	t.Helper()
	root, err := os.OpenRoot(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	r := NewRecorder(Config{Root: root, Dir: dir})
	t.Cleanup(r.Close)
	return r
}
