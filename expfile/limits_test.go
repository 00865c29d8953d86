package expfile

import (
	"testing"

	"github.com/metalab-hpc/metalab/capture"
)

func TestLoadLimits(t *testing.T) {
	const head = "name = \"x\"\ncommand = [\"sh\", \"-c\", \"true\"]\n"
	tests := []struct {
		content string
		want    capture.Limits
	}{
		{"", capture.Limits{}},
		{"max_artifact_size = \"1GiB\"\nmax_capture_line = \"1 MiB\"\nmax_capture_size = 5000\n",
			capture.Limits{MaxArtifactSize: 1 << 30, MaxLine: 1 << 20, MaxCaptureSize: 5000}},
		{"max_artifact_size = \"2.5GB\"\nmax_capture_line = \"64k\"\n",
			capture.Limits{MaxArtifactSize: 2.5e9, MaxLine: 64 << 10}},
	}
	for _, tt := range tests {
		file := writeFile(t, t.TempDir(), "exp.toml", head+tt.content, 0o644)
		exp, err := Load(file)
		if err != nil {
			t.Fatalf("Load(%q): %v", tt.content, err)
		}
		if got := exp.Limits; got != tt.want {
			t.Errorf("Load(%q).Limits=%+v, want %+v", tt.content, got, tt.want)
		}
	}
}
