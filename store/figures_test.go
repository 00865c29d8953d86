package store

import (
	"fmt"
	"testing"
)

// figures prints a test's line of figures to stdout, where `go test -v`
// (hack/test.sh's reliability phase) shows it even when the test passes;
// docs/reliability.md collects them.
func figures(t *testing.T, format string, args ...any) {
	t.Helper()
	fmt.Printf("FIGURES %s: %s\n", t.Name(), fmt.Sprintf(format, args...))
}
