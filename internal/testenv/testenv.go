// Package testenv says whether metalab's tests may skip when something
// they need from the machine is missing (Chromium, pandas, PostgreSQL, a
// SLURM cluster), or must fail: they must under hack/test.sh, which
// installs all of it, and so in CI (.ci/run runs hack/test.sh). One switch
// serves every such test, so that none goes quietly missing there.
package testenv

import (
	"os"
	"testing"
)

// Strict reports whether what the tests need must be there: $METALAB_CI or
// $CI is set to something other than "", "0" or "false". hack/test.sh sets
// METALAB_CI=1.
func Strict() bool {
	for _, v := range []string{os.Getenv("METALAB_CI"), os.Getenv("CI")} {
		if v != "" && v != "0" && v != "false" {
			return true
		}
	}
	return false
}

// Need skips t, saying what is missing and how to get it, or fails it when
// Strict.
func Need(t testing.TB, what, hint string) {
	t.Helper()
	if Strict() {
		t.Fatalf("%s, which hack/test.sh and CI must have: %s", what, hint)
	}
	t.Skipf("skipped: %s (%s)", what, hint)
}
