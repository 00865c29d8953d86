package launcher

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/metalab-hpc/metalab/report"
	"github.com/metalab-hpc/metalab/serve"
	"github.com/metalab-hpc/metalab/slurm"
	"github.com/metalab-hpc/metalab/store"
)

type serveOptions struct {
	Store      string
	Experiment string // NAME[@VERSION]; "": every experiment
	Listen     string // host:port; port 0 picks a free one
	Refresh    time.Duration
	// started, when set, is called with the page's URL (token included)
	// once the server listens: for tests.
	started func(url string)
}

// statusInterval is the shortest interval between two scheduler calls of
// `status --watch`, and so of serve.
const statusInterval = 10 * time.Second

func (a *App) cmdServe() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "serve the report of a store as a live page, while its sweep runs",
		Description: "Serves the page of 'report' over HTTP, live: the counts and the progress of the\n" +
			"sweep update by themselves, the charts are drawn again from the latest records on\n" +
			"request, clicking a run shows its log (what 'logs RUN' prints), and the artifacts\n" +
			"runs stored are served from the store. It reads the store every --refresh (shared by\n" +
			"every open page) and asks SLURM no more often than 'status --watch' does.\n\n" +
			"Login nodes are shared, so: it listens on 127.0.0.1 only unless --listen says\n" +
			"otherwise; every request needs a random token, made at start and printed in the\n" +
			"URL to open; it is read-only (GET and HEAD); it serves no file but the artifacts\n" +
			"of runs, and none through a symlink. From a laptop, open the SSH tunnel it prints,\n" +
			"then the URL. Ctrl-C (SIGINT) or SIGTERM stops it.\n\n" +
			"--listen HOST:PORT picks the address; port 0 (the default) picks a free port.\n" +
			"--experiment NAME[@VERSION] shows one experiment of a store that holds several.\n\n" +
			"EXAMPLES:\n" +
			"   metalab serve --store runs/pi\n" +
			"   metalab serve --store /scratch/$USER/sweep --listen 127.0.0.1:8765\n" +
			"   ssh -N -L 8765:127.0.0.1:8765 me@login.cluster   # on the laptop, then open the URL\n" +
			"   metalab serve --store runs/sweep --experiment sweep@2 --refresh 5s",
		Flags: []cli.Flag{
			storeFlag(),
			experimentFlag(),
			&cli.StringFlag{Name: "listen", Aliases: []string{"l"}, Value: "127.0.0.1:0", Usage: "listen on `HOST:PORT` (port 0: a free one)"},
			&cli.DurationFlag{Name: "refresh", Value: 2 * time.Second, Usage: "read the store at most every `INTERVAL` (at least 1s)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErr(fmt.Sprintf("usage: %s serve --store DIR [--listen HOST:PORT]", a.Name), "serve takes no arguments, got %q", c.Args().First())
			}
			return a.runServe(c.Context, serveOptions{Store: c.String("store"), Experiment: c.String("experiment"),
				Listen: c.String("listen"), Refresh: c.Duration("refresh")}, a.Stdout)
		},
	}
}

// runServe serves the store's live page until ctx ends (SIGINT, SIGTERM),
// and prints the URL to open, and the SSH tunnel to it, to out.
func (a *App) runServe(ctx context.Context, opts serveOptions, out io.Writer) error {
	st, err := store.OpenExisting(opts.Store)
	if err != nil {
		return err
	}
	_, err = storeExperiment(st, opts.Experiment, a.Name)
	st.Close()
	if err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(opts.Listen)
	if err != nil {
		return usageErr("give HOST:PORT, such as 127.0.0.1:8765", "--listen %q: %v", opts.Listen, err)
	}
	src := &serveSource{dir: opts.Store, spec: opts.Experiment, prog: a.Name, client: a.slurmClient()}
	token := serve.NewToken()
	srv, err := serve.New(serve.Options{Store: opts.Store, Token: token, Source: src, Refresh: max(opts.Refresh, time.Second)})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return usageErr("pick another port with --listen 127.0.0.1:PORT (or port 0 for a free one)", "listening on %s: %v", opts.Listen, err)
	}
	_, port, _ = net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		fmt.Fprintf(a.Stderr, "%s: warning: listening on %s, not on 127.0.0.1: anyone who can reach it and learns the token reads the sweep\n", a.Name, ln.Addr())
	}
	shown := cmp.Or(host, "127.0.0.1")
	if ip := net.ParseIP(shown); ip != nil && ip.IsUnspecified() {
		shown = "127.0.0.1"
	}
	page := (&url.URL{Scheme: "http", Host: net.JoinHostPort(shown, port), Path: "/", RawQuery: "token=" + token}).String()
	fmt.Fprintf(out, "%s: serving the report of %s at\n\n    %s\n\n", a.Name, opts.Store, page)
	fmt.Fprintf(out, "From a laptop, open a tunnel to this machine first, then the URL above there:\n\n    %s\n\n", tunnel(port))
	fmt.Fprintf(out, "Ctrl-C stops the server.\n")
	if opts.started != nil {
		opts.started(page)
	}

	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Fprintf(out, "%s: stopped serving %s\n", a.Name, opts.Store)
	return nil
}

// tunnel is the ssh command that forwards port on a laptop to port on
// this machine's loopback.
func tunnel(port string) string {
	who := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		who = u.Username
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "THIS_HOST"
	}
	if who != "" {
		host = who + "@" + host
	}
	return fmt.Sprintf("ssh -N -L %s:127.0.0.1:%s %s", port, port, host)
}

// serveSource is what `metalab serve` shows of a store: the data of
// `report`, the counts of `status`, the output of `logs`. It opens the
// store for each call, as those commands do, so that a sweep writing it
// meanwhile is read as it is.
type serveSource struct {
	dir, spec, prog string
	client          *slurm.Client

	mu   sync.Mutex
	last storeStatus
	wait time.Duration // the wait after the last scheduler call
}

var _ serve.Source = (*serveSource)(nil)

// Data is the report's data, artifacts linked under serve.StorePrefix.
func (s *serveSource) Data(ctx context.Context) (*report.Data, error) {
	st, err := store.OpenExisting(s.dir)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	only, err := storeExperiment(st, s.spec, s.prog)
	if err != nil {
		return nil, err
	}
	if _, err := st.Collect(ctx); err != nil {
		return nil, err
	}
	in := report.Input{Store: st, Name: s.dir, LinkBase: serve.StorePrefix, Served: true, Now: time.Now()}
	if only.set {
		in.Pick = only.picks
	}
	d, err := report.Gather(ctx, in)
	if d == nil {
		return nil, err
	}
	if err != nil { // damage: the records that could be read, and a note
		d.Notes = append(d.Notes, fmt.Sprintf("Some records could not be read: %v", err))
	}
	return d, nil
}

// Status is readStatus, as `metalab status` gives it. Once it asked the
// scheduler, it asks for the wait of `status --watch`: statusInterval,
// longer while nothing changes.
func (s *serveSource) Status(ctx context.Context) (serve.Status, time.Duration, error) {
	rs, err := readStatus(ctx, s.dir, s.spec, s.prog, s.client)
	if err != nil {
		return serve.Status{}, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var wait time.Duration
	if rs.Scheduler != nil {
		s.wait = nextRefresh(s.wait, statusInterval, s.wait == 0 || !statusEqual(rs, s.last))
		wait = s.wait
	}
	s.last = rs
	return serve.Status{Total: rs.Total, Completed: rs.Completed, Failed: rs.Failed, Cancelled: rs.Cancelled,
		Running: rs.Running, Pending: rs.Pending, Notes: statusNotes(s.prog, rs)}, wait, nil
}

// Log writes what `metalab logs RUN` prints.
func (s *serveSource) Log(ctx context.Context, w io.Writer, runID string) error {
	st, err := store.OpenExisting(s.dir)
	if err != nil {
		return err
	}
	defer st.Close()
	rec, err := findRun(st, runID, s.prog)
	if rec == nil {
		var ue *exitError
		if errors.As(err, &ue) {
			return noRun{err}
		}
		return err
	}
	return writeLogs(w, st, rec, logsOptions{})
}

// noRun is findRun's error for a run the store does not have.
type noRun struct{ error }

func (noRun) Is(target error) bool { return target == fs.ErrNotExist }
