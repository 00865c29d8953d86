package safefs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// victim plants a file outside the root that no operation may reach.
func victim(t *testing.T) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "victim")
	want := []byte("do not touch\n")
	if err := os.WriteFile(p, want, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, want
}

func TestOpenRegularInRefusesLinksAndSpecialFiles(t *testing.T) {
	vic, content := victim(t)
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(filepath.Join(dir, "logs"), 0o755))
	must(os.Symlink(vic, filepath.Join(dir, "logs", "out-link")))
	must(os.Symlink(filepath.Dir(vic), filepath.Join(dir, "linkdir")))
	must(os.WriteFile(filepath.Join(dir, "logs", "inside"), nil, 0o644))
	must(os.Symlink("inside", filepath.Join(dir, "logs", "in-link")))
	must(syscall.Mkfifo(filepath.Join(dir, "logs", "fifo"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "logs", "ok"), []byte("x"), 0o644))

	root, err := os.OpenRoot(dir)
	must(err)
	defer root.Close()
	tests := []struct {
		name string
		want string // substring of the error; "" means success
	}{
		{"logs/ok", ""},
		{"logs/new", ""},
		{"logs/out-link", "is a symlink, not a regular file"},
		{"logs/in-link", "is a symlink, not a regular file"},
		{"logs/fifo", "is a FIFO, not a regular file"},
		{"linkdir/victim", "is a symlink, not a directory"},
		{"logs", "is a directory, not a regular file"},
		{"../victim", "leaves its directory"},
	}
	for _, tt := range tests {
		done := make(chan struct{})
		var f *os.File
		var err error
		go func() {
			defer close(done)
			f, _, err = OpenRegularIn(root, tt.name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, FileCreate)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("OpenRegularIn(%q) blocked", tt.name)
		}
		if tt.want == "" {
			if err != nil {
				t.Errorf("OpenRegularIn(%q) = %v, want success", tt.name, err)
				continue
			}
			if _, err := f.WriteString("appended"); err != nil {
				t.Errorf("write %s: %v", tt.name, err)
			}
			f.Close()
			continue
		}
		if err == nil {
			f.Close()
			t.Errorf("OpenRegularIn(%q) succeeded, want %q", tt.name, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("OpenRegularIn(%q) = %v, want %q", tt.name, err, tt.want)
		}
	}
	if got, _ := os.ReadFile(vic); string(got) != string(content) {
		t.Fatalf("victim changed: %q", got)
	}
}

func TestOpenRegularRefusesDevicesAndFIFOs(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/dev/zero", fifo, dir} {
		f, _, err := OpenRegular(p)
		var nr *NotRegularError
		if !errors.As(err, &nr) {
			if f != nil {
				f.Close()
			}
			t.Errorf("OpenRegular(%s) = %v, want a NotRegularError", p, err)
		}
	}
	reg := filepath.Join(dir, "reg")
	os.WriteFile(reg, []byte("abc"), 0o644)
	link := filepath.Join(dir, "link")
	os.Symlink(reg, link)
	f, info, err := OpenRegular(link)
	if err != nil {
		t.Fatalf("OpenRegular(link to regular) = %v", err)
	}
	defer f.Close()
	if got, want := info.Size(), int64(3); got != want {
		t.Fatalf("size = %d, want %d", got, want)
	}
}

func TestModeNeverWorldWritable(t *testing.T) {
	if got := Mode(0o666); got&0o002 != 0 {
		t.Fatalf("Mode(0666) = %v, world-writable", got)
	}
	if got, want := Mode(0o664)&^Umask(), Mode(0o664); got != want {
		t.Fatalf("Mode ignores the umask: %v vs %v", got, want)
	}
}
