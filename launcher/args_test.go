package launcher

import (
	"strings"
	"testing"
)

func TestInterspersed(t *testing.T) {
	app := (&App{Name: "metalab"}).cliApp()
	tests := []struct{ in, want string }{
		{"metalab run pi.toml --store runs/pi", "metalab run --store runs/pi pi.toml"},
		{"metalab run pi.toml --store=runs/pi -j 2 --no-table", "metalab run --store=runs/pi -j 2 --no-table pi.toml"},
		{"metalab --log-level debug run pi.toml -s x", "metalab --log-level debug run -s x pi.toml"},
		{"metalab run --store x pi.toml", "metalab run --store x pi.toml"},
		{"metalab run pi.toml -- --not-a-flag", "metalab run pi.toml -- --not-a-flag"},
		{"metalab results --store x", "metalab results --store x"},
		{"metalab nosuch a --b", "metalab nosuch a --b"},
		// Global flags after the command move in front of it.
		{"metalab run pi.toml --log-level error", "metalab --log-level error run pi.toml"},
		{"metalab run pi.toml --log-level=error -s x", "metalab --log-level=error run -s x pi.toml"},
		{"metalab results --store x --version", "metalab --version results --store x"},
		{"metalab run pi.toml -- --log-level error", "metalab run pi.toml -- --log-level error"},
		{"metalab", "metalab"},
		// A command of commands: the subcommand's flags, its help, and
		// global flags in front of the command.
		{"metalab store import --from a --log-level error --to b", "metalab --log-level error store import --from a --to b"},
		{"metalab store list -h", "metalab store list -h"},
		{"metalab store --help", "metalab --help store"},
	}
	for _, tt := range tests {
		got := strings.Join(interspersed(app, strings.Fields(tt.in)), " ")
		if got != tt.want {
			t.Errorf("interspersed(%q)=%q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestWithCompletion keeps the completion request last, after the
// arguments are rearranged.
func TestWithCompletion(t *testing.T) {
	app := (&App{Name: "metalab"}).cliApp()
	got := strings.Join(withCompletion(app, strings.Fields("metalab run pi.toml --st --generate-bash-completion"), interspersed), " ")
	if want := "metalab run --st pi.toml --generate-bash-completion"; got != want {
		t.Errorf("withCompletion()=%q, want %q", got, want)
	}
}
