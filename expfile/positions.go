package expfile

import (
	"sort"
	"strconv"
	"strings"
)

// The TOML decoder reports lines only for syntax errors, so the loader finds
// the line of a key itself: keyLines scans the (already valid) document once
// and notes where each key, table and array element starts. A key it cannot
// place falls back to its nearest ancestor's line (see lines.of), so a
// missed corner of TOML costs precision, never correctness.

// A path names a value in the document: table keys, and "[i]" for the i-th
// element of an array or an array of tables.
type path []string

func (p path) key(k string) path { return append(p[:len(p):len(p)], k) }
func (p path) index(i int) path  { return p.key("[" + strconv.Itoa(i) + "]") }

// String writes the path as a TOML dotted key with array indexes:
// params.cases[0].lr, env."MY VAR".
func (p path) String() string {
	var b strings.Builder
	for i, k := range p {
		if strings.HasPrefix(k, "[") {
			b.WriteString(k)
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		if isBare(k) {
			b.WriteString(k)
		} else {
			b.WriteString(strconv.Quote(k))
		}
	}
	return b.String()
}

func (p path) id() string { return strings.Join(p, "\x00") }

func isBare(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range []byte(k) {
		if !isBareChar(c) {
			return false
		}
	}
	return true
}

func isBareChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// lines maps paths to the 1-based line where they are defined.
type lines map[string]int

// of returns the line of p, or of its nearest ancestor that has one; 0 if
// none has.
func (l lines) of(p path) int {
	for n := len(p); n > 0; n-- {
		if line, ok := l[p[:n].id()]; ok {
			return line
		}
	}
	return 0
}

type scanner struct {
	src        string
	i          int
	lineStarts []int
	lines      lines
	aot        map[string]int // array-of-tables path → elements so far
}

func keyLines(src string) lines {
	s := &scanner{src: src, lines: lines{}, aot: map[string]int{}}
	s.lineStarts = append(s.lineStarts, 0)
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			s.lineStarts = append(s.lineStarts, i+1)
		}
	}
	s.document()
	return s.lines
}

func (s *scanner) lineAt(i int) int {
	return sort.Search(len(s.lineStarts), func(k int) bool { return s.lineStarts[k] > i })
}

func (s *scanner) mark(p path) {
	if len(p) == 0 {
		return
	}
	if _, ok := s.lines[p.id()]; !ok {
		s.lines[p.id()] = s.lineAt(s.i)
	}
}

func (s *scanner) peek(prefix string) bool {
	return s.i < len(s.src) && strings.HasPrefix(s.src[s.i:], prefix)
}

func (s *scanner) eof() bool { return s.i >= len(s.src) }

// space skips blanks, and with newlines also line breaks and comments.
func (s *scanner) space(newlines bool) {
	for !s.eof() {
		switch c := s.src[s.i]; {
		case c == ' ' || c == '\t' || c == '\r':
			s.i++
		case c == '#':
			for !s.eof() && s.src[s.i] != '\n' {
				s.i++
			}
		case c == '\n' && newlines:
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) restOfLine() {
	for !s.eof() && s.src[s.i] != '\n' {
		s.i++
	}
}

func (s *scanner) document() {
	var table path
	for {
		s.space(true)
		if s.eof() {
			return
		}
		start := s.i
		switch {
		case s.peek("[["):
			s.i += 2
			keys := s.key()
			base := s.resolve(keys)
			s.mark(base)
			n := s.aot[base.id()]
			s.aot[base.id()] = n + 1
			table = base.index(n)
			s.mark(table)
			s.restOfLine()
		case s.peek("["):
			s.i++
			table = s.resolve(s.key())
			s.mark(table)
			s.restOfLine()
		default:
			full, ok, eq := s.keyAssign(table)
			if ok && eq {
				s.value(full)
			}
			s.restOfLine()
		}
		if s.i == start {
			s.i++ // never loop on input the scanner does not understand
		}
	}
}

// resolve inserts the current element index after every prefix of a header
// that names an array of tables, as [a.b] after [[a]] means a's last element.
// keyAssign reads a (dotted) key of table p, marking the line of each of
// its prefixes, and the '=' after it. It returns the key's path, whether
// there was a key, and whether an '=' followed.
func (s *scanner) keyAssign(p path) (full path, ok, eq bool) {
	keys := s.key()
	if len(keys) == 0 {
		return p, false, false
	}
	full = p
	for _, k := range keys {
		full = full.key(k)
		s.mark(full)
	}
	s.space(false)
	if eq = s.peek("="); eq {
		s.i++
	}
	return full, true, eq
}

func (s *scanner) resolve(keys []string) path {
	var p path
	for j, k := range keys {
		p = p.key(k)
		if n, ok := s.aot[p.id()]; ok && j < len(keys)-1 {
			p = p.index(n - 1)
		}
	}
	return p
}

// key reads a dotted key: bare, "basic" or 'literal' pieces.
func (s *scanner) key() []string {
	var keys []string
	for {
		s.space(false)
		if s.eof() {
			return keys
		}
		switch s.src[s.i] {
		case '"':
			start := s.i
			s.i++
			for !s.eof() && s.src[s.i] != '"' && s.src[s.i] != '\n' {
				if s.src[s.i] == '\\' {
					s.i++
				}
				s.i++
			}
			s.i++
			raw := s.src[start:min(s.i, len(s.src))]
			k, err := strconv.Unquote(raw)
			if err != nil {
				k = strings.Trim(raw, `"`)
			}
			keys = append(keys, k)
		case '\'':
			s.i++
			start := s.i
			for !s.eof() && s.src[s.i] != '\'' && s.src[s.i] != '\n' {
				s.i++
			}
			keys = append(keys, s.src[start:s.i])
			s.i++
		default:
			start := s.i
			for !s.eof() && isBareChar(s.src[s.i]) {
				s.i++
			}
			if s.i == start {
				return keys
			}
			keys = append(keys, s.src[start:s.i])
		}
		s.space(false)
		if !s.peek(".") {
			return keys
		}
		s.i++
	}
}

// value skips one value, noting the lines of the keys and elements inside
// arrays and inline tables.
func (s *scanner) value(p path) {
	s.space(false)
	s.mark(p)
	switch {
	case s.peek(`"""`):
		s.i += 3
		for !s.eof() && !s.peek(`"""`) {
			if s.src[s.i] == '\\' {
				s.i++
			}
			s.i++
		}
		s.i += 3
		for k := 0; k < 2 && s.peek(`"`); k++ { // """a""""" ends in quotes
			s.i++
		}
	case s.peek(`'''`):
		s.i += 3
		for !s.eof() && !s.peek(`'''`) {
			s.i++
		}
		s.i += 3
		for k := 0; k < 2 && s.peek(`'`); k++ {
			s.i++
		}
	case s.peek(`"`):
		s.i++
		for !s.eof() && s.src[s.i] != '"' && s.src[s.i] != '\n' {
			if s.src[s.i] == '\\' {
				s.i++
			}
			s.i++
		}
		s.i++
	case s.peek(`'`):
		s.i++
		for !s.eof() && s.src[s.i] != '\'' && s.src[s.i] != '\n' {
			s.i++
		}
		s.i++
	case s.peek("["):
		s.i++
		for n := 0; ; n++ {
			s.space(true)
			if s.eof() || s.peek("]") {
				s.i++
				return
			}
			start := s.i
			s.value(p.index(n))
			s.space(true)
			if s.peek(",") {
				s.i++
				continue
			}
			if s.peek("]") || s.i == start {
				s.i++
				return
			}
		}
	case s.peek("{"):
		s.i++
		for {
			s.space(true)
			if s.eof() || s.peek("}") {
				s.i++
				return
			}
			full, ok, _ := s.keyAssign(p)
			if !ok {
				s.i++
				return
			}
			s.value(full)
			s.space(true)
			if s.peek(",") {
				s.i++
				continue
			}
			s.i++ // '}' or something unexpected: the table ends either way
			return
		}
	default: // number, bool, date: up to a delimiter
		for !s.eof() && !strings.ContainsRune(",]}\n#", rune(s.src[s.i])) {
			s.i++
		}
	}
	if s.i > len(s.src) {
		s.i = len(s.src)
	}
}
