package launcher

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPinFileByContent(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "prog")
	os.WriteFile(src, []byte("v1"), 0o755)
	bin := filepath.Join(dir, "store", "bin")
	p1, err := pinFile(src, bin)
	if err != nil {
		t.Fatal(err)
	}
	again, err := pinFile(src, bin)
	if err != nil || again != p1 {
		t.Fatalf("pinning the same content again gave %s, %v; want %s", again, err, p1)
	}
	os.WriteFile(src, []byte("v2"), 0o755) // the program is rebuilt mid-sweep
	p2, err := pinFile(src, bin)
	if err != nil {
		t.Fatal(err)
	}
	if p2 == p1 {
		t.Fatal("a rebuilt program got the pinned path of the old one")
	}
	if b, _ := os.ReadFile(p1); string(b) != "v1" {
		t.Fatalf("the first pinned copy changed to %q", b)
	}
	if fi, _ := os.Stat(p2); fi.Mode().Perm()&0o111 == 0 {
		t.Fatalf("pinned copy is not executable: %v", fi.Mode())
	}
}
