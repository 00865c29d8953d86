package expfile

import (
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"strings"

	"github.com/metalab-hpc/metalab/slurm"
)

// slurm reads [slurm] into [slurm.Settings] by the fields' toml tags, so
// that a new setting needs no code here; the template path is resolved
// against the file's directory and must exist.
func (l *loader) slurm(raw map[string]any) (slurm.Settings, error) {
	var s slurm.Settings
	p := path{"slurm"}
	t, _, err := l.table(raw, p)
	if err != nil || t == nil {
		return s, err
	}
	rv := reflect.ValueOf(&s).Elem()
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		tag := rt.Field(i).Tag.Get("toml")
		v, ok := t[tag]
		if tag == "" || !ok {
			continue
		}
		kp := p.key(tag)
		f := rv.Field(i)
		switch f.Kind() {
		case reflect.String:
			x, ok := v.(string)
			if !ok {
				advice := ""
				if n, num := v.(int64); num {
					advice = fmt.Sprintf("quote it: %s = \"%d\"", tag, n)
				}
				return s, l.typeErr(kp, "a string", v, advice)
			}
			f.SetString(x)
		case reflect.Int:
			x, ok := v.(int64)
			if !ok {
				return s, l.typeErr(kp, "an integer", v, "")
			}
			if x < 0 || x > math.MaxInt32 {
				return s, l.errAt(kp, "", "%s is %d; want a positive integer", kp, x)
			}
			f.SetInt(x)
		case reflect.Bool:
			x, ok := v.(bool)
			if !ok {
				return s, l.typeErr(kp, "true or false", v, "")
			}
			f.SetBool(x)
		case reflect.Pointer: // *bool: unset differs from false
			x, ok := v.(bool)
			if !ok || f.Type().Elem().Kind() != reflect.Bool {
				return s, l.typeErr(kp, "true or false", v, "")
			}
			f.Set(reflect.ValueOf(&x))
		case reflect.Slice:
			a, ok := array(v)
			if !ok {
				return s, l.typeErr(kp, "an array of strings", v, fmt.Sprintf("%s = [%s]", tag, tomlish(v)))
			}
			strs := make([]string, len(a))
			for j, e := range a {
				if strs[j], ok = e.(string); !ok {
					return s, l.typeErr(kp.index(j), "a string", e, "")
				}
			}
			f.Set(reflect.ValueOf(strs))
		default: // a field added to slurm.Settings without a case here
			panic(fmt.Sprintf("expfile: slurm.Settings.%s has kind %s, which [slurm] cannot read", rt.Field(i).Name, f.Kind()))
		}
	}
	if s.Template != "" {
		s.Template = l.abs(s.Template)
		if _, err := os.Stat(s.Template); err != nil {
			return s, l.errAt(p.key("template"), "the template path is relative to the experiment file", "slurm.template: %s", reason(err))
		}
	}
	if err := s.Validate(); err != nil {
		at := p
		var se *slurm.SettingsError
		if errors.As(err, &se) {
			key, idx, _ := strings.Cut(se.Key, "[")
			at = p.key(key)
			if idx != "" {
				at = at.key("[" + idx)
			}
		}
		e := l.errAt(at, "", "%v", err)
		e.Err = err
		return s, e
	}
	return s, nil
}
