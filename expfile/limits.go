package expfile

import (
	"math"
	"strconv"
	"strings"

	"github.com/metalab-hpc/metalab/capture"
)

// limits reads the keys that bound what one run may capture:
//
//	max_artifact_size = "1GiB"    one artifact file
//	max_capture_line  = "16MiB"   one capture line
//	max_capture_size  = "64MiB"   all of a run's capture lines
//
// A size is a number of bytes or a string with a unit (B, KiB, MiB, GiB,
// TiB, or KB, MB, GB, TB in powers of 1000).
func (l *loader) limits(raw map[string]any) (capture.Limits, error) {
	var lim capture.Limits
	var err error
	if lim.MaxArtifactSize, err = l.size(raw, "max_artifact_size", 1<<50); err != nil {
		return lim, err
	}
	line, err := l.size(raw, "max_capture_line", 1<<30)
	if err != nil {
		return lim, err
	}
	lim.MaxLine = int(line)
	if lim.MaxCaptureSize, err = l.size(raw, "max_capture_size", 1<<40); err != nil {
		return lim, err
	}
	return lim, nil
}

var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kib": 1 << 10, "kb": 1e3,
	"m": 1 << 20, "mib": 1 << 20, "mb": 1e6,
	"g": 1 << 30, "gib": 1 << 30, "gb": 1e9,
	"t": 1 << 40, "tib": 1 << 40, "tb": 1e12,
}

// size reads a byte count key; 0 (absent) means the default.
func (l *loader) size(raw map[string]any, key string, hi int64) (int64, error) {
	p := path{key}
	v, ok := raw[key]
	if !ok {
		return 0, nil
	}
	const advice = `a number of bytes, or a string such as "16MiB" or "1GiB"`
	var n int64
	switch x := v.(type) {
	case int64:
		n = x
	case string:
		s := strings.ToLower(strings.ReplaceAll(x, " ", ""))
		i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
		if i < 0 {
			i = len(s)
		}
		unit, okUnit := sizeUnits[s[i:]]
		f, err := strconv.ParseFloat(s[:i], 64)
		if !okUnit || err != nil || math.IsInf(f*float64(unit), 0) {
			return 0, l.errAt(p, "use "+advice, "%s %q is not a size", key, x)
		}
		if f*float64(unit) > float64(hi) {
			return 0, l.errAt(p, "", "%s %q is too large (at most %s)", key, x, capture.Size(hi))
		}
		n = int64(f * float64(unit))
	default:
		return 0, l.typeErr(p, advice, v, "")
	}
	switch {
	case n <= 0:
		return 0, l.errAt(p, "leave it out for the default", "%s must be positive", key)
	case n > hi:
		return 0, l.errAt(p, "", "%s %d is too large (at most %s)", key, n, capture.Size(hi))
	}
	return n, nil
}
