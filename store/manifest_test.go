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

func TestBind(t *testing.T) {
	s := TestStore(t)
	if _, err := s.Manifest(); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Manifest() before Bind: %v, want fs.ErrNotExist", err)
	}
	spec := json.RawMessage(`{"name":"sweep","params":{"lr":[0.1,0.01]}}`)
	m := Manifest{Experiment: "sweep", Version: "1", Spec: spec}
	if err := s.Bind(m); err != nil {
		t.Fatalf("first Bind: %v", err)
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
			t.Errorf("Bind left %s behind", e.Name())
		}
	}

	tests := []struct {
		name    string
		m       Manifest
		wantErr bool
	}{
		{"same identity", Manifest{Experiment: "sweep", Version: "1", Spec: spec}, false},
		{"same identity, other name", Manifest{Experiment: "renamed", Version: "1", Spec: spec}, false},
		{"other spec", Manifest{Experiment: "sweep", Version: "2", Spec: json.RawMessage(`{"name":"sweep2"}`)}, true},
		{"explicit identity", Manifest{Experiment: "b", Version: "2", Identity: "ffff0000ffff0000", Spec: spec}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Bind(tt.m)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Bind()=%v, want nil", err)
				}
				return
			}
			var ie *IdentityError
			if !errors.As(err, &ie) {
				t.Fatalf("Bind()=%v, want an *IdentityError", err)
			}
			if got, want := ie.Have.Identity, hex.EncodeToString(sum[:]); got != want {
				t.Errorf("Have.Identity=%q, want %q", got, want)
			}
		})
	}
}

func TestIdentityErrorMessage(t *testing.T) {
	e := &IdentityError{
		Dir:  "/scratch/st",
		Have: Manifest{Experiment: "a", Version: "1", Identity: "1234abcd5678ef90"},
		Want: Manifest{Experiment: "b", Version: "2", Identity: "99990000aaaabbbb"},
	}
	want := `store /scratch/st belongs to experiment "a" version "1" (identity 1234abcd…), not to experiment "b" version "2" (identity 99990000…)`
	if got := e.Error(); got != want {
		t.Errorf("Error()=\n%s\nwant\n%s", got, want)
	}
	if got, want := e.Hint(), "use another --store directory, or the same experiment definition"; got != want {
		t.Errorf("Hint()=%q, want %q", got, want)
	}
}

func TestBindRefusesNewerFormat(t *testing.T) {
	s := TestStore(t)
	if err := os.WriteFile(filepath.Join(s.Dir(), "metalab.json"), []byte(`{"format": 7, "identity": "x"}`), 0o666); err != nil {
		t.Fatal(err)
	}
	err := s.Bind(Manifest{Identity: "x"})
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Format != 7 {
		t.Fatalf("Bind()=%v, want a *FormatError for format 7", err)
	}
}

func TestBindGarbageManifest(t *testing.T) {
	s := TestStore(t)
	if err := os.WriteFile(filepath.Join(s.Dir(), "metalab.json"), []byte("{not json"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := s.Bind(Manifest{Identity: "x"}); err == nil || !strings.Contains(err.Error(), "not a valid manifest") {
		t.Fatalf("Bind()=%v, want an invalid manifest error", err)
	}
}

// TestBindConcurrent binds one store from many stores (as processes would)
// at once: with the same identity all succeed; with two identities exactly
// the ones of one identity do.
func TestBindConcurrent(t *testing.T) {
	for _, identities := range []int{1, 2} {
		dir := t.TempDir()
		const n = 16
		errs := make([]error, n)
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
				id := []string{"aaaa", "bbbb"}[i%identities]
				errs[i] = s.Bind(Manifest{Experiment: "e", Identity: id})
			}()
		}
		wg.Wait()
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		m, err := s.Manifest()
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		for i, err := range errs {
			id := []string{"aaaa", "bbbb"}[i%identities]
			var ie *IdentityError
			switch {
			case id == m.Identity && err != nil:
				t.Errorf("%d identities: Bind(%s)=%v, want nil (manifest has %s)", identities, id, err, m.Identity)
			case id != m.Identity && !errors.As(err, &ie):
				t.Errorf("%d identities: Bind(%s)=%v, want an *IdentityError (manifest has %s)", identities, id, err, m.Identity)
			}
		}
	}
}

// TestBindSpecBytes checks that the manifest keeps the spec so that its hash
// is the identity, whatever whitespace or HTML-ish characters it has.
func TestBindSpecBytes(t *testing.T) {
	s := TestStore(t)
	spec := json.RawMessage("{\"cmd\": \"a < b && c > d\",\n \"n\": [1, 2]}")
	if err := s.Bind(Manifest{Experiment: "e", Version: "1", Spec: spec}); err != nil {
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
	if err := s.Bind(Manifest{Experiment: "e", Version: "1", Spec: spec}); err != nil {
		t.Errorf("Bind again: %v", err)
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
