package launcher

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/metalab-hpc/metalab/store"
)

// pinBinary copies the running executable into the store's bin/ directory,
// named by its content hash, and returns the copy's path. Array tasks run
// that copy, so rebuilding the program while a sweep is queued cannot change
// what the workers run. An existing copy with the same hash is reused.
func pinBinary(storeDir string) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding this program's executable: %w", err)
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return "", fmt.Errorf("finding this program's executable: %w", err)
	}
	return pinFile(exe, store.BinDir(storeDir))
}

func pinFile(src, binDir string) (string, error) {
	f, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", src, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))[:16]
	dst := filepath.Join(binDir, safeName(filepath.Base(src))+"-"+sum)
	if fi, err := os.Stat(dst); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return dst, nil
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	err = store.WriteFileAtomic(dst, 0o755, func(w io.Writer) error {
		_, err := io.Copy(w, f)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("copying %s into the store: %w", src, err)
	}
	return dst, nil
}
