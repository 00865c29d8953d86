package capture

import "strconv"

// parseMetricLine parses the most common capture line, a metric as
// json.dumps writes it,
//
//	{"metric": "loss", "value": 0.25}    or    {..., "step": 3}
//
// optionally ending in , "run": "<run ID>" as the persistent helper writes
// it,
// with a plain name (printable ASCII without escapes) and a finite number,
// as ParseLine would, without building a map of the object: a persistent
// operation sends a line or two a run, and decoding them was a sixth of
// metalab's cost per run. ok is false for any other line, which ParseLine
// then parses in full.
func parseMetricLine(line []byte) (ev Event, ok bool) {
	p := lineScanner{b: line}
	if !p.lit("{") || !p.lit(`"metric"`) || !p.lit(":") {
		return ev, false
	}
	name, ok := p.plainString()
	if !ok || !p.lit(",") || !p.lit(`"value"`) || !p.lit(":") {
		return ev, false
	}
	num, ok := p.number()
	if !ok {
		return ev, false
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return ev, false
	}
	ev = Event{Kind: KindMetric, Name: name, Value: v}
	if p.lit(",") {
		if p.lit(`"step"`) {
			if !p.lit(":") {
				return ev, false
			}
			num, ok := p.number()
			if !ok {
				return ev, false
			}
			step, err := strconv.ParseInt(num, 10, 64)
			if err != nil {
				return ev, false
			}
			ev.Step = &step
			if !p.lit(",") {
				goto end
			}
		}
		if !p.lit(`"run"`) || !p.lit(":") {
			return ev, false
		}
		if ev.Run, ok = p.plainString(); !ok {
			return ev, false
		}
	}
end:
	if !p.lit("}") {
		return ev, false
	}
	p.space()
	return ev, p.i == len(p.b)
}

// lineScanner reads a JSON line token by token.
type lineScanner struct {
	b []byte
	i int
}

func (p *lineScanner) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// lit skips white space and then s, if s comes next.
func (p *lineScanner) lit(s string) bool {
	p.space()
	if len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		return false
	}
	p.i += len(s)
	return true
}

// plainString reads a string of printable ASCII without escapes.
func (p *lineScanner) plainString() (string, bool) {
	p.space()
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return "", false
	}
	start := p.i + 1
	for j := start; j < len(p.b); j++ {
		switch c := p.b[j]; {
		case c == '"':
			p.i = j + 1
			return string(p.b[start:j]), true
		case c < 0x20 || c > 0x7e || c == '\\':
			return "", false
		}
	}
	return "", false
}

// number reads a number as JSON's grammar has it.
func (p *lineScanner) number() (string, bool) {
	p.space()
	b, start := p.b, p.i
	j := start
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case j < len(b) && '1' <= b[j] && b[j] <= '9':
		for j < len(b) && '0' <= b[j] && b[j] <= '9' {
			j++
		}
	default:
		return "", false
	}
	if j < len(b) && b[j] == '.' {
		j++
		d := j
		for j < len(b) && '0' <= b[j] && b[j] <= '9' {
			j++
		}
		if j == d {
			return "", false
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		d := j
		for j < len(b) && '0' <= b[j] && b[j] <= '9' {
			j++
		}
		if j == d {
			return "", false
		}
	}
	p.i = j
	return string(b[start:j]), true
}
