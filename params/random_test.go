package params

import (
	"reflect"
	"testing"
)

func testSpace() map[string]Dist {
	return map[string]Dist{
		"lr":      LogUniform(1e-4, 0.1),
		"dropout": Uniform(0, 0.5),
		"layers":  LogUniformInt(1, 64),
		"batch":   RandInt(16, 128),
		"opt":     Choice("adam", "sgd", 1.0),
	}
}

// The points a seed draws are part of the run IDs of a random search, so,
// like the canonical encoding, they must never change: not with the Go
// release, the CPU or the machine. The draws were checked against an
// independent computation from the PCG words.
func TestRandomGolden(t *testing.T) {
	tests := []struct {
		seed int64
		i    int
		want string
	}{
		{42, 0, `{"batch":112,"dropout":0.48035756282783487,"layers":1,"lr":0.00018430035744920658,"opt":"adam"}`},
		{42, 1, `{"batch":36,"dropout":0.2866380013227384,"layers":10,"lr":0.009653493819104205,"opt":1.0}`},
		{42, 2, `{"batch":28,"dropout":0.4841834862664372,"layers":1,"lr":0.07307855943181199,"opt":"adam"}`},
		{-1, 0, `{"batch":44,"dropout":0.4563442529960122,"layers":2,"lr":0.008449093602368896,"opt":1.0}`},
	}
	for _, tt := range tests {
		r := Random{Trials: 3, Seed: tt.seed, Space: testSpace()}
		got, err := Canonical(r.At(tt.i))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("seed %d At(%d)=%s, want %s", tt.seed, tt.i, got, tt.want)
		}
	}
}

func TestRandomDeterministic(t *testing.T) {
	r := Random{Trials: 50, Seed: 7, Space: testSpace()}
	// Random access: backwards gives what forwards gave, and a longer search
	// starts with the same points.
	first := make([]Point, r.Len())
	for i := range first {
		first[i] = r.At(i)
	}
	longer := Random{Trials: 500, Seed: 7, Space: testSpace()}
	for i := len(first) - 1; i >= 0; i-- {
		if got := r.At(i); !reflect.DeepEqual(got, first[i]) {
			t.Fatalf("At(%d) second call=%v, first %v", i, got, first[i])
		}
		if got := longer.At(i); !reflect.DeepEqual(got, first[i]) {
			t.Fatalf("At(%d) with 500 trials=%v, with 50 %v", i, got, first[i])
		}
	}
	other := Random{Trials: 50, Seed: 8, Space: testSpace()}
	if reflect.DeepEqual(other.At(0), first[0]) {
		t.Fatalf("seeds 7 and 8 drew the same point %v", first[0])
	}
	if reflect.DeepEqual(r.At(1), first[0]) {
		t.Fatalf("points 0 and 1 are the same %v", first[0])
	}
}

func TestRandomLen(t *testing.T) {
	for _, tt := range []struct{ trials, want int }{{0, 0}, {-3, 0}, {1, 1}, {1000, 1000}} {
		if got := (Random{Trials: tt.trials}).Len(); got != tt.want {
			t.Errorf("Random{Trials: %d}.Len()=%d, want %d", tt.trials, got, tt.want)
		}
	}
}

func TestRandomSpec(t *testing.T) {
	r := Random{Trials: 20, Seed: -5, Space: map[string]Dist{
		"lr":  LogUniform(1e-4, 0.1),
		"d":   Uniform(0, 1),
		"n":   LogUniformInt(1, 1024),
		"k":   RandInt(-3, 3),
		"opt": Choice("adam", 2, []int{1}),
	}}
	got, err := Canonical(r.Spec())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"random":{"seed":-5,"space":{` +
		`"d":{"dist":"uniform","high":1.0,"low":0.0},` +
		`"k":{"dist":"randint","high":3,"low":-3},` +
		`"lr":{"dist":"loguniform","high":0.1,"low":0.0001},` +
		`"n":{"dist":"loguniform_int","high":1024,"low":1},` +
		`"opt":{"dist":"choice","values":["adam",2,[1]]}` +
		`},"trials":20}}`
	if string(got) != want {
		t.Fatalf("Canonical(Spec())=%s, want %s", got, want)
	}
}

func TestRandomValidate(t *testing.T) {
	tests := []struct {
		name string
		r    Random
		want string
	}{
		{"valid", Random{Trials: 1, Space: testSpace()}, ""},
		{"no trials", Random{Trials: 0, Space: testSpace()}, "params: random search has 0 trials, want at least 1"},
		{"negative trials", Random{Trials: -2, Space: testSpace()}, "params: random search has -2 trials, want at least 1"},
		{"empty space", Random{Trials: 5}, "params: random search has an empty space"},
		{"nil dist", Random{Trials: 5, Space: map[string]Dist{"a": Uniform(0, 1), "b": nil}}, `params: random param "b" has no distribution`},
		{"bad dist", Random{Trials: 5, Space: map[string]Dist{"lr": LogUniform(0, 1)}}, `params: random param "lr": loguniform(0, 1): low must be positive`},
		{"bad choice", Random{Trials: 5, Space: map[string]Dist{"opt": Choice()}}, `params: random param "opt": choice has no values`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.r.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate()=%v, want nil", err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Validate()=%v, want %q", err, tt.want)
			}
		})
	}
}

func TestRandomAtPanics(t *testing.T) {
	tests := []struct {
		name string
		f    func()
		want string
	}{
		{"past end", func() { Random{Trials: 2, Space: testSpace()}.At(2) }, "params: random point 2 out of range [0, 2)"},
		{"negative", func() { Random{Trials: 2, Space: testSpace()}.At(-1) }, "params: random point -1 out of range [0, 2)"},
		{"nil dist", func() { Random{Trials: 1, Space: map[string]Dist{"x": nil}}.At(0) }, `params: random param "x" has no distribution`},
		{"bad sample", func() { Random{Trials: 1, Space: map[string]Dist{"x": LogUniform(-1, 1)}}.At(0) }, `params: random param "x": value is NaN/infinite`},
	}
	for _, tt := range tests {
		if got := panicMessage(tt.f); got != tt.want {
			t.Errorf("%s: panic=%q, want %q", tt.name, got, tt.want)
		}
	}
}
