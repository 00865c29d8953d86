package store

import (
	"os"
	"testing"
)

// TestTestStoreCleanup checks that TestStore's store is closed, and its
// directory removed, when the test that made it ends.
func TestTestStoreCleanup(t *testing.T) {
	var dir string
	var s *Store
	t.Run("inner", func(t *testing.T) {
		s = TestStore(t)
		dir = s.Dir()
		w, err := s.NewWriter(WriterOptions{Name: "w", Node: "n"})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("store directory %s still exists after the test: %v", dir, err)
	}
	if _, err := s.NewWriter(WriterOptions{}); err == nil {
		t.Errorf("NewWriter on the cleaned-up store succeeded")
	}
}
