package expfile

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/metalab-hpc/metalab/slurm"
)

// schema says which keys a table takes. keys nil means free-form names
// (params, env vars, context entries); each, if set, is the schema of every
// entry of a free-form table.
type schema struct {
	keys map[string]*schema
	each *schema
}

var leaf = (*schema)(nil)

func fixed(keys map[string]*schema) *schema { return &schema{keys: keys} }

var free = &schema{}

var slurmSchema = func() *schema {
	keys := map[string]*schema{}
	t := reflect.TypeOf(slurm.Settings{})
	for i := 0; i < t.NumField(); i++ {
		if tag := t.Field(i).Tag.Get("toml"); tag != "" {
			keys[tag] = leaf
		}
	}
	return fixed(keys)
}()

var spaceEntrySchema = fixed(map[string]*schema{"dist": leaf, "low": leaf, "high": leaf, "values": leaf})

var rootSchema = fixed(map[string]*schema{
	"name": leaf, "version": leaf, "description": leaf,
	"command": leaf, "mode": leaf, "workdir": leaf, "cwd": leaf, "env": free,
	"timeout": leaf, "retries": leaf, "track_code": leaf,
	"max_artifact_size": leaf, "max_capture_line": leaf, "max_capture_size": leaf,
	"params": fixed(map[string]*schema{
		"grid": free,
		"random": fixed(map[string]*schema{
			"n_trials": leaf, "seed": leaf,
			"space": {each: spaceEntrySchema},
		}),
		"cases": free,
	}),
	"seeds":   fixed(map[string]*schema{"base": leaf, "replicates": leaf}),
	"context": free,
	"slurm":   slurmSchema,
	"store":   fixed(map[string]*schema{"postgres": leaf}),
})

// unknownKeys reports the first unknown key in file order, so that a typo
// is reported as a typo and not as the missing key it was meant to be.
func (l *loader) unknownKeys(raw map[string]any) error {
	var found []*Error
	var walk func(p path, v any, s *schema)
	walk = func(p path, v any, s *schema) {
		m, ok := v.(map[string]any)
		if s == nil || !ok {
			return
		}
		for k, child := range m {
			switch {
			case s.keys != nil:
				sub, known := s.keys[k]
				if !known {
					found = append(found, l.errAt(p.key(k), l.unknownHint(p, k, s), "unknown key %q%s", k, in(p)))
					continue
				}
				walk(p.key(k), child, sub)
			case s.each != nil:
				walk(p.key(k), child, s.each)
			}
		}
	}
	walk(nil, raw, rootSchema)
	if len(found) == 0 {
		return nil
	}
	sort.Slice(found, func(i, j int) bool {
		if found[i].Line != found[j].Line {
			return found[i].Line < found[j].Line
		}
		return found[i].Key < found[j].Key
	})
	return found[0]
}

func in(p path) string {
	if len(p) == 0 {
		return ""
	}
	return " in [" + p.String() + "]"
}

// unknownHint suggests the closest valid key, or the table a misplaced key
// belongs to: keys after a [table] header belong to that table, a classic
// TOML slip.
func (l *loader) unknownHint(p path, k string, s *schema) string {
	var valid []string
	for v := range s.keys {
		valid = append(valid, v)
	}
	hint := didYouMean(k, valid)
	if strings.HasPrefix(hint, "did you mean") {
		return hint
	}
	if len(p) > 0 {
		if _, top := rootSchema.keys[k]; top {
			return fmt.Sprintf("%q is a top-level key; keys below a [table] header belong to that table, so move it above the first header", k)
		}
	}
	homes := map[string]string{
		"base": "seeds", "replicates": "seeds", "n_trials": "params.random", "seed": "params.random",
		"grid": "params", "random": "params", "cases": "params", "space": "params.random",
	}
	if home, ok := homes[k]; ok && p.String() != home {
		return fmt.Sprintf("%q belongs in the [%s] table", k, home)
	}
	if _, ok := slurmSchema.keys[k]; ok && len(p) == 0 {
		return fmt.Sprintf("%q belongs in the [slurm] table", k)
	}
	return hint
}
