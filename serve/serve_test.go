package serve

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// The HTTP tests of the server, with the real source of a real store, are
// launcher's (cmd_serve_test.go) and the browser's (serve_test.go at the
// root); these test its parts.

func TestValidRunID(t *testing.T) {
	for _, tt := range []struct {
		id   string
		want bool
	}{
		{"3f2a9c1e5b7d4a60", true}, {"3f2a", true}, {"run-1_a.b", true},
		{"", false}, {".", false}, {"..", false}, {"a/b", false}, {"../x", false}, {"a b", false},
		{"a%2fb", false}, {"a\x00", false}, {strings.Repeat("a", 129), false}, {"é", false},
	} {
		if got := validRunID(tt.id); got != tt.want {
			t.Errorf("validRunID(%q)=%v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestTail(t *testing.T) {
	var b tail
	chunk := strings.Repeat("x", MaxLog/3) + "\n"
	for range 5 {
		b.Write([]byte(chunk))
	}
	b.Write([]byte("the end"))
	if got, want := len(b.b), MaxLog; got != want {
		t.Errorf("kept %d bytes, want %d", got, want)
	}
	if got, want := b.dropped, int64(5*len(chunk)+len("the end")-MaxLog); got != want {
		t.Errorf("dropped %d, want %d", got, want)
	}
	if !strings.HasSuffix(string(b.b), "\nthe end") {
		t.Errorf("the end is lost")
	}
}

// TestCache: a value is made again only once its wait has passed; an
// error keeps the last value and is said; an error before any value is
// not retried before its wait either.
func TestCache(t *testing.T) {
	now := time.Unix(0, 0)
	clock := func() time.Time { return now }
	var c cache[int]
	made := 0
	fail := false
	get := func() (int, error) {
		return c.get(clock, func() (int, time.Duration, error) {
			made++
			if fail {
				return 0, 10 * time.Second, errors.New("boom")
			}
			return made, 10 * time.Second, nil
		})
	}
	for _, step := range []struct {
		after   time.Duration
		fail    bool
		want    int
		wantErr bool
		made    int
	}{
		{0, false, 1, false, 1},
		{9 * time.Second, false, 1, false, 1},
		{time.Second, false, 2, false, 2},
		{10 * time.Second, true, 2, true, 3},
		{5 * time.Second, false, 2, true, 3},
		{5 * time.Second, false, 4, false, 4},
	} {
		now = now.Add(step.after)
		fail = step.fail
		v, err := get()
		if v != step.want || (err != nil) != step.wantErr || made != step.made {
			t.Fatalf("at %v: %d, %v, made %d times; want %d, error %v, made %d", now.Sub(time.Unix(0, 0)), v, err, made, step.want, step.wantErr, step.made)
		}
	}
	var fresh cache[int]
	calls := 0
	for range 3 {
		fresh.get(clock, func() (int, time.Duration, error) { calls++; return 0, time.Minute, errors.New("down") })
	}
	if calls != 1 {
		t.Errorf("a failing maker was called %d times within its wait, want 1", calls)
	}
}
