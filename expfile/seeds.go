package expfile

import (
	"math"

	"github.com/metalab-hpc/metalab/seeds"
)

// seeds reads [seeds]: the base seed and the replicates per point.
func (l *loader) seeds(raw map[string]any) (seeds.Plan, error) {
	st, _, err := l.table(raw, path{"seeds"})
	if err != nil {
		return seeds.Plan{}, err
	}
	plan := seeds.New(DefaultSeedBase, DefaultReplicates)
	if v, ok := st["base"]; ok {
		n, ok := v.(int64)
		if !ok {
			return plan, l.typeErr(path{"seeds", "base"}, "an integer", v, "")
		}
		plan.Base = n
	}
	if plan.Replicates, err = l.intIn(st, path{"seeds", "replicates"}, DefaultReplicates, 1, math.MaxInt32); err != nil {
		return plan, err
	}
	return plan, nil
}
