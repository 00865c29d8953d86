package launcher

import (
	"context"
	"os"

	"github.com/metalab-hpc/metalab/pgstore"
)

// The commands that read a store (results, summary, status) read a
// PostgreSQL database too, --store postgres://...?experiment=NAME[@VERSION]:
// the runs it picks are copied into a temporary store directory, which the
// command then reads as any other. So the output is the directory's by
// construction, through the same code, at the cost of one copy.

// storeDir returns the store directory a read command is to read for
// --store arg and --experiment exp: arg itself, or, for a database URL, a
// temporary copy of the runs of the experiment that the URL's
// "experiment" or exp names (all, when neither does), which done removes.
func storeDir(ctx context.Context, arg, exp string) (dir, experiment string, done func(), err error) {
	if !pgstore.IsURL(arg) {
		return arg, exp, func() {}, nil
	}
	conn, fromURL, err := pgstore.SplitURL(arg)
	if err != nil {
		return "", "", nil, inputErr(err, "")
	}
	switch {
	case exp == "":
		exp = fromURL
	case fromURL != "" && fromURL != exp:
		return "", "", nil, usageErr("name the experiment once", "--experiment %s and the URL's experiment=%s differ", exp, fromURL)
	}
	tmp, err := os.MkdirTemp("", "metalab-pg-")
	if err != nil {
		return "", "", nil, err
	}
	done = func() { os.RemoveAll(tmp) }
	dir = tmp + "/store"
	if _, err := transfer(ctx, importOptions{From: conn, To: dir, Experiment: exp}); err != nil {
		done()
		return "", "", nil, err
	}
	return dir, exp, done, nil
}
