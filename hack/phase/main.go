package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/metalab-hpc/metalab/launcher"
	"github.com/metalab-hpc/metalab/store"
)

func main() {
	dir := os.Args[1]
	t0 := time.Now()
	st, _ := store.OpenExisting(dir)
	t1 := time.Now()
	st.Collect(context.Background())
	t2 := time.Now()
	sn, _ := st.Snapshot()
	t3 := time.Now()
	n := 0
	sn.Lines(func(l []byte) error { n++; return nil })
	t4 := time.Now()
	st.Close()
	fmt.Println("open", t1.Sub(t0), "collect", t2.Sub(t1), "snapshot", t3.Sub(t2), "lines", t4.Sub(t3), n)
	t5 := time.Now()
	res, err := launcher.LoadResults(dir)
	t6 := time.Now()
	s := res.Summary("lr")
	fmt.Println("load", t6.Sub(t5), "summary", time.Since(t6), len(s), err)
}
