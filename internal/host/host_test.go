package host

import "testing"

func TestClean(t *testing.T) {
	tests := []struct{ in, want string }{
		{"n1", "n1"},
		{"login01.cluster.example.org", "login01"},
		{"", "localhost"},
		{".hidden", "localhost"},
		{"a/b c", "a_b_c"},
		{"ünï", "__n__"}, // per byte of the UTF-8
	}
	for _, tt := range tests {
		if got := clean(tt.in); got != tt.want {
			t.Errorf("clean(%q)=%q, want %q", tt.in, got, tt.want)
		}
	}
	if Short() == "" {
		t.Error("Short() is empty")
	}
}
