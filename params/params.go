// Package params owns parameter sources (grid, random, manual cases), the
// normalised value model of a param point, and the canonical encoding that
// run IDs and manifests hash.
//
// # Values
//
// A param value is normalised by [Normalize] before anything else sees it:
// every integer becomes int64, every float float64, lists []any and maps
// map[string]any. Int 1 and float 1.0 stay different values, because an
// operation may well treat them differently and because they hash
// differently: a sweep over [1, 2] is not the sweep over [1.0, 2.0].
//
// # Canonical encoding
//
// [Canonical] is the JSON that run IDs and experiment identities are hashed
// from. It is fixed forever: changing a single byte of it would orphan every
// stored result. Golden tests pin it.
//
// # Sources
//
// A [Source] is a finite, random-access sequence of points: [Grid], [Random]
// or [Cases]. Random access lets a worker on a compute node compute point i of
// a million-point sweep without enumerating the others, and get exactly the
// point the submitting process saw.
package params

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// Point is one parameter combination. Values are normalised (see [Normalize]):
// int64, float64, string, bool, nil, []any or map[string]any of those.
//
// The typed getters panic rather than return errors: operations read params
// at the top of their body, and the runner turns the panic into a failed run
// whose message names the param.
type Point map[string]any

// Source is a finite, deterministic, random-access sequence of points.
type Source interface {
	Len() int
	At(i int) Point       // 0 <= i < Len(); same result on every call and process
	Spec() map[string]any // canonical description, hashed into the experiment identity
	Validate() error
}

var (
	_ Source = Grid(nil)
	_ Source = Random{}
	_ Source = Cases(nil)
)

// Keys returns the param names sorted bytewise, the order of the canonical
// encoding.
func (p Point) Keys() []string {
	return sortedKeys(p)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Int returns the integer param name. It panics if the param is missing or
// is not an integer; a float is not silently truncated, because 3.0 and 3 are
// different params.
func (p Point) Int(name string) int64 {
	v := p.get(name)
	if n, ok := v.(int64); ok {
		return n
	}
	if n, ok := normalizedOrNil(v).(int64); ok {
		return n
	}
	panic(p.typeMismatch(name, v, "an int"))
}

// Float returns the float param name. An int param converts, so that an
// operation reading a learning rate accepts 1 as well as 1.0. It panics if
// the param is missing or is not a number.
func (p Point) Float(name string) float64 {
	v := p.get(name)
	switch x := normalizedOrNil(v).(type) {
	case float64:
		return x
	case int64:
		return float64(x)
	}
	panic(p.typeMismatch(name, v, "a float"))
}

// String returns the string param name. It panics if the param is missing or
// is not a string.
func (p Point) String(name string) string {
	v := p.get(name)
	if s, ok := normalizedOrNil(v).(string); ok {
		return s
	}
	panic(p.typeMismatch(name, v, "a string"))
}

// Bool returns the bool param name. It panics if the param is missing or is
// not a bool.
func (p Point) Bool(name string) bool {
	v := p.get(name)
	if b, ok := normalizedOrNil(v).(bool); ok {
		return b
	}
	panic(p.typeMismatch(name, v, "a bool"))
}

func (p Point) get(name string) any {
	v, ok := p[name]
	if !ok {
		have := "none"
		if len(p) > 0 {
			have = strings.Join(p.Keys(), ", ")
		}
		panic(fmt.Sprintf("params: no param %q (have: %s)", name, have))
	}
	return v
}

// normalizedOrNil lets the getters accept a hand-built Point{"n": 3}, whose
// values were never normalised.
func normalizedOrNil(v any) any {
	n, err := Normalize(v)
	if err != nil {
		return nil
	}
	return n
}

func (p Point) typeMismatch(name string, v any, want string) string {
	n, err := Normalize(v)
	if err != nil {
		return fmt.Sprintf("params: %q is a %T (%s), not %s", name, v, detail(err), want)
	}
	kind := kindName(n)
	if n == nil {
		return fmt.Sprintf("params: %q is %s, not %s", name, kind, want)
	}
	return fmt.Sprintf("params: %q is %s (%s), not %s", name, kind, shortCanonical(n), want)
}

// kindName names a normalised value's kind the way a Python or TOML user
// would.
func kindName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case int64:
		return "an int"
	case float64:
		return "a float"
	case string:
		return "a string"
	case bool:
		return "a bool"
	case []any:
		return "a list"
	case map[string]any:
		return "a map"
	}
	return fmt.Sprintf("a %T", v)
}

// shortCanonical renders a value for an error message, cut so that a huge
// list does not swamp the message.
func shortCanonical(v any) string {
	const max = 60
	b, err := Canonical(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}

// MarshalJSON writes the canonical encoding, so a point stored in a record
// hashes and compares exactly as the run ID saw it. A nil Point encodes as {}.
func (p Point) MarshalJSON() ([]byte, error) {
	return Canonical(p)
}

// UnmarshalJSON replaces *p with the decoded object. Numbers are decoded
// through [json.Number] and normalised, so an integer stays int64 (not
// float64, as plain encoding/json would make it) and a float with an integral
// value, written 1.0, stays float64: a normalised point survives the round
// trip exactly. JSON null sets *p to nil.
func (p *Point) UnmarshalJSON(b []byte) error {
	if m, ok := decodeFlat(b); ok {
		*p = m
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("params: decode point: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("params: decode point: data after the JSON object")
	}
	n, err := Normalize(v)
	if err != nil {
		return err
	}
	switch m := n.(type) {
	case nil:
		*p = nil
	case map[string]any:
		*p = Point(m)
	default:
		return fmt.Errorf("params: decode point: want a JSON object, got %s", kindName(n))
	}
	return nil
}

// decodeFlat decodes the common point, an object of numbers, strings
// without escapes, booleans and nulls, as UnmarshalJSON would, several
// times faster (reading a million records decodes a million points). ok is
// false for anything else, which UnmarshalJSON then decodes in full.
func decodeFlat(b []byte) (Point, bool) {
	space := func(i int) int {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
			i++
		}
		return i
	}
	// str returns the string at b[i] if it has no escapes and is valid
	// UTF-8 (encoding/json would replace invalid bytes).
	str := func(i int) (string, int, bool) {
		if i >= len(b) || b[i] != '"' {
			return "", 0, false
		}
		for j := i + 1; j < len(b); j++ {
			switch c := b[j]; {
			case c == '"':
				s := b[i+1 : j]
				return string(s), j + 1, utf8.Valid(s)
			case c == '\\' || c < 0x20:
				return "", 0, false
			}
		}
		return "", 0, false
	}
	i := space(0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	p := make(Point, 4)
	i = space(i + 1)
	if i < len(b) && b[i] == '}' {
		return p, space(i+1) == len(b)
	}
	for {
		k, j, ok := str(i)
		if !ok {
			return nil, false
		}
		if i = space(j); i >= len(b) || b[i] != ':' {
			return nil, false
		}
		i = space(i + 1)
		if i >= len(b) {
			return nil, false
		}
		switch c := b[i]; {
		case c == '"':
			v, j, ok := str(i)
			if !ok {
				return nil, false
			}
			p[k], i = v, j
		case c == '-' || '0' <= c && c <= '9':
			j := i
			for j < len(b) && strings.IndexByte("+-.eE0123456789", b[j]) >= 0 {
				j++
			}
			v, err := parseNumber(string(b[i:j]))
			if err != nil {
				return nil, false
			}
			p[k], i = v, j
		case bytes.HasPrefix(b[i:], []byte("true")):
			p[k], i = true, i+4
		case bytes.HasPrefix(b[i:], []byte("false")):
			p[k], i = false, i+5
		case bytes.HasPrefix(b[i:], []byte("null")):
			p[k], i = nil, i+4
		default:
			return nil, false
		}
		i = space(i)
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i = space(i + 1)
		case '}':
			return p, space(i+1) == len(b)
		default:
			return nil, false
		}
	}
}
