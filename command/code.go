package command

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/metalab-hpc/metalab/launcher"
	"github.com/metalab-hpc/metalab/store"
)

// maxProgramFile is the largest argument file that counts as code: a
// script is small, and an argument that names a larger file (a data set)
// would be read whole on every plan.
const maxProgramFile = 16 << 20

var _ launcher.Coder = (*Op)(nil)

// Code fingerprints what the operation runs, for a record to say which
// code produced it (see [launcher.Coder]): the command line as written
// (another flag is other code), the content of the program
// when the command names it by a path, else the path the program's name
// resolves to (python3 as /usr/bin/python3.11: another interpreter is
// other code), and the content of every argument that names a regular file
// of at most 16 MiB, relative to the working directory (the script). Files
// enter by content, not path or mtime, under the name the command gives
// them, so that a moved experiment directory keeps its fingerprint.
func (o *Op) Code() (map[string]string, error) {
	argv, err := json.Marshal(o.spec.Argv)
	if err != nil {
		return nil, err
	}
	parts := map[string]string{"command": string(argv)}
	name := o.spec.Argv[0]
	if strings.Contains(name, "/") {
		sum, err := hashFile(o.path)
		if err != nil {
			return nil, fmt.Errorf("command %q: %w", name, err)
		}
		parts[store.CodePart("file", name)] = sum
	} else {
		resolved, err := filepath.EvalSymlinks(o.path)
		if err != nil {
			resolved = o.path
		}
		parts[store.CodePart("program", name)] = resolved
	}
	for _, arg := range o.spec.Argv[1:] {
		p := arg
		if !filepath.IsAbs(p) {
			p = filepath.Join(o.dir, p)
		}
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() || fi.Size() > maxProgramFile {
			continue
		}
		sum, err := hashFile(p)
		if err != nil {
			return nil, fmt.Errorf("command argument %q: %w", arg, err)
		}
		parts[store.CodePart("file", arg)] = sum
	}
	return parts, nil
}

// Code is as [Op.Code], for the persistent mode.
func (p *Persistent) Code() (map[string]string, error) { return p.op.Code() }

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(f, maxProgramFile+1)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
