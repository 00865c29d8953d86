// Package suggest measures how far a word someone typed is from the words
// that were valid there, for the "did you mean" of metalab's errors (an
// unknown command, key, column, experiment or artifact).
package suggest

// Distance is the optimal string alignment distance between a and b, by
// bytes: Levenshtein's insertions, deletions and substitutions, plus swaps
// of two neighbours ("rnu" is one edit from "run", "gird" from "grid").
func Distance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
