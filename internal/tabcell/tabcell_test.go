package tabcell

import "testing"

func TestShorten(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"a longer message", 10, "a longe..."},
		{"line1\nline2", 20, `line1\nline2`},
		{"tab\there", 20, `tab\there`},
		{"héllo", 5, "h..."}, // the cut would split "é": it moves back to a rune boundary
		{"héllo wörld", 6, "hé..."},
		{"abcdef", 2, "..."},
	} {
		if got := Shorten(tt.in, tt.n); got != tt.want {
			t.Errorf("Shorten(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
