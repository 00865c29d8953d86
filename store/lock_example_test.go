package store_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/metalab-hpc/metalab/store"
)

// A sweep holds its store exclusively; a SLURM worker of the same store is
// refused (or waits, with Wait) and learns who holds it.
func ExampleStore_Lock() {
	dir, err := os.MkdirTemp("", "lock-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()

	sweep, err := st.Lock(ctx, store.LockOptions{Mode: store.Exclusive, Purpose: "metalab run of experiment \"pi\""})
	if err != nil {
		log.Fatal(err)
	}
	_, err = st.Lock(ctx, store.LockOptions{Mode: store.Shared, Purpose: "metalab worker"})
	var busy *store.BusyError
	if errors.As(err, &busy) {
		fmt.Println("refused; held by:", busy.Holders[0].Purpose, busy.Holders[0].PID == os.Getpid())
	}
	if err := sweep.Release(); err != nil {
		log.Fatal(err)
	}

	// Once released, workers share it.
	a, _ := st.Lock(ctx, store.LockOptions{Mode: store.Shared, Purpose: "worker a"})
	b, err := st.Lock(ctx, store.LockOptions{Mode: store.Shared, Purpose: "worker b"})
	fmt.Println("second worker:", err)
	a.Release()
	b.Release()
	// Output:
	// refused; held by: metalab run of experiment "pi" true
	// second worker: <nil>
}
