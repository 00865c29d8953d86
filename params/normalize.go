package params

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// maxDepth bounds the nesting of lists and maps, so that a map containing
// itself is an error rather than a stack overflow.
const maxDepth = 1000

// Normalize converts a param value to the form points hold and the canonical
// encoding writes:
//
//   - every integer kind becomes int64 (a uint64 above MaxInt64 is an error);
//   - float64 stays float64 and float32 becomes the float64 nearest its
//     shortest decimal form, so float32(0.1) is 0.1, not 0.10000000149011612;
//     NaN and ±Inf are errors (JSON cannot carry them and they never compare
//     equal, so they cannot identify a run); -0.0 becomes 0.0, because the two
//     compare equal and a sweep should not tell them apart;
//   - a [json.Number] becomes int64 if it is an integer literal (no '.', 'e'
//     or 'E'; one outside int64 is an error), else float64;
//   - string and bool stay, byte for byte; nil stays nil;
//   - any slice or array becomes []any of normalised elements (a nil slice
//     becomes the empty list, and []byte is a list of ints, not a string);
//   - a map with string keys becomes map[string]any (nil becomes empty).
//
// Named types convert by their kind, so a `type Method string` is a string.
// Anything else (structs, pointers, funcs, channels, maps with non-string
// keys) is an error naming the Go type and where in the value it sits.
//
// The result never shares a list or map with v, so the caller may mutate
// either afterwards.
func Normalize(v any) (any, error) {
	return normalize(v, 0)
}

func normalize(v any, depth int) (any, error) {
	switch x := v.(type) {
	case nil, string, bool, int64:
		return v, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, errNotFinite()
		}
		if x == 0 && math.Signbit(x) {
			return float64(0), nil
		}
		return v, nil
	case int:
		return int64(x), nil
	case float32:
		return normalizeFloat32(x)
	case json.Number:
		return parseNumber(string(x))
	case []any:
		if depth >= maxDepth {
			return nil, errTooDeep()
		}
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, atIndex(err, i)
			}
			out[i] = n
		}
		return out, nil
	case map[string]any:
		return normalizeMap(x, depth)
	case Point:
		return normalizeMap(x, depth)
	}
	return normalizeReflect(reflect.ValueOf(v), depth)
}

func normalizeMap(m map[string]any, depth int) (any, error) {
	if depth >= maxDepth {
		return nil, errTooDeep()
	}
	out := make(map[string]any, len(m))
	for k, e := range m {
		n, err := normalize(e, depth+1)
		if err != nil {
			return nil, atKey(err, k)
		}
		out[k] = n
	}
	return out, nil
}

// normalizeReflect handles the kinds the type switch in normalize does not
// name. It is the slow path: hand-built points and normalised values never
// reach it.
func normalizeReflect(rv reflect.Value, depth int) (any, error) {
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		if u > math.MaxInt64 {
			return nil, &valueError{msg: fmt.Sprintf("integer %d overflows int64", u)}
		}
		return int64(u), nil
	case reflect.Float32:
		return normalizeFloat32(float32(rv.Float()))
	case reflect.Float64:
		return normalize(rv.Float(), depth)
	case reflect.String:
		return rv.String(), nil
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.Slice, reflect.Array:
		if depth >= maxDepth {
			return nil, errTooDeep()
		}
		out := make([]any, rv.Len())
		for i := range out {
			n, err := normalize(rv.Index(i).Interface(), depth+1)
			if err != nil {
				return nil, atIndex(err, i)
			}
			out[i] = n
		}
		return out, nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return nil, &valueError{msg: fmt.Sprintf("unsupported type %s: map keys must be strings", rv.Type())}
		}
		if depth >= maxDepth {
			return nil, errTooDeep()
		}
		out := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			k := it.Key().String()
			n, err := normalize(it.Value().Interface(), depth+1)
			if err != nil {
				return nil, atKey(err, k)
			}
			out[k] = n
		}
		return out, nil
	}
	return nil, &valueError{msg: fmt.Sprintf("unsupported type %s: want a number, string, bool, nil, slice or string-keyed map", rv.Type())}
}

// normalizeFloat32 goes through the shortest decimal form because that is
// what the user wrote: float32(0.1) means 0.1.
func normalizeFloat32(f float32) (any, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return nil, errNotFinite()
	}
	if f == 0 {
		return float64(0), nil
	}
	var buf [32]byte
	s := strconv.AppendFloat(buf[:0], float64(f), 'g', -1, 32)
	g, err := strconv.ParseFloat(string(s), 64)
	if err != nil {
		panic("params: float32 round trip: " + err.Error()) // cannot happen
	}
	return g, nil
}

func parseNumber(s string) (any, error) {
	if !isJSONNumber(s) {
		return nil, &valueError{msg: fmt.Sprintf("invalid number %q", s)}
	}
	if !strings.ContainsAny(s, ".eE") {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, &valueError{msg: fmt.Sprintf("integer %s overflows int64", s)}
		}
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, errNotFinite() // the only error of a valid literal is overflow to ±Inf
	}
	return normalize(f, 0)
}

// isJSONNumber reports whether s is a number literal by the JSON grammar;
// strconv alone would also take "0x1.8p1", "Inf" and "+1".
func isJSONNumber(s string) bool {
	i := 0
	digits := func() bool {
		start := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		return i > start
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i < len(s) && s[i] == '0' {
		i++
	} else if !digits() {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	return i == len(s)
}

// valueError is a value that cannot be normalised or encoded. The path to the
// offending element is collected as the recursion unwinds, so the happy path
// pays nothing for it.
type valueError struct {
	msg  string
	path []string // innermost first
}

func (e *valueError) Error() string {
	if len(e.path) == 0 {
		return "params: " + e.msg
	}
	var b strings.Builder
	for i := len(e.path) - 1; i >= 0; i-- {
		b.WriteString(e.path[i])
	}
	return "params: " + e.msg + " (at " + b.String() + ")"
}

func errNotFinite() error { return &valueError{msg: "value is NaN/infinite"} }

func errTooDeep() error {
	return &valueError{msg: fmt.Sprintf("value nested deeper than %d levels (does it contain itself?)", maxDepth)}
}

func atIndex(err error, i int) error {
	if ve, ok := err.(*valueError); ok {
		ve.path = append(ve.path, "["+strconv.Itoa(i)+"]")
	}
	return err
}

func atKey(err error, k string) error {
	if ve, ok := err.(*valueError); ok {
		ve.path = append(ve.path, "["+strconv.Quote(k)+"]")
	}
	return err
}

// wrapError adds context to an error without repeating the "params: " prefix
// of the error it wraps.
type wrapError struct {
	msg string
	err error
}

func (e *wrapError) Error() string { return e.msg }
func (e *wrapError) Unwrap() error { return e.err }

func wrapf(err error, format string, args ...any) error {
	return &wrapError{msg: "params: " + fmt.Sprintf(format, args...) + ": " + detail(err), err: err}
}

// detail is an error's message without the package prefix.
func detail(err error) string {
	return strings.TrimPrefix(err.Error(), "params: ")
}
