package slurm

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// ParseSbatch reads what sbatch --parsable prints on success: the job ID,
// followed by ";cluster" when the job went to a named cluster (sbatch -M).
// Blank lines are skipped; anything but exactly one such line is an error.
func ParseSbatch(r io.Reader) (jobID, cluster string, err error) {
	seen := false
	err = eachLine(r, func(n int, line string) error {
		line = strings.TrimSpace(line)
		if line == "" {
			return nil
		}
		if seen {
			return &ParseError{Source: "sbatch", Line: n, Text: line, Err: errors.New("more than one line")}
		}
		seen = true
		id, cl, hasCluster := strings.Cut(line, ";")
		if _, err := atoiNonNeg(id); err != nil {
			return &ParseError{Source: "sbatch", Line: n, Text: line, Err: fmt.Errorf("job ID: %w", err)}
		}
		if hasCluster && (cl == "" || strings.ContainsAny(cl, "; \t")) {
			return &ParseError{Source: "sbatch", Line: n, Text: line, Err: fmt.Errorf("bad cluster name %q", cl)}
		}
		jobID, cluster = id, cl
		return nil
	})
	if err != nil {
		return "", "", err
	}
	if !seen {
		return "", "", errors.New("sbatch printed no job ID")
	}
	return jobID, cluster, nil
}
