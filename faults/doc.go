// Package faults holds metalab's fault tests of the local runner: they build
// the metalab binary, run real sweeps whose operation is a shell script, and
// hurt them — kill -9 at random moments, a full filesystem, operations that
// hang, fork, flood stdout or die by a signal — then check that the store
// lost nothing, counted nothing twice and repairs itself on the next run.
//
// Each test prints one line of figures (kills=40 runs=2000 lost=0 ...), which
// docs/reliability.md collects. The SLURM fault tests live in package e2e.
package faults
