package launcher

import (
	"bytes"
	"strings"
	"testing"
)

func TestBuildInfoReport(t *testing.T) {
	tests := []struct {
		name string
		bi   buildInfo
		want []string
	}{
		{"a static release build", buildInfo{Program: "metalab", Version: "v1.2.0", Commit: "abc123", CommitTime: "2026-01-01T00:00:00Z",
			GoVersion: "go1.26.8", SQLite: "3.50.4", Static: true, Tags: "netgo,osusergo"},
			[]string{"metalab v1.2.0\n", "commit   abc123 (2026-01-01T00:00:00Z)\n", "go       go1.26.8\n", "sqlite   3.50.4\n", "linking  static\n", "tags     netgo,osusergo\n"}},
		{"a program of Main, from a dirty checkout", buildInfo{Program: "sweep", Version: "(devel)", Metalab: "v1.2.0", Commit: "abc", Modified: true, GoVersion: "go1.26.8", SQLite: "3.50.4"},
			[]string{"sweep (devel)\n", "metalab  v1.2.0\n", "commit   abc, with uncommitted changes\n", "linking  dynamic ("}},
		{"no VCS information", buildInfo{Program: "metalab", Version: "(devel)"}, []string{"commit   unknown (not recorded"}},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if _, err := tt.bi.WriteTo(&b); err != nil {
			t.Fatal(err)
		}
		for _, w := range tt.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: report lacks %q:\n%s", tt.name, w, b.String())
			}
		}
	}
}

// TestReadBuildInfo: the test binary is linked like the metalab binary.
func TestReadBuildInfo(t *testing.T) {
	bi := readBuildInfo("metalab")
	if !strings.HasPrefix(bi.SQLite, "3.") {
		t.Errorf("SQLite version %q, want 3.x", bi.SQLite)
	}
	if !strings.HasPrefix(bi.GoVersion, "go") {
		t.Errorf("Go version %q", bi.GoVersion)
	}
}
