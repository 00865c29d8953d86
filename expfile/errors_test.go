package expfile

import "testing"

func TestDidYouMean(t *testing.T) {
	valid := []string{"name", "version", "command", "timeout", "retries"}
	tests := []struct{ in, want string }{
		{"comand", `did you mean "command"?`},
		{"Version", `did you mean "version"?`},
		{"retry", `did you mean "retries"?`},
		{"zzzzzz", "valid keys here: command, name, retries, timeout, version"},
	}
	for _, tt := range tests {
		if got := didYouMean(tt.in, valid); got != tt.want {
			t.Errorf("didYouMean(%q)=%q, want %q", tt.in, got, tt.want)
		}
	}
}
