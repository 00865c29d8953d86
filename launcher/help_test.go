package launcher

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/seeds"
)

func TestTidyFlags(t *testing.T) {
	tests := []struct {
		flag cli.Flag
		want string
	}{
		{&cli.IntFlag{Name: "workers", Usage: "runs at once (default: one per CPU)"}, "--workers value\truns at once (default: one per CPU)"},
		{&cli.IntFlag{Name: "max-failures", Usage: "leave out runs (default 3 x (1 + retries))"}, "--max-failures value\tleave out runs (default: 3 x (1 + retries))"},
		{&cli.IntFlag{Name: "count", Value: 3, Usage: "a count"}, "--count value\ta count (default: 3)"},
		{&cli.BoolFlag{Name: "wait", Usage: "wait (default: refuse)"}, "--wait\twait (default: refuse)"},
		{&cli.BoolFlag{Name: "collect", Usage: "also submit `metalab collect`"}, "--collect\talso submit 'metalab collect'"},
		{&cli.StringFlag{Name: "store", Usage: "store `DIR`"}, "--store DIR\tstore DIR"},
	}
	for _, tt := range tests {
		tidyFlags([]cli.Flag{tt.flag})
		if got := tt.flag.String(); got != tt.want {
			t.Errorf("tidied flag %q, want %q", got, tt.want)
		}
	}
}

func TestClosest(t *testing.T) {
	names := []string{"run", "results", "summary", "status", "logs", "submit", "collect", "cancel"}
	tests := []struct{ got, want string }{
		{"runn", "run"},
		{"rnu", "run"},
		{"sumary", "summary"},
		{"stauts", "status"},
		{"res", "results"},
		{"frobnicate", ""},
		{"x", ""},
	}
	for _, tt := range tests {
		if got := closest(tt.got, names); got != tt.want {
			t.Errorf("closest(%q)=%q, want %q", tt.got, got, tt.want)
		}
	}
}

// TestEveryCommandListsItsExitCodes: a command added without its own
// EXIT CODES block would show the program's, which it may not return.
func TestEveryCommandListsItsExitCodes(t *testing.T) {
	app := (&App{Name: "metalab"}).cliApp()
	for _, c := range app.Commands {
		if _, ok := exitCodes[c.Name]; !ok {
			t.Errorf("command %s has no entry in exitCodes", c.Name)
		}
		if !strings.Contains(c.CustomHelpTemplate, exitCodesHelp(c.Name)) {
			t.Errorf("the help of %s lacks its EXIT CODES", c.Name)
		}
	}
}

var metalabCommand = regexp.MustCompile(`metalab (run|results|summary|status|logs|submit|worker|collect|cancel|version|completion|help)\b`)

// TestMainProgramHelp: a program of Main names itself and its
// experiments in its help, not the metalab binary and its example file.
func TestMainProgramHelp(t *testing.T) {
	exp := Experiment{Name: "pi_mc", Version: "0.1", Operation: Op(func() {}), Params: params.Grid{"n": {1}}, Seeds: seeds.New(1, 1)}
	help := func(args ...string) string {
		var out bytes.Buffer
		a := &App{Name: "quickstart", Experiments: []Experiment{exp}, Stdout: &out, Stderr: &out}
		if code := a.Run(context.Background(), append([]string{"quickstart"}, args...)); code != 0 {
			t.Fatalf("quickstart %s: exit %d\n%s", strings.Join(args, " "), code, out.String())
		}
		return out.String()
	}
	top := help("--help")
	for _, want := range []string{"quickstart - run parameter sweeps", "EXPERIMENTS:\n      pi_mc (version 0.1)", "quickstart run pi_mc --store runs/pi_mc --dry-run"} {
		if !strings.Contains(top, want) {
			t.Errorf("quickstart --help lacks %q:\n%s", want, top)
		}
	}
	for _, args := range [][]string{{"--help"}, {"run", "--help"}, {"results", "--help"}, {"submit", "--help"}, {"help", "status"}} {
		out := help(args...)
		// metalab may be named, as what the program is built on; its
		// commands may not.
		if m := metalabCommand.FindString(out); m != "" {
			t.Errorf("quickstart %s names %q:\n%s", strings.Join(args, " "), m, out)
		}
		if strings.Contains(out, ".toml") {
			t.Errorf("quickstart %s names a .toml file:\n%s", strings.Join(args, " "), out)
		}
	}
	if run := help("run", "--help"); !strings.Contains(run, "quickstart run [command options] [EXPERIMENT-NAME]") ||
		!strings.Contains(run, "quickstart run pi_mc --store runs/pi") {
		t.Errorf("quickstart run --help:\n%s", run)
	}
}
