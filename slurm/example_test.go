package slurm_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/metalab-hpc/metalab/slurm"
)

func ExampleParseSqueue() {
	// Recorded from squeue -h -o slurm.SqueueFormat with SLURM_BITSTR_LEN=0:
	// an array of 10 throttled to 2, two tasks running, the rest pending.
	out := `42_[2-9%2]|42|42|2-9%2|PENDING|JobArrayTaskLimit||thr
42_0|48|42|0|RUNNING|None|n1|thr
42_1|49|42|1|RUNNING|None|n2|thr
`
	jobs, err := slurm.ParseSqueue(strings.NewReader(out))
	if err != nil {
		log.Fatal(err)
	}
	for _, j := range jobs {
		fmt.Printf("%s tasks=%v throttle=%d node=%q\n", j.State, j.ArrayTasks, j.Throttle, j.NodeList)
	}
	// Output:
	// PENDING tasks=[2 3 4 5 6 7 8 9] throttle=2 node=""
	// RUNNING tasks=[0] throttle=0 node="n1"
	// RUNNING tasks=[1] throttle=0 node="n2"
}

func ExampleClient() {
	c := &slurm.Client{Timeout: 30 * time.Second}
	ctx := context.Background()
	id, err := c.Submit(ctx, "", "--array=0-9%2", "--output=/dev/null", "--wrap=sleep 5")
	if err != nil {
		log.Fatal(err) // a *slurm.CommandError: command line, exit status, stderr, hint
	}
	jobs, err := c.Queue(ctx, []string{id}) // one squeue call, whatever the number of IDs
	if err != nil {
		log.Fatal(err)
	}
	for _, j := range jobs {
		fmt.Println(j.JobID, j.State, len(j.ArrayTasks))
	}
	if _, ok, err := c.Accounting(ctx, []string{id}); err == nil && !ok {
		fmt.Println("no accounting: use squeue -t all within MinJobAge, or the jobcomp log")
	}
}
