package store

import "testing"

// TestStore returns a store in a new temporary directory, closed when the
// test ends. It is for tests of this and other packages.
func TestStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("closing test store: %v", err)
		}
	})
	return s
}
