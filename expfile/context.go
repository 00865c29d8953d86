package expfile

import (
	"os"

	"github.com/metalab-hpc/metalab/command"
	"github.com/metalab-hpc/metalab/launcher"
)

// context reads [context]: values every run shares, and [context.files],
// files every run reads. A file must exist and be readable now; it enters
// the run IDs by its content (package launcher hashes it), not its path.
func (l *loader) context(raw map[string]any) (map[string]any, error) {
	p := path{"context"}
	ct, _, err := l.table(raw, p)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	var names []paramName
	for _, k := range l.keys(p, ct) {
		if k == "files" {
			continue
		}
		if out[k], err = l.value(p.key(k), ct[k]); err != nil {
			return nil, err
		}
		names = append(names, paramName{k, p.key(k)})
	}
	fp := p.key("files")
	ft, _, err := l.table(ct, fp)
	if err != nil {
		return nil, err
	}
	for _, k := range l.keys(fp, ft) {
		v := ft[k]
		kp := fp.key(k)
		s, ok := v.(string)
		if !ok {
			return nil, l.typeErr(kp, "a file path (a string)", v, "")
		}
		if _, dup := out[k]; dup {
			return nil, l.errAt(kp, "rename one of them", "context %q is both a value and a file", k)
		}
		abs := l.abs(s)
		fi, err := os.Stat(abs)
		switch {
		case err != nil:
			return nil, l.errAt(kp, "paths are relative to the experiment file's directory, "+l.dir, "context file %s: %s", s, reason(err))
		case !fi.Mode().IsRegular():
			return nil, l.errAt(kp, "", "context file %s is not a regular file", s)
		}
		if f, err := os.Open(abs); err != nil {
			return nil, l.errAt(kp, "", "context file %s: %s", s, reason(err))
		} else {
			f.Close()
		}
		out[k] = launcher.File(abs)
		names = append(names, paramName{k, kp})
	}
	if err := l.checkNames("context entry", names, command.ContextEnv); err != nil {
		return nil, err
	}
	return out, nil
}

// paramContextClash refuses a name that is both a param and a context
// entry: one is fixed for the sweep, the other varies, and an operation
// reading it could not tell which it got.
func (l *loader) paramContextClash(exp *launcher.Experiment) error {
	if exp.Params == nil || len(exp.Context) == 0 || exp.Params.Len() == 0 {
		return nil
	}
	for name := range exp.Params.At(0) {
		if _, ok := exp.Context[name]; ok {
			at := path{"context", name}
			if _, isFile := exp.Context[name].(launcher.File); isFile {
				at = path{"context", "files", name}
			}
			return l.errAt(at, "rename one of them: context holds what every run shares, params what varies",
				"%q is both a param and a context entry", name)
		}
	}
	return nil
}
