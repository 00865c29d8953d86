// Package e2e holds metalab's end-to-end tests against a real SLURM cluster:
// the one hack/slurm-docker/up.sh brings up on this machine (2 nodes). They
// build the metalab binary, submit real sbatch arrays, and check the store.
//
// They skip when no cluster answers `scontrol ping`, unless
// METALAB_TEST_SLURM=1 (set by hack/test.sh), which makes a missing cluster
// a failure. hack/test.sh runs this package after all the others, alone,
// because tests restart the cluster: one with a small MaxArraySize, one
// with a clean state (job IDs from 1 again, for a recycled job ID).
package e2e
