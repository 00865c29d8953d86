// Package shard owns the layout of a SLURM submission: which plan indexes
// each task of each job array runs. It is pure logic; its only I/O is
// encoding a [Layout] to an [io.Writer] and decoding it from an [io.Reader].
//
// [Split] cuts the plan indexes still to run into shards, consecutive slices
// of the given order with [Layout.RunsPerTask] indexes each (the last shard
// may be shorter), and deals the shards to as many job arrays as SLURM's
// MaxArraySize requires. Array tasks are numbered from 0 in every array, so
// task t of array a runs the shard [Layout.Shard](a, t); a worker calls it
// with SLURM_ARRAY_TASK_ID.
//
// # Runs per task
//
// With [Params.RunsPerTask] 0, Split picks the number of tasks T first and
// sets RunsPerTask = ceil(runs/T). A task costs the scheduler a job record
// and a start, and the store a segment and a log, so tasks should be few
// and long enough; but not longer than their time limit, and not fewer than
// the slots that may run them at once. Let S be [Params.MaxConcurrent], or
// [DefaultSlots] (32) without a throttle.
//
//   - Nothing known (fewer than [MinKnown] completed runs, the first
//     submission of a sweep): T = S, one task per slot. 2,000 runs become
//     32 tasks of 63, not 1,000 tasks of 2.
//   - Durations known ([Params.Durations], the median and 90th percentile
//     of the store's completed runs): each task gets the runs that take
//     [TaskTarget] (5 minutes) at the median on [Params.Workers] CPUs,
//     and no more than 80% of [Params.Usable] (the time limit less the
//     worker's stopping margin) holds at the 90th percentile. T is then at
//     least S, to fill the slots, and at most [TasksPerSlot] x S with a
//     throttle ([DefaultTasks], 1000, without) unless the time limit needs
//     more tasks than that.
//   - T is at most MaxJobCount/2: array tasks take job records in slurmctld,
//     which holds at most MaxJobCount of them for all users together, and
//     half is left to other users' jobs; the time limit yields to it;
//   - T is at most the number of runs, so RunsPerTask is at least 1.
//
// [Layout.Estimate] says which rule sized the tasks. An explicit
// RunsPerTask is taken as given, but Split refuses it when the tasks it
// needs exceed MaxJobCount/2.
//
// # Throttle and lanes
//
// SLURM's %N throttle ([Array.Throttle]) limits one array. To hold
// [Params.MaxConcurrent] for the whole submission, Split deals the tasks to
// L = min(arrays needed, C) lanes. Lane l gets a share c_l of C, the shares
// differing by at most one and summing to C (so every lane runs at least one
// task at a time). Each lane gets one task plus a part of the rest
// proportional to its share, so that all lanes finish at about the same time,
// and splits them into as few arrays of at most MaxArraySize tasks as it can,
// of nearly equal sizes, each with throttle c_l (or its task count, if
// smaller). The arrays of a lane run one after the other: each names the
// previous one in [Array.After], to be submitted with
// --dependency=afterany:<job id>, so that a failed array does not stall its
// lane. At any moment at most one array per lane runs, so at most C tasks run
// in all, whatever the number of arrays, and lanes never wait for each other.
// [Layout.MaxRunning] computes that bound from the arrays.
//
// Arrays are numbered wave by wave: first the first array of every lane, then
// the second, and so on, so the first indexes of the given order are the
// first to run. Without a throttle every array is independent, and the tasks
// are spread evenly over the fewest arrays that fit.
//
// # Encoding
//
// Sweeps reach millions of runs, so a layout is held and encoded as runs of
// consecutive indexes: [Layout.Encode] writes JSON in which each shard is a
// string of ranges like "0-999" or "3,5-9,12", one range for any contiguous
// stretch, and [Decode] reads it back with every consistency check Split
// guarantees. [Layout.Shard] finds a shard by binary search.
package shard
