// Package tabcell fits text into the cells of metalab's tables (results,
// status, the report's runs table).
package tabcell

import (
	"strings"
	"unicode/utf8"
)

var escapes = strings.NewReplacer("\n", `\n`, "\t", `\t`)

// Shorten makes s fit a cell of n bytes: newlines and tabs written as \n
// and \t, and the end cut off with "..." at a rune boundary.
func Shorten(s string, n int) string {
	s = escapes.Replace(s)
	if len(s) > n {
		cut := max(n-3, 0)
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}
