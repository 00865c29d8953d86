package launcher

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/metalab-hpc/metalab/report"
)

type reportOptions struct {
	Store string
	// Output is the HTML file to write; "-" writes to stdout.
	Output string
	// Experiment picks the runs of one experiment, NAME[@VERSION].
	Experiment string
}

func (a *App) cmdReport() *cli.Command {
	return &cli.Command{
		Name:  "report",
		Usage: "write the results as one HTML page: charts, runs table, timings",
		Description: "Writes one self-contained HTML file that opens in any browser, offline: the\n" +
			"sweep at a glance (counts, run times, hosts, SLURM jobs); each metric against\n" +
			"each param, the mean over runs with its 95% confidence band (the numbers of\n" +
			"'summary'), grouped by a second param; stepped metrics; parallel coordinates\n" +
			"and a ranking of params by importance; the runs table, sortable and filterable,\n" +
			"each failed run with its error and the end of its log; when and where the runs\n" +
			"ran. Nothing is fetched when it opens: style, script and data are in the file,\n" +
			"so it can be copied off a cluster or attached to an e-mail.\n\n" +
			"The page holds aggregates, so it stays small at any scale (a few MB for\n" +
			"100,000 runs); the runs table and parallel coordinates hold samples, and the\n" +
			"page says so. Artifacts are linked when the report is written beside the store\n" +
			"(in its directory or one above): keep them together when copying.\n\n" +
			"--experiment NAME[@VERSION] picks one experiment of a store that holds several.\n\n" +
			damageHelp + "\n\n" +
			"EXAMPLES:\n" +
			"   metalab report --store runs/pi                        # writes report.html\n" +
			"   metalab report --store runs/pi -o runs/pi-report.html   # beside the store: artifacts linked\n" +
			"   metalab report --store runs/sweep --experiment sweep@2 -o sweep2.html\n" +
			"   scp login:runs/pi-report.html . && xdg-open pi-report.html",
		Flags: []cli.Flag{
			storeFlag(),
			experimentFlag(),
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "report.html", Usage: "write the page to `FILE` ('-': stdout)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErr(fmt.Sprintf("usage: %s report --store DIR [-o FILE]", a.Name), "report takes no arguments, got %q", c.Args().First())
			}
			return a.runReport(c.Context, reportOptions{Store: c.String("store"), Output: c.String("output"),
				Experiment: c.String("experiment")}, a.Stdout, a.Stderr)
		},
	}
}

// runReport writes the report of opts.Store to opts.Output (out for "-"),
// and what it wrote, and warnings, to errOut.
func (a *App) runReport(ctx context.Context, opts reportOptions, out, errOut io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if opts.Output == "" {
		opts.Output = "report.html"
	}
	if opts.Output != "-" {
		if info, err := os.Stat(opts.Output); err == nil && info.IsDir() {
			return usageErr("name a file, such as "+filepath.Join(opts.Output, "report.html"), "--output %s is a directory", opts.Output)
		}
	}
	st, only, err := a.openCollected(ctx, opts.Store, opts.Experiment, errOut)
	if err != nil {
		return err
	}
	defer st.Close()
	in := report.Input{Store: st, Name: opts.Store, Now: time.Now()}
	if only.set {
		in.Pick = only.picks
	}
	if opts.Output != "-" {
		in.LinkBase = linkBase(opts.Output, opts.Store)
	}
	// One pass over the records: the page's statistics are summary's,
	// folded as the records stream by (see package report).
	data, err := report.Gather(ctx, in)
	if data == nil {
		return err
	}
	damage := err
	var size countingWriter
	fill := func(w io.Writer) error {
		size.w = w
		return report.Write(&size, data)
	}
	if opts.Output == "-" {
		err = fill(out)
	} else {
		err = writeFileAtomic(opts.Output, fill)
	}
	if err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	if opts.Output != "-" {
		fmt.Fprintf(errOut, "%s: wrote %s (%s, %s)\n", a.Name, opts.Output, formatBytes(size.n), nRuns(data.Overview.Runs))
	}
	return damageExit(a.Name, opts.Store, damage)
}

// linkBase is the store's directory relative to the report's, with
// forward slashes, when the store is at or below it; "" otherwise: links
// that climb out of the report's directory break when the two are copied.
func linkBase(output, storeDir string) string {
	from, err1 := filepath.Abs(filepath.Dir(output))
	to, err2 := filepath.Abs(storeDir)
	if err1 != nil || err2 != nil {
		return ""
	}
	rel, err := filepath.Rel(from, to)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return ""
	}
	return filepath.ToSlash(rel)
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// formatBytes is a size for people: "812 kB", "3.4 MB".
func formatBytes(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d bytes", n)
	case n < 1_000_000:
		return fmt.Sprintf("%.0f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}
