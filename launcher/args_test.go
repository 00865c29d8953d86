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
		{"metalab", "metalab"},
	}
	for _, tt := range tests {
		got := strings.Join(interspersed(app, strings.Fields(tt.in)), " ")
		if got != tt.want {
			t.Errorf("interspersed(%q)=%q, want %q", tt.in, got, tt.want)
		}
	}
}
