package launcher

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/metalab-hpc/metalab/store"
)

// TestExit: App.exit gives each error its exit code and prints it with the
// one hint of its chain, on a line of its own.
func TestExit(t *testing.T) {
	fileErr := hintedErr{`exp.toml:3: unknown key "comand"`, `did you mean "command"?`}
	tests := []struct {
		name   string
		err    error
		code   int
		stderr string
	}{
		{"success", nil, ExitOK, ""},
		{"a plain error", errors.New("boom"), ExitRunsFailed, "metalab: boom\n"},
		{"already prefixed", errors.New("metalab: boom"), ExitRunsFailed, "metalab: boom\n"},
		{"silent", fmt.Errorf("x: %w", errSilent), ExitRunsFailed, ""},
		{"usage", usageErr("see 'metalab --help'", "no such flag"), ExitUsage,
			"metalab: no such flag\nhint: see 'metalab --help'\n"},
		{"usage, no hint", usageErr("", "--workers must be positive"), ExitUsage,
			"metalab: --workers must be positive\n"},
		{"input carries the file's hint", inputErr(fileErr, ""), ExitUsage,
			"metalab: exp.toml:3: unknown key \"comand\"\nhint: did you mean \"command\"?\n"},
		{"an own hint before the file's", inputErr(fileErr, "fix it"), ExitUsage,
			"metalab: exp.toml:3: unknown key \"comand\"\nhint: fix it\n"},
		{"wrapped", fmt.Errorf("loading: %w", usageErr("h", "bad")), ExitUsage,
			"metalab: loading: bad\nhint: h\n"},
		{"a hinted error alone", fmt.Errorf("x: %w", fileErr), ExitRunsFailed,
			"metalab: x: exp.toml:3: unknown key \"comand\"\nhint: did you mean \"command\"?\n"},
		{"interrupted", &exitError{code: ExitInterrupted, err: context.Canceled, hint: "run the same command again to resume"}, ExitInterrupted,
			"metalab: context canceled\nhint: run the same command again to resume\n"},
		{"cancelled", fmt.Errorf("sweep: %w", context.Canceled), ExitInterrupted, "metalab: sweep: context canceled\n"},
		{"runs failed", fmt.Errorf("2 of 4 runs failed: %w", ErrRunsFailed), ExitRunsFailed, "metalab: 2 of 4 runs failed: some runs failed\n"},
		{"not a store", fmt.Errorf("x: %w", store.ErrNotStore), ExitUsage, "metalab: x: " + store.ErrNotStore.Error() + "\n"},
		{"damaged", damageExit("metalab", "st", &store.DamageError{Dir: "st", Noted: true}), ExitDamaged,
			"metalab: store st: 0 records could not be read in 0 damaged ranges and were skipped:\n" +
				"hint: 'metalab collect --store st' repairs the indexes: the runs whose records were lost are then pending, and 'metalab run' runs them again\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stderr := exitOutput(tt.err)
			if got, want := code, tt.code; got != want {
				t.Errorf("exit(%v)=%d, want %d", tt.err, got, want)
			}
			if got, want := stderr, tt.stderr; got != want {
				t.Errorf("exit(%v) printed\n%q\nwant\n%q", tt.err, got, want)
			}
		})
	}
}

// hintedErr is an error with a hint of its own, as expfile's errors are.
type hintedErr struct{ msg, hint string }

func (e hintedErr) Error() string { return e.msg }
func (e hintedErr) Hint() string  { return e.hint }
