package command

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/metalab-hpc/metalab/store"
)

// TestCode: a command's code is its command line, the program (by content
// when named by a path, else by the path it resolves to) and the regular
// files its arguments name, by content, relative to its working directory.
func TestCode(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("train.py", "print(1)\n", 0o644)
	write("run.sh", "#!/bin/sh\n", 0o755)
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	sh, err := lookPath("sh", dir, os.Getenv("PATH"))
	if err != nil {
		t.Fatal(err)
	}
	shResolved, _ := filepath.EvalSymlinks(sh)
	sum := func(name string) string {
		s, err := hashFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name string
		argv []string
		want map[string]string
	}{
		{"an interpreter and a script", []string{"sh", "train.py", "--fast", "data", "missing.py"}, map[string]string{
			"command": `["sh","train.py","--fast","data","missing.py"]`, "program sh": shResolved, "file train.py": sum("train.py")}},
		{"a program by its path", []string{"./run.sh", filepath.Join(dir, "train.py")}, map[string]string{
			"command": `["./run.sh","` + filepath.Join(dir, "train.py") + `"]`, "file ./run.sh": sum("run.sh"), "file " + filepath.Join(dir, "train.py"): sum("train.py")}},
	}
	for _, tt := range tests {
		op, err := New(Spec{Argv: tt.argv, Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		got, err := op.Code()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Code()=%v, want %v", tt.name, got, tt.want)
		}
	}

	// An edit of the script is other code; a touch is not.
	op, err := New(Spec{Argv: []string{"sh", "train.py"}, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	fingerprint := func() string {
		parts, err := op.Code()
		if err != nil {
			t.Fatal(err)
		}
		return store.NewCode(parts).Fingerprint
	}
	before := fingerprint()
	write("train.py", "print(1)\n", 0o644)
	if got := fingerprint(); got != before {
		t.Errorf("rewriting the same content changed the fingerprint: %s, was %s", got, before)
	}
	write("train.py", "print(2)\n", 0o644)
	if got := fingerprint(); got == before {
		t.Errorf("editing the script kept the fingerprint %s", got)
	}
}
