package params

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Canonical returns the canonical JSON encoding of v, normalised first (see
// [Normalize]), so a Point, a map[string]int and a []float32 all encode.
//
// Run IDs and experiment identities are hashes of this encoding, so it must
// never change. It is compact JSON with:
//
//   - map keys sorted bytewise (by UTF-8 bytes, not by UTF-16 units);
//   - int64 in plain decimal: 1, -9223372036854775808;
//   - float64 as strconv.FormatFloat(f, 'g', -1, 64) gives it: the shortest
//     digits that parse back to f, in exponent form when the decimal exponent
//     is below -4 or at least 6 (0.0001, 1e-05, 999999, 1e+06, 1.5e+21),
//     with ".0" appended when that has no '.' or 'e', so that float 1.0
//     encodes as 1.0 and int 1 as 1. -0.0 normalises to 0.0 and encodes as
//     0.0. Note that this is not Python's repr, which writes 1e6 as 1000000.0;
//   - strings escaped as encoding/json escapes them, but without its HTML
//     escaping: '"', '\\' and control characters are escaped (\b \f \n \r \t
//     by name, the rest as \u00XX), as are U+2028 and U+2029; <, >, &, DEL
//     and all other non-ASCII text stay literal. A string that is not valid
//     UTF-8 is an error, not silently repaired, because two different byte
//     strings must not hash alike;
//   - true, false and null as JSON writes them.
func Canonical(v any) ([]byte, error) {
	return AppendCanonical(make([]byte, 0, 64), v)
}

// AppendCanonical appends the canonical encoding of v (see [Canonical]) to
// dst. It allocates nothing beyond dst's growth for a normalised point of up
// to 16 keys, which matters when a million run IDs are hashed. On error it
// returns dst with its original length.
func AppendCanonical(dst []byte, v any) ([]byte, error) {
	out, err := appendValue(dst, v, 0)
	if err != nil {
		return dst, err
	}
	return out, nil
}

func appendValue(dst []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendString(dst, x)
	case bool:
		return strconv.AppendBool(dst, x), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case float64:
		return appendFloat(dst, x)
	case []any:
		return appendList(dst, x, depth)
	case map[string]any:
		return appendMap(dst, x, depth)
	case Point:
		return appendMap(dst, x, depth)
	}
	// Everything else is encoded as its normalised form, so that Canonical(v)
	// and Canonical(Normalize(v)) cannot disagree. The normalised form only
	// holds the types handled above, so this recurses once.
	n, err := normalize(v, depth)
	if err != nil {
		return dst, err
	}
	return appendValue(dst, n, depth)
}

func appendFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, errNotFinite()
	}
	if f == 0 {
		return append(dst, "0.0"...), nil // also for -0.0, see Normalize
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'g', -1, 64)
	for _, c := range dst[start:] {
		if c == '.' || c == 'e' {
			return dst, nil
		}
	}
	return append(dst, ".0"...), nil
}

func appendList(dst []byte, l []any, depth int) ([]byte, error) {
	if depth >= maxDepth {
		return dst, errTooDeep()
	}
	dst = append(dst, '[')
	for i, e := range l {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = appendValue(dst, e, depth+1); err != nil {
			return dst, atIndex(err, i)
		}
	}
	return append(dst, ']'), nil
}

type entry struct {
	k string
	v any
}

func appendMap(dst []byte, m map[string]any, depth int) ([]byte, error) {
	if depth >= maxDepth {
		return dst, errTooDeep()
	}
	// Points have a handful of keys: sort them in a stack array by insertion
	// sort rather than allocate a slice per run ID.
	var stack [16]entry
	entries := stack[:0]
	if len(m) > len(stack) {
		entries = make([]entry, 0, len(m))
	}
	for k, v := range m {
		entries = append(entries, entry{k, v})
	}
	if len(entries) <= len(stack) {
		for i := 1; i < len(entries); i++ {
			for j := i; j > 0 && entries[j].k < entries[j-1].k; j-- {
				entries[j], entries[j-1] = entries[j-1], entries[j]
			}
		}
	} else {
		slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.k, b.k) })
	}
	dst = append(dst, '{')
	for i, e := range entries {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = appendString(dst, e.k); err != nil {
			return dst, atKey(err, e.k)
		}
		dst = append(dst, ':')
		if dst, err = appendValue(dst, e.v, depth+1); err != nil {
			return dst, atKey(err, e.k)
		}
	}
	return append(dst, '}'), nil
}

const hexDigits = "0123456789abcdef"

func appendString(dst []byte, s string) ([]byte, error) {
	out, valid := AppendJSONString(dst, s)
	if !valid {
		return dst, &valueError{msg: fmt.Sprintf("string is not valid UTF-8: %s", quoteShort(s))}
	}
	return out, nil
}

// AppendJSONString appends s as a JSON string the way encoding/json writes
// it without HTML escaping: '"', '\\' and control characters escaped, U+2028
// and U+2029 escaped, other text as is. Invalid UTF-8 is written as U+FFFD
// and reported by valid=false: the canonical encoding refuses it, the store's
// record encoder accepts the replacement as encoding/json does.
func AppendJSONString(dst []byte, s string) (out []byte, valid bool) {
	valid = true
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			valid = false
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			start = i + size
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			start = i + size
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), valid
}

func quoteShort(s string) string {
	const max = 40
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}
