package report

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"time"
)

//go:embed assets/page.html.tmpl
var pageSource string

//go:embed assets/report.css
var css string

//go:embed assets/report.js
var script string

//go:embed assets/live.js
var liveScript string

var page = template.Must(template.New("page").Funcs(template.FuncMap{
	"seconds": formatSeconds,
	"time":    formatTime,
	"join":    strings.Join,
	"statuses": func(c map[string]int) []statusCount {
		var out []statusCount
		for _, s := range []string{"completed", "failed", "cancelled", "running"} {
			if c[s] > 0 {
				out = append(out, statusCount{s, c[s]})
			}
		}
		return out
	},
	"ref": func(e Experiment) string {
		if e.Version == "" {
			return e.Name
		}
		return e.Name + "@" + e.Version
	},
	"minus": func(a, b int) int { return a - b },
}).Parse(pageSource))

type statusCount struct {
	Status string
	N      int
}

// Live is what the page of `metalab serve` adds to the report: where it
// asks for the sweep's latest counts, data and logs, relative to the page,
// and how often. The page fetches nothing else.
type Live struct {
	State     string `json:"state"` // the counts, as JSON
	Data      string `json:"data"`  // a newer [Data], as JSON
	Log       string `json:"log"`   // a run's log: the run ID is appended
	RefreshMs int    `json:"refresh_ms"`
}

// Write writes the page of d to w: one HTML file with its style, script
// and data inside. It writes nothing unless the whole page renders.
func Write(w io.Writer, d *Data) error { return write(w, d, nil) }

// WriteLive writes the page of d as [Write] does, with the script that
// keeps its counts up to date and shows a run's log from live's URLs.
func WriteLive(w io.Writer, d *Data, live Live) error { return write(w, d, &live) }

func write(w io.Writer, d *Data, live *Live) error {
	data, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("report: encoding its data: %w", err)
	}
	var liveJSON []byte
	if live != nil {
		if liveJSON, err = json.Marshal(live); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	// json.Marshal escapes <, > and & in strings, so no run's string can
	// close the script element that holds the data.
	var buf bytes.Buffer
	err = page.Execute(&buf, struct {
		*Data
		JSON       template.JS
		CSS        template.CSS
		Script     template.JS
		Live       bool
		LiveJSON   template.JS
		LiveScript template.JS
	}{d, template.JS(data), template.CSS(css), template.JS(script), live != nil, template.JS(liveJSON), template.JS(liveScript)})
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// formatSeconds writes a duration for people: "0.42 s", "3 min 20 s",
// "2 h 05 min", "3 d 4 h".
func formatSeconds(v any) string {
	var s float64
	switch x := v.(type) {
	case float64:
		s = x
	case Num:
		s = float64(x)
	}
	switch {
	case math.IsNaN(s) || math.IsInf(s, 0):
		return "-"
	case s < 10:
		return fmt.Sprintf("%.3g s", s)
	case s < 60:
		return fmt.Sprintf("%.0f s", s)
	case s < 3600:
		return fmt.Sprintf("%d min %02d s", int(s)/60, int(s)%60)
	case s < 86400:
		return fmt.Sprintf("%d h %02d min", int(s)/3600, int(s)%3600/60)
	}
	return fmt.Sprintf("%d d %d h", int(s)/86400, int(s)%86400/3600)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}
