// Package host names the machine metalab runs on, one way for every use:
// records (where a run ran), segment and node index names, and the names
// of temporary files that tell which process made them.
package host

import (
	"os"
	"strings"
	"sync"
)

// Short is the host name up to its first dot, with every character other
// than ASCII letters, digits, '_' and '-' replaced by '_', so that it can
// stand in a file name and be split on '.'; "localhost" when the name is
// unknown.
var Short = sync.OnceValue(func() string { return clean(hostname()) })

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return h
}

func clean(h string) string {
	if i := strings.IndexByte(h, '.'); i >= 0 {
		h = h[:i]
	}
	if h == "" {
		return "localhost"
	}
	b := []byte(h)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b)
}
