package params

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Format is a param value as metalab prints it (results, summary, the
// report): strings as they are, numbers in shortest form, booleans as
// true and false, nil as "", lists and maps as canonical JSON.
func Format(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return ""
	}
	b, err := Canonical(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// Compare orders two param values: numbers (int64 and float64) by value,
// before everything else; the rest by their text (Format).
func Compare(a, b any) int {
	af, aNum := Number(a)
	bf, bNum := Number(b)
	switch {
	case aNum && bNum:
		switch {
		case af < bf:
			return -1
		case af > bf:
			return 1
		}
		return 0
	case aNum:
		return -1
	case bNum:
		return 1
	}
	return strings.Compare(Format(a), Format(b))
}

// ComparePoints orders two points by their params in name order, each by
// Compare; a point without a param comes before one with it. It is the
// order of `metalab results`.
func ComparePoints(a, b Point) int {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		av, aok := a[k]
		bv, bok := b[k]
		switch {
		case !aok:
			return -1
		case !bok:
			return 1
		}
		if c := Compare(av, bv); c != 0 {
			return c
		}
	}
	return 0
}

// Number is a param value as a number, when it is one (int64 or float64).
func Number(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}
