package seeds

import "testing"

// The vectors come from the Python metalab library's derivation; they must
// never change.
func TestDeriveMatchesPython(t *testing.T) {
	tests := []struct {
		base      int64
		name      string
		replicate int
		derive    uint64
		numpy     uint32
	}{
		{42, "default", 0, 2164880486899767195, 852875163},
		{42, "default", 1, 17311043386426800777, 4216863369},
		{42, "default", 2, 6259389892384630717, 2252449725},
		{42, "sampling", 0, 16451810078227672686, 3371413102},
		{7, "init", 3, 15350016946168785986, 2896030786},
	}
	for _, tt := range tests {
		b := New(tt.base, tt.replicate+1).Bundle(tt.replicate)
		if got, want := b.Derive(tt.name), tt.derive; got != want {
			t.Errorf("Derive(%d,%q,%d)=%d, want %d", tt.base, tt.name, tt.replicate, got, want)
		}
		if got, want := b.NumpySeed(tt.name), tt.numpy; got != want {
			t.Errorf("NumpySeed(%d,%q,%d)=%d, want %d", tt.base, tt.name, tt.replicate, got, want)
		}
	}
}

func TestDefaultName(t *testing.T) {
	b := Bundle{Base: 42}
	if got, want := b.Derive(""), b.Derive("default"); got != want {
		t.Fatalf("Derive(\"\")=%d, want %d", got, want)
	}
	if got, want := b.Seed(), uint64(2164880486899767195); got != want {
		t.Fatalf("Seed()=%d, want %d", got, want)
	}
}

func TestNegativeBase(t *testing.T) {
	// Python formats a negative base as "-5"; so must we.
	b := Bundle{Base: -5, Replicate: 0}
	if b.Derive("default") == (Bundle{Base: 5}).Derive("default") {
		t.Fatal("negative base derives the same seed as its absolute value")
	}
}

func TestRandIsDeterministicAndIndependent(t *testing.T) {
	b := Bundle{Base: 42, Replicate: 1}
	r1, r2 := b.Rand("x"), b.Rand("x")
	for i := 0; i < 100; i++ {
		if got, want := r1.Uint64(), r2.Uint64(); got != want {
			t.Fatalf("draw %d: %d != %d for the same name", i, got, want)
		}
	}
	if b.Rand("x").Uint64() == b.Rand("y").Uint64() {
		t.Fatal("different names gave the same first draw")
	}
	if b.Rand("x").Uint64() == (Bundle{Base: 42, Replicate: 2}).Rand("x").Uint64() {
		t.Fatal("different replicates gave the same first draw")
	}
}

func TestPlanValidate(t *testing.T) {
	if err := New(1, 0).Validate(); err == nil {
		t.Fatal("Validate() accepted 0 replicates")
	}
	if err := New(1, 3).Validate(); err != nil {
		t.Fatalf("Validate()=%v, want nil", err)
	}
}
