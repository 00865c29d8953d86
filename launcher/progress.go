package launcher

import (
	"fmt"
	"io"
	"os"
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
	started  time.Time
}

func newProgress(o Options, h *Handle) *progress {
	p := &progress{h: h, w: o.Progress, mode: o.ProgressMode, interval: o.ProgressInterval, stopc: make(chan struct{})}
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
	p.started = time.Now()
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
		progressbar.OptionSetPredictTime(true),
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
			bar.Describe(fmt.Sprintf("runs (%d failed)", s.Failed))
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
	el := time.Since(p.started)
	eta := "?"
	switch {
	case done >= todo:
		eta = "0s"
	case done > 0:
		eta = (time.Duration(float64(el) / float64(done) * float64(todo-done))).Round(time.Second).String()
	}
	return fmt.Sprintf("metalab: %d/%d runs done (%d completed, %d failed, %d cancelled), %d running, %s elapsed, eta %s",
		done, todo, s.Completed, s.Failed, s.Cancelled, s.Running, el.Round(time.Second), eta)
}
