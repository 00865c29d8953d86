package report

import (
	"fmt"
	"math"
	"time"
)

// timing spreads the runs over TimeBins bins of time: when they ended, by
// status, and how many ran at once on each host.
func (g *gatherer) timing() Timing {
	t := Timing{Ended: map[string][]int{}, Hosts: []HostTiming{}}
	if len(g.spans) == 0 {
		return t
	}
	start, end := g.spans[0].start, g.spans[0].when
	for _, s := range g.spans {
		start, end = min(start, s.start), max(end, s.when)
	}
	t.Start = time.Unix(0, start).UTC()
	span := float64(end-start) / 1e9
	// As many bins as runs, between 10 and TimeBins: a few runs get wide
	// bars, not slivers.
	nb := min(max(g.runs, 10), TimeBins)
	t.BinSeconds = max(span/float64(nb), 0.001)
	bins := min(int(math.Ceil(span/t.BinSeconds)), nb) + 1
	binOf := func(at float64) int { return min(max(int(at/t.BinSeconds), 0), bins-1) }
	type host struct {
		runs    int
		busy    float64
		running []float64
	}
	hosts := make([]host, len(g.hostNames))
	counts := map[string]int{}
	for _, s := range g.spans {
		a := float64(s.start-start) / 1e9
		b := float64(s.when-start) / 1e9
		if s.status != notEnded {
			st := g.statuses[s.status]
			if t.Ended[st] == nil {
				t.Ended[st] = make([]int, bins)
			}
			t.Ended[st][binOf(b)]++
		} else {
			b = span // still running, or lost: until the last record
		}
		h := &hosts[s.host]
		if h.running == nil {
			h.running = make([]float64, bins)
		}
		h.runs++
		counts[g.hostNames[s.host]]++
		h.busy += b - a
		for i := binOf(a); i < bins && float64(i)*t.BinSeconds < b; i++ {
			lo, hi := max(a, float64(i)*t.BinSeconds), min(b, float64(i+1)*t.BinSeconds)
			if hi > lo {
				h.running[i] += (hi - lo) / t.BinSeconds
			}
		}
	}
	names := sortedByCount(counts)
	var other *HostTiming
	for i, name := range names {
		h := hosts[g.hostIndex[name]]
		if i < MaxHosts {
			ht := HostTiming{Host: name, Runs: h.runs, BusySeconds: h.busy}
			for _, v := range h.running {
				ht.Running = append(ht.Running, Num(v))
			}
			t.Hosts = append(t.Hosts, ht)
			continue
		}
		if other == nil {
			other = &HostTiming{Running: make([]Num, bins)}
		}
		other.Runs += h.runs
		other.BusySeconds += h.busy
		for j, v := range h.running {
			other.Running[j] += Num(v)
		}
	}
	if other != nil {
		other.Host = fmt.Sprintf("%d %s", len(names)-MaxHosts, otherHosts)
		t.Hosts = append(t.Hosts, *other)
	}
	return t
}
