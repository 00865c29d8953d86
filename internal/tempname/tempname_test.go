package tempname

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	// A process that has exited: its PID is free (until reused).
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid
	mine, err := os.MkdirTemp(dir, Pattern("metalab-run.", "abc"))
	if err != nil {
		t.Fatal(err)
	}
	deadName := strings.Replace(filepath.Base(mine), "."+strconv.Itoa(os.Getpid())+".", "."+strconv.Itoa(dead)+".", 1)
	for _, name := range []string{deadName, "metalab-run.otherhost.1.abc-1", "metalab-store-x", "unrelated"} {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	n, err := RemoveStale(dir, "metalab-run.")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := n, 1; got != want {
		t.Errorf("RemoveStale()=%d, want %d", got, want)
	}
	entries, _ := os.ReadDir(dir)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	want := []string{filepath.Base(mine), "metalab-run.otherhost.1.abc-1", "metalab-store-x", "unrelated"}
	sort.Strings(want)
	if got, want := strings.Join(left, " "), strings.Join(want, " "); got != want {
		t.Errorf("left %s, want %s", got, want)
	}
}
