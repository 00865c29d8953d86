package shard_test

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"github.com/metalab-hpc/metalab/shard"
)

func ExampleSplit() {
	// Plan indexes 0-9999 minus the completed 0-99.
	todo := make([]int, 0, 9900)
	for i := 100; i < 10000; i++ {
		todo = append(todo, i)
	}
	// The store's completed runs took 3 to 5.25 s; a task has a time
	// limit of an hour, less its worker's margin of 6 minutes. Tasks of
	// 5 minutes would be 142; 4 rounds of the 6 slots are enough.
	took := []time.Duration{}
	for i := range 100 {
		took = append(took, 3*time.Second+time.Duration(i%10)*250*time.Millisecond)
	}
	l, err := shard.Split(todo, shard.Params{
		MaxConcurrent: 6,
		Durations:     shard.Observe(took), Usable: 54 * time.Minute,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(l.Summary())
	// Output:
	// 9900 runs in 24 tasks of at most 413 runs, 1 array, at most 6 tasks at once
	//   array 0: --array=0-23%6, 9900 runs
	// task size: from 100 completed runs (median 4.3s, 90th percentile 5s): about 29m15s of runs per task
}

func ExampleLayout_Shard() {
	l, err := shard.Split([]int{5, 6, 7, 8, 9, 20, 21}, shard.Params{RunsPerTask: 3})
	if err != nil {
		fmt.Println(err)
		return
	}
	// In a worker: array from the submission record, task from
	// SLURM_ARRAY_TASK_ID.
	for task := range l.Arrays[0].Tasks {
		runs, _ := l.Shard(0, task)
		fmt.Println(task, runs)
	}
	_, err = l.Shard(0, 3)
	fmt.Println(err)
	// Output:
	// 0 [5 6 7]
	// 1 [8 9 20]
	// 2 [21]
	// shard: task 3 out of range: array 0 has 3 tasks (0-2)
}

func ExampleLayout_Encode() {
	todo := make([]int, 2500)
	for i := range todo {
		todo[i] = i
	}
	l, _ := shard.Split(todo, shard.Params{RunsPerTask: 1000, MaxArraySize: 2, MaxConcurrent: 1})
	var buf bytes.Buffer
	if err := l.Encode(&buf); err != nil {
		fmt.Println(err)
		return
	}
	os.Stdout.Write(buf.Bytes())

	back, _ := shard.Decode(&buf)
	runs, _ := back.Shard(1, 0)
	fmt.Println(len(runs), runs[0], runs[len(runs)-1])
	// Output:
	// {"format":1,"runs":2500,"runs_per_task":1000,"arrays":[
	// {"tasks":2,"throttle":1,"after":[],"shards":[
	// "0-999",
	// "1000-1999"
	// ]},
	// {"tasks":1,"throttle":1,"after":[0],"shards":[
	// "2000-2499"
	// ]}
	// ]}
	// 500 2000 2499
}
