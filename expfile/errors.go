package expfile

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/metalab-hpc/metalab/internal/suggest"
)

// Error is a problem with an experiment file, located as precisely as the
// loader can: FILE:LINE: message. Advice, when not empty, says what to do (see [Error.Hint]).
type Error struct {
	File string
	Line int // 0 when unknown
	Col  int // 0 when unknown
	// Key is the dotted key the problem is about, such as "params.grid.n"
	// ("" for the file as a whole).
	Key    string
	Msg    string
	Advice string
	Err    error // the underlying error, if any
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc += ":" + strconv.Itoa(e.Line)
		if e.Col > 0 {
			loc += ":" + strconv.Itoa(e.Col)
		}
	}
	return loc + ": " + e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Hint is what the user can do about the error ("" if nothing useful).
func (e *Error) Hint() string { return e.Advice }

// didYouMean suggests the valid key closest to got, or lists the valid keys
// when none is close.
func didYouMean(got string, valid []string) string {
	best, bestD := "", 1<<30
	for _, v := range valid {
		d := suggest.Distance(strings.ToLower(got), strings.ToLower(v))
		if d < bestD || (d == bestD && v < best) {
			best, bestD = v, d
		}
	}
	limit := max(2, len(got)/3)
	if best != "" && bestD <= limit {
		return fmt.Sprintf("did you mean %q?", best)
	}
	// A word cut short or inflected: "retry" for "retries".
	best, bestP := "", 0
	for _, v := range valid {
		if p := commonPrefix(strings.ToLower(got), strings.ToLower(v)); p > bestP {
			best, bestP = v, p
		}
	}
	if bestP >= 4 && 2*bestP >= len(got) {
		return fmt.Sprintf("did you mean %q?", best)
	}
	sorted := append([]string(nil), valid...)
	sort.Strings(sorted)
	return "valid keys here: " + strings.Join(sorted, ", ")
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
