package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/store"
)

// groupedQuery is docs/postgres.md's example: the mean pi_estimate by
// n_samples across all experiments.
const groupedQuery = `SELECT (params->>'n_samples')::bigint AS n_samples,
       count(*) AS runs, avg((metrics->>'pi_estimate')::float8) AS mean_pi
FROM runs WHERE status = 'completed' AND metrics ? 'pi_estimate'
GROUP BY 1 ORDER BY 1`

// postgresScenario is scenario 8: `metalab store export` of a store of n
// runs written by nodes writers into a new database, the export again
// (nothing new), and the grouped query's time. The server is
// $METALAB_TEST_POSTGRES (bash hack/postgres/up.sh prints it).
func postgresScenario(dir string, n, nodes, workers int, add func(row)) {
	base := os.Getenv("METALAB_TEST_POSTGRES")
	if base == "" {
		add(row{scenario: "8. export to PostgreSQL", figure: "skipped: no METALAB_TEST_POSTGRES (bash hack/postgres/up.sh)", ratio: -1})
		return
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	must(err)
	name := fmt.Sprintf("metalab_bench_%d", time.Now().UnixNano())
	_, err = conn.Exec(ctx, "CREATE DATABASE "+name)
	must(err)
	defer func() {
		conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		conn.Close(ctx)
	}()
	u, err := url.Parse(base)
	must(err)
	u.Path = "/" + name
	db := u.String()

	st := filepath.Join(dir, "pg-store")
	must(runChild("seed-pg", st, strconv.Itoa(n), strconv.Itoa(nodes)))
	defer os.RemoveAll(st)
	m := measure(dir, "pg-export", n, workers, st, db)
	add(row{
		scenario: fmt.Sprintf("8. export %s runs (%d segments) to PostgreSQL", count(n), nodes),
		figure:   fmt.Sprintf("%.1f s, %.0f runs/s, %s peak", m.seconds, float64(n)/m.seconds, mib(m.maxRSS)),
		target:   "≤30 s", met: m.seconds <= 30, ratio: -1,
	})
	again := measure(dir, "pg-export", n, workers, st, db)
	add(row{
		scenario: "8. the same export again (nothing new)",
		figure:   fmt.Sprintf("%.2f s", again.seconds),
		target:   "≤1 s", met: again.seconds <= 1, ratio: -1,
	})
	q := measure(dir, "pg-query", n, workers, db)
	add(row{
		scenario: fmt.Sprintf("8. grouped query over %s runs (mean pi_estimate by n_samples)", count(n)),
		figure:   fmt.Sprintf("%.2f s (median of 3)", q.seconds),
		target:   "≤2 s", met: q.seconds <= 2, ratio: -1,
	})
}

// seedPG writes n completed runs of a Monte Carlo experiment, a grid of 10
// values of n_samples times 2 methods, as nodes writers would, each with
// a start and an end record.
func seedPG(dir string, n, nodes int) error {
	st, err := store.Open(dir)
	if err != nil {
		return err
	}
	defer st.Close()
	spec := []byte(`{"experiment":"pi_bench","version":"1"}`)
	sum := sha256.Sum256(spec)
	if _, err := st.AddExperiment(store.ExperimentInfo{Name: "pi_bench", Version: "1",
		Plan: store.PlanInfo{Identity: hex.EncodeToString(sum[:]), Spec: spec, Runs: n}}); err != nil {
		return err
	}
	samples := []int64{100, 300, 1000, 3000, 10000, 30000, 100000, 300000, 1000000, 3000000}
	t0 := time.Unix(1_800_000_000, 0).UTC()
	for k := range nodes {
		w, err := st.NewWriter(store.WriterOptions{Name: fmt.Sprintf("job-%02d", k), Node: fmt.Sprintf("node%02d", k)})
		if err != nil {
			return err
		}
		for i := k; i < n; i += nodes {
			id := sha256.Sum256([]byte(strconv.Itoa(i)))
			ns := samples[i%len(samples)]
			rec := &store.Record{Format: store.RecordFormat, RunID: hex.EncodeToString(id[:8]), Status: store.StatusRunning,
				Experiment: "pi_bench", Version: "1",
				Params:   params.Point{"n_samples": ns, "method": []string{"mc", "qmc"}[i/len(samples)%2]},
				SeedBase: 42, Replicate: i / 20, Seed: uint64(i) * 0x9e3779b97f4a7c15, Code: "0123456789ab",
				Started: t0.Add(time.Duration(i) * time.Millisecond), Host: fmt.Sprintf("node%02d", k), PID: 1000 + k}
			if err := w.Append(rec); err != nil {
				return err
			}
			end := *rec
			end.Status, end.Ended = store.StatusCompleted, rec.Started.Add(time.Duration(ns)*time.Microsecond)
			end.Metrics = capture.Metrics{"pi_estimate": 3.14159 + float64(i%997-498)/float64(ns)}
			if err := w.Append(&end); err != nil {
				return err
			}
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
	return nil
}

// pgQuery runs the grouped query 3 times and prints the median time.
func pgQuery(db string, out io.Writer) error {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var times []float64
	for range 3 {
		start := time.Now()
		rows, err := conn.Query(ctx, groupedQuery)
		if err != nil {
			return err
		}
		groups := 0
		for rows.Next() {
			groups++
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if groups != 10 {
			return fmt.Errorf("the grouped query gave %d groups, want 10", groups)
		}
		times = append(times, time.Since(start).Seconds())
	}
	slices.Sort(times)
	_, err = fmt.Fprintln(out, times[1])
	return err
}
