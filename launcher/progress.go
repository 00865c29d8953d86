package launcher

import (
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows a sweep's progress: a bar on a terminal, otherwise a line
// every interval (a batch job's log stays readable), or nothing.
type progress struct {
	h        *Handle
	w        io.Writer
	mode     string
	interval time.Duration
	stopc    chan struct{}
	wg       sync.WaitGroup
	now      func() time.Time
	started  time.Time
}

func newProgress(o Options, h *Handle) *progress {
	p := &progress{h: h, w: o.Progress, mode: o.ProgressMode, interval: o.ProgressInterval, stopc: make(chan struct{}), now: o.now}
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
	case "lines":
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
	bar := progressbar.NewOptions(todo,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription("runs"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("runs"),
		// The bar's own prediction overflows to 0s on a long sweep and
		// says 0s before the first run ends; the description has ours.
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
			s := p.h.Status()
			bar.Describe(fmt.Sprintf("runs (%d failed, eta %s)", s.Failed, eta(p.now().Sub(p.started), s.Done(), todo)))
			bar.Set(s.Done())
		}
	}
}

// lines writes a line at the start, every interval, and at the end, so
// that even a short sweep's batch log shows its progress.
func (p *progress) lines() {
	defer p.wg.Done()
	fmt.Fprintln(p.w, p.line(p.h.Status()))
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-p.stopc:
			fmt.Fprintln(p.w, p.line(p.h.Status()))
			return
		case <-t.C:
			fmt.Fprintln(p.w, p.line(p.h.Status()))
		}
	}
}

func (p *progress) line(s Status) string {
	todo := p.h.queued
	done := s.Done()
	el := p.now().Sub(p.started)
	return fmt.Sprintf("metalab: %d/%d runs done (%d completed, %d failed, %d cancelled), %d running, %s elapsed, eta %s",
		done, todo, s.Completed, s.Failed, s.Cancelled, s.Running, formatSeconds(el.Seconds()), eta(el, done, todo))
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
