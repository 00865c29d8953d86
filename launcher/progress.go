package launcher

import (
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows a sweep's progress: a bar on a terminal, otherwise a line
// every interval (a batch job's log stays readable), or nothing. Mode "log"
// writes the lines as records of the sweep's logger instead, so that a JSON
// log (--log-format json) holds nothing but JSON. A sweep with nothing to
// run shows nothing: the caller says so once.
type progress struct {
	h        *Handle
	w        io.Writer
	log      zerolog.Logger
	mode     string
	interval time.Duration
	stopc    chan struct{}
	wg       sync.WaitGroup
	now      func() time.Time
	started  time.Time
}

func newProgress(o Options, h *Handle) *progress {
	p := &progress{h: h, w: o.Progress, log: defaultLogger(o.Logger), mode: o.ProgressMode, interval: o.ProgressInterval, stopc: make(chan struct{}), now: o.now}
	if p.now == nil {
		p.now = time.Now
	}
	if p.w == nil {
		p.w = os.Stderr
	}
	if p.interval <= 0 {
		p.interval = 10 * time.Second
	}
	if p.mode == "" || p.mode == "auto" {
		p.mode = "lines"
		if isTerminal(p.w) {
			p.mode = "bar"
		}
	}
	if h.queued == 0 {
		p.mode = "quiet"
	}
	return p
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (p *progress) start() {
	p.started = p.now()
	switch p.mode {
	case "bar":
		p.wg.Add(1)
		go p.bar()
	case "lines", "log":
		p.wg.Add(1)
		go p.lines()
	}
}

func (p *progress) stop() {
	close(p.stopc)
	p.wg.Wait()
}

func (p *progress) bar() {
	defer p.wg.Done()
	todo := p.h.queued
	g := guardFor(p.w)
	var w io.Writer = p.w
	if g != nil {
		// Log lines clear the bar's line before they are written.
		w = barWriter{g}
		g.setBar(true)
		defer g.setBar(false)
	}
	bar := progressbar.NewOptions(todo,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("runs"),
		progressbar.OptionShowCount(),
		// The bar's own rate says "0 runs/hr" until a run ends, and
		// its prediction overflows to 0s on a long sweep and says 0s
		// before the first run ends; the description has ours.
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetWidth(30),
		progressbar.OptionClearOnFinish(),
	)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stopc:
			bar.Set(p.h.Status().Done())
			bar.Finish()
			return
		case <-t.C:
			// The count first: Describe draws the bar at once, and a
			// failed count ahead of the count it belongs to read as
			// more failures than runs done.
			s := p.h.Status()
			bar.Set(s.Done())
			bar.Describe(p.barText(s))
		}
	}
}

// barText is the bar's description: failures, pace and time left, each
// once there is something to say.
func (p *progress) barText(s Status) string {
	el := p.now().Sub(p.started)
	text := fmt.Sprintf("runs (%d failed", s.Failed)
	if r := rate(el, s.Done()); r != "" {
		text += ", " + r
	}
	return text + ", eta " + eta(el, s.Done(), p.h.queued) + ")"
}

// rate is the pace of a sweep so far, in the unit that gives it a whole
// number: "" before the first run ends.
func rate(elapsed time.Duration, done int) string {
	if done <= 0 || elapsed <= 0 {
		return ""
	}
	perSec := float64(done) / elapsed.Seconds()
	switch {
	case perSec >= 1:
		return fmt.Sprintf("%.0f runs/s", perSec)
	case perSec*60 >= 1:
		return fmt.Sprintf("%.0f runs/min", perSec*60)
	}
	return fmt.Sprintf("%.1f runs/hr", perSec*3600)
}

// lines writes a line at the start, every interval, and at the end, so
// that even a short sweep's batch log shows its progress.
func (p *progress) lines() {
	defer p.wg.Done()
	p.emit(p.h.Status())
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-p.stopc:
			p.emit(p.h.Status())
			return
		case <-t.C:
			p.emit(p.h.Status())
		}
	}
}

// emit writes one progress line, or record.
func (p *progress) emit(s Status) {
	if p.mode != "log" {
		fmt.Fprintln(lineWriter(p.w), p.line(s))
		return
	}
	el := p.now().Sub(p.started)
	p.log.Info().Int(fieldDone, s.Done()).Int(fieldToRun, p.h.queued).Int(fieldCompleted, s.Completed).
		Int(fieldFailed, s.Failed).Int(fieldCancelled, s.Cancelled).Int(fieldRunning, s.Running).
		Str(fieldElapsed, formatSeconds(el.Seconds())).Str(fieldETA, eta(el, s.Done(), p.h.queued)).Msg("progress")
}

func (p *progress) line(s Status) string {
	todo := p.h.queued
	done := s.Done()
	el := p.now().Sub(p.started)
	return fmt.Sprintf("metalab: %d/%d runs done (%d completed, %d failed, %d cancelled), %d running, %s elapsed, eta %s",
		done, todo, s.Completed, s.Failed, s.Cancelled, s.Running, formatSeconds(el.Seconds()), eta(el, done, todo))
}

// A progress bar and log lines share a terminal. Each log line is written
// whole, after clearing the bar's line, so that it never lands glued to
// the bar; the bar is drawn again, under it, at its next refresh (a tenth
// of a second). The bar and the loggers meet only through the file they
// write to, so the file is what joins them.

// termGuard serialises the writes to one file of a bar and of lines.
type termGuard struct {
	mu  sync.Mutex
	f   *os.File
	bar bool // a bar is being drawn on the file's last line
}

// termGuards holds a guard per file written to, as *os.File → *termGuard.
var termGuards sync.Map

// guardFor returns the guard of w, if w is a file, or nil.
func guardFor(w io.Writer) *termGuard {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return nil
	}
	g, _ := termGuards.LoadOrStore(f, &termGuard{f: f})
	return g.(*termGuard)
}

func (g *termGuard) setBar(on bool) {
	g.mu.Lock()
	g.bar = on
	g.mu.Unlock()
}

// lineWriter returns a writer of whole lines to w (one a Write call, as
// loggers write) that never lands on the line of a progress bar drawn on
// w.
func lineWriter(w io.Writer) io.Writer {
	if g := guardFor(w); g != nil {
		return guardedLines{g}
	}
	return w
}

type guardedLines struct{ g *termGuard }

func (l guardedLines) Write(b []byte) (int, error) {
	l.g.mu.Lock()
	defer l.g.mu.Unlock()
	if l.g.bar {
		// Carriage return and erase the line: the bar's line is empty
		// again, and the line takes its place.
		if _, err := io.WriteString(l.g.f, "\r\x1b[K"); err != nil {
			return 0, err
		}
	}
	return l.g.f.Write(b)
}

// barWriter is the bar's way to its file, one drawing at a time with the
// lines.
type barWriter struct{ g *termGuard }

func (b barWriter) Write(p []byte) (int, error) {
	b.g.mu.Lock()
	defer b.g.mu.Unlock()
	return b.g.f.Write(p)
}

// eta estimates the time left from the rate so far: "?" before the first
// run ends.
func eta(elapsed time.Duration, done, todo int) string {
	switch {
	case done >= todo:
		return "0s"
	case done <= 0 || elapsed <= 0:
		return "?"
	}
	// In float seconds: the product overflows a Duration on a long sweep.
	return formatSeconds(elapsed.Seconds() / float64(done) * float64(todo-done))
}

// formatSeconds writes a duration that may be far beyond what a
// time.Duration holds: as a Duration up to two days, then in days, then in
// years.
func formatSeconds(sec float64) string {
	const day, year = 86400, 365.25 * 86400
	switch {
	case math.IsNaN(sec) || math.IsInf(sec, 0) || sec < 0:
		return "?"
	case sec < 2*day:
		return (time.Duration(sec * float64(time.Second))).Round(time.Second).String()
	case sec < 2*year:
		return strconv.FormatFloat(sec/day, 'f', 1, 64) + " days"
	case sec < 1e15*year:
		return groupDigits(int(sec/year)) + " years"
	}
	return strconv.FormatFloat(sec/year, 'g', 3, 64) + " years"
}
