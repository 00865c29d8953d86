package command

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/metalab-hpc/metalab/params"
)

// ParamEnv is the environment variable that carries param name:
// METALAB_PARAM_ and the name upper-cased, with every character other than
// A-Z, 0-9 and _ replaced by "_". Two names that map to the same variable
// cannot be params of one experiment; experiment file loaders check that.
func ParamEnv(name string) string { return "METALAB_PARAM_" + envSuffix(name) }

// ContextEnv is the environment variable that carries context entry name,
// named as [ParamEnv] names params.
func ContextEnv(name string) string { return "METALAB_CONTEXT_" + envSuffix(name) }

func envSuffix(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// EnvValue renders a param or context value for an environment variable: a
// string as it is, an integer in decimal, a float in the shortest form that
// parses back to it (with ".0" if it has no '.' or exponent, so that 1.0
// stays a float), and anything else (bool, null, list, map) as canonical
// JSON.
func EnvValue(v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	b, err := params.Canonical(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// environ builds the run's environment: metalab's own minus any METALAB_
// variable (a metalab run inside a run must not see its parent's), then
// Spec.Env, then the run's METALAB_ variables.
func (o *Op) environ(in runInput) ([]string, error) {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "METALAB_") {
			continue
		}
		if _, over := o.spec.Env[k]; over {
			continue
		}
		env = append(env, kv)
	}
	keys := make([]string, 0, len(o.spec.Env))
	for k := range o.spec.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+o.spec.Env[k])
	}

	add := func(k, v string) { env = append(env, k+"="+v) }
	paramsJSON, err := in.paramsJSON, error(nil)
	if paramsJSON == nil {
		paramsJSON, err = params.Canonical(in.params)
	}
	if err != nil {
		return nil, fmt.Errorf("params: %w", err)
	}
	add("METALAB_RUN_ID", in.runID)
	add("METALAB_PARAMS", string(paramsJSON))
	for _, name := range in.params.Keys() {
		v, err := EnvValue(in.params[name])
		if err != nil {
			return nil, fmt.Errorf("param %q: %w", name, err)
		}
		if strings.IndexByte(v, 0) >= 0 {
			return nil, fmt.Errorf("param %q contains a NUL byte, which an environment variable cannot carry", name)
		}
		add(ParamEnv(name), v)
	}
	add("METALAB_SEED", strconv.FormatUint(in.seeds.Seed(), 10))
	add("METALAB_NUMPY_SEED", strconv.FormatUint(uint64(in.seeds.NumpySeed("")), 10))
	add("METALAB_REPLICATE", strconv.Itoa(in.seeds.Replicate))
	add("METALAB_SEED_BASE", strconv.FormatInt(in.seeds.Base, 10))
	add("METALAB_CAPTURE", in.capture)
	add("METALAB_ARTIFACT_DIR", in.artDir)
	add("METALAB_SCRATCH", in.scratch)
	add("METALAB_STORE", in.storeDir)
	add(runTagEnv, in.tag)

	ctx := map[string]any(in.context)
	if ctx == nil {
		ctx = map[string]any{}
	}
	ctxJSON, err := params.Canonical(ctx)
	if err != nil {
		return nil, fmt.Errorf("context: %w", err)
	}
	add("METALAB_CONTEXT", string(ctxJSON))
	ckeys := make([]string, 0, len(ctx))
	for k := range ctx {
		ckeys = append(ckeys, k)
	}
	sort.Strings(ckeys)
	for _, k := range ckeys {
		v, err := EnvValue(ctx[k])
		if err != nil {
			return nil, fmt.Errorf("context %q: %w", k, err)
		}
		add(ContextEnv(k), v)
	}
	return env, nil
}
