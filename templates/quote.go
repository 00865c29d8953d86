package templates

import (
	"errors"
	"strings"
)

// shq quotes s as one bash word: as it is when it holds only characters
// bash never treats specially, single-quoted otherwise.
func shq(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool { return !shellSafe(r) }) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func shellSafe(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' ||
		strings.ContainsRune("_@%+=:,./-", r)
}

// shjoin quotes each word with shq and joins them with spaces.
func shjoin(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = shq(w)
	}
	return strings.Join(q, " ")
}

var errNewline = errors.New("contains a newline, which no #SBATCH line can hold")

// sbatchQuote quotes s for sbatch's parser of #SBATCH lines, which splits at
// white space, treats an unquoted '#' as the start of a comment, and removes
// double quotes and backslash escapes. It refuses line breaks.
func sbatchQuote(s string) (string, error) {
	if strings.ContainsAny(s, "\n\r") {
		return "", errNewline
	}
	if s != "" && !strings.ContainsAny(s, " \t\v\f\"'\\#") {
		return s, nil
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`, nil
}

// JobNameMax is the longest name [JobName] returns; squeue and sacct show
// little more by default.
const JobNameMax = 64

// JobName turns an experiment name into a SLURM job name that needs no
// quoting anywhere: ASCII letters, digits, '.', '-' and '_'. Every other run
// of characters becomes one '_', leading and trailing '_', '.' and '-' go,
// and the result has at most [JobNameMax] bytes. A name with nothing left
// becomes "metalab".
func JobName(experiment string) string {
	var b strings.Builder
	gap := false
	for _, r := range experiment {
		// '_' counts as a gap, so that it merges with the gaps beside it.
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '-' {
			if gap && b.Len() > 0 {
				b.WriteByte('_')
			}
			gap = false
			b.WriteRune(r)
			continue
		}
		gap = true
	}
	const trim = "_.-"
	name := strings.TrimLeft(b.String(), trim)
	if len(name) > JobNameMax {
		name = name[:JobNameMax]
	}
	name = strings.TrimRight(name, trim)
	if name == "" {
		return "metalab"
	}
	return name
}
