package expfile

import "testing"

func TestKeyLines(t *testing.T) {
	src := `# comment
name = "x"   # trailing
"quoted key" = 1
a.b.c = 2
s = """
multi
line"""
arr = [
  1,       # one
  { k = 3 },
]
[t]
x = { y = 1, z = [4, 5] }
[[aot]]
v = 1
[[aot]]
v = 2
[aot.sub]
w = 3
`
	l := keyLines(src)
	tests := []struct {
		p    path
		line int
	}{
		{path{"name"}, 2},
		{path{"quoted key"}, 3},
		{path{"a", "b", "c"}, 4},
		{path{"s"}, 5},
		{path{"arr"}, 8},
		{path{"arr", "[0]"}, 9},
		{path{"arr", "[1]", "k"}, 10},
		{path{"t"}, 12},
		{path{"t", "x", "z", "[1]"}, 13},
		{path{"aot", "[0]", "v"}, 15},
		{path{"aot", "[1]", "v"}, 17},
		{path{"aot", "[1]", "sub", "w"}, 19},
		{path{"t", "nothere"}, 12}, // falls back to the table
		{path{"nothere"}, 0},
	}
	for _, tt := range tests {
		if got := l.of(tt.p); got != tt.line {
			t.Errorf("line of %s = %d, want %d", tt.p, got, tt.line)
		}
	}
}
