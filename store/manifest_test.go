package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestInit(t *testing.T) {
	s := TestStore(t)
	if _, err := s.Manifest(); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Manifest() before Init: %v, want fs.ErrNotExist", err)
	}
	spec := json.RawMessage(`{"name":"sweep","params":{"lr":[0.1,0.01]}}`)
	m := Manifest{Experiment: "sweep", Version: "1", Spec: spec}
	if err := s.Init(m); err != nil {
		t.Fatalf("first Init: %v", err)
	}
	got, err := s.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(spec)
	if got, want := got.Identity, hex.EncodeToString(sum[:]); got != want {
		t.Errorf("Identity=%q, want %q", got, want)
	}
	if got, want := got.Format, FormatVersion; got != want {
		t.Errorf("Format=%d, want %d", got, want)
	}
	if got.Created.IsZero() || time.Since(got.Created) > time.Minute {
		t.Errorf("Created=%v, want about now", got.Created)
	}
	if got, want := string(got.Spec), string(spec); got != want {
		t.Errorf("Spec=%s, want %s", got, want)
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(s.Dir())
	for _, e := range entries {
		if strings.Contains(e.Name(), "tmp-") {
			t.Errorf("Init left %s behind", e.Name())
		}
	}

	// The manifest never changes: another Init, of any plan, leaves it.
	for _, other := range []Manifest{
		{Experiment: "sweep", Version: "1", Spec: spec},
		{Experiment: "sweep", Version: "2", Spec: json.RawMessage(`{"name":"sweep2"}`)},
		{Experiment: "b", Version: "2", Identity: "ffff0000ffff0000", Spec: spec},
	} {
		if err := s.Init(other); err != nil {
			t.Fatalf("Init(%s@%s)=%v, want nil", other.Experiment, other.Version, err)
		}
		again, err := s.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		if again.Identity != got.Identity || !again.Created.Equal(got.Created) || again.StoreID() != got.StoreID() {
			t.Errorf("Init(%s@%s) changed the manifest to %+v", other.Experiment, other.Version, again)
		}
	}
}

func TestInitRefusesNewerFormat(t *testing.T) {
	s := TestStore(t)
	if err := os.WriteFile(filepath.Join(s.Dir(), "metalab.json"), []byte(`{"format": 7, "identity": "x"}`), 0o666); err != nil {
		t.Fatal(err)
	}
	err := s.Init(Manifest{Identity: "x"})
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Format != 7 {
		t.Fatalf("Init()=%v, want a *FormatError for format 7", err)
	}
}

func TestInitGarbageManifest(t *testing.T) {
	s := TestStore(t)
	if err := os.WriteFile(filepath.Join(s.Dir(), "metalab.json"), []byte("{not json"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := s.Init(Manifest{Identity: "x"}); err == nil || !strings.Contains(err.Error(), "not a valid manifest") {
		t.Fatalf("Init()=%v, want an invalid manifest error", err)
	}
}

// TestInitConcurrent inits one store from many stores (as processes would)
// at once, with two plans: all succeed, and all see the one manifest that
// won.
func TestInitConcurrent(t *testing.T) {
	dir := t.TempDir()
	const n = 16
	errs := make([]error, n)
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(dir)
			if err != nil {
				errs[i] = err
				return
			}
			defer s.Close()
			if errs[i] = s.Init(Manifest{Experiment: "e", Identity: []string{"aaaa", "bbbb"}[i%2]}); errs[i] != nil {
				return
			}
			m, err := s.Manifest()
			if err != nil {
				errs[i] = err
				return
			}
			ids[i] = m.Identity
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Init %d: %v", i, err)
		}
		if ids[i] != ids[0] {
			t.Errorf("Init %d saw identity %s, Init 0 %s", i, ids[i], ids[0])
		}
	}
}

// TestInitSpecBytes checks that the manifest keeps the spec so that its hash
// is the identity, whatever whitespace or HTML-ish characters it has.
func TestInitSpecBytes(t *testing.T) {
	s := TestStore(t)
	spec := json.RawMessage("{\"cmd\": \"a < b && c > d\",\n \"n\": [1, 2]}")
	if err := s.Init(Manifest{Experiment: "e", Version: "1", Spec: spec}); err != nil {
		t.Fatal(err)
	}
	m, err := s.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(m.Spec), `{"cmd":"a < b && c > d","n":[1,2]}`; got != want {
		t.Errorf("Spec=%s, want %s", got, want)
	}
	sum := sha256.Sum256(m.Spec)
	if got, want := m.Identity, hex.EncodeToString(sum[:]); got != want {
		t.Errorf("Identity=%s, want the hash of the stored spec, %s", got, want)
	}
	if err := s.Init(Manifest{Experiment: "e", Version: "1", Spec: spec}); err != nil {
		t.Errorf("Init again: %v", err)
	}
}

// TestManifestBadFormat: a manifest whose format no metalab writes is
// refused by Open and Manifest with a message that names the file, the
// value found and the one expected, and a hint; nothing is created in the
// store.
func TestManifestBadFormat(t *testing.T) {
	tests := []struct {
		name     string
		manifest string
		want     string // after "store DIR: DIR/metalab.json "
	}{
		{"missing", `{"experiment": "x", "identity": "ab"}`, `has no "format" (want a store format from 1 to 1)`},
		{"null", `{"format": null, "identity": "ab"}`, `has no "format" (want a store format from 1 to 1)`},
		{"zero", `{"format": 0, "identity": "ab"}`, `has "format": 0 (want a store format from 1 to 1)`},
		{"negative", `{"format": -3, "identity": "ab"}`, `has "format": -3 (want a store format from 1 to 1)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "metalab.json")
			if err := os.WriteFile(path, []byte(tt.manifest), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Open(dir)
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("Open()=%v, want a *FormatError", err)
			}
			if got, want := err.Error(), "store "+dir+": "+path+" "+tt.want; got != want {
				t.Errorf("Open() error:\n%s\nwant\n%s", got, want)
			}
			if hint := fe.Hint(); !strings.Contains(hint, `"format": 1`) {
				t.Errorf("Open() error has hint %q, want one that says how to fix the format", hint)
			}
			if _, err := os.Stat(filepath.Join(dir, "segments")); err == nil {
				t.Errorf("Open created segments/ in a store it refused")
			}
		})
	}
}

func TestStoreID(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	a := Manifest{Identity: "abc", Created: created}
	b := Manifest{Identity: "abc", Created: created.Add(time.Nanosecond)}
	c := Manifest{Identity: "abd", Created: created}
	if got := a.StoreID(); len(got) != 12 || got == b.StoreID() || got == c.StoreID() {
		t.Errorf("StoreID()=%q; of another creation %q, of another identity %q: want 12 hex digits, all different", got, b.StoreID(), c.StoreID())
	}
	local := Manifest{Identity: "abc", Created: created.In(time.FixedZone("x", 3600))}
	if got, want := local.StoreID(), a.StoreID(); got != want {
		t.Errorf("StoreID() of the same instant in another zone %q, want %q", got, want)
	}
}
