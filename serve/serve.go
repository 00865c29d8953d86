package serve

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/metalab-hpc/metalab/internal/safefs"
	"github.com/metalab-hpc/metalab/report"
)

// Source is what the server shows: package launcher's report, status and
// logs of one store.
type Source interface {
	// Data is the report's data, read from the store now. Its artifact
	// links are relative to the page and start with [StorePrefix].
	Data(ctx context.Context) (*report.Data, error)
	// Status counts the sweep's runs now, and says how long to wait
	// before asking again: longer once it has asked the scheduler.
	Status(ctx context.Context) (Status, time.Duration, error)
	// Log writes what `metalab logs RUN` prints of run runID. An error
	// that wraps [fs.ErrNotExist] means there is no such run.
	Log(ctx context.Context, w io.Writer, runID string) error
}

// Status is the sweep's counts, as `metalab status` gives them.
type Status struct {
	Total     int `json:"total"`
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
	Cancelled int `json:"cancelled"`
	Running   int `json:"running"`
	Pending   int `json:"pending"`
	// Notes are status's lines after its counts, for people: runs lost,
	// what the scheduler says of the sweep's jobs.
	Notes []string `json:"notes,omitempty"`
	// Error says that the latest refresh failed: the counts are older.
	Error string    `json:"error,omitempty"`
	At    time.Time `json:"at"` // when the counts were made
}

// StorePrefix is the path under which the server serves the store's
// artifacts: /store/artifacts/RUN/FILE.
const StorePrefix = "store"

// Paths of the page's requests.
const (
	pathState = "/api/state"
	pathData  = "/api/data"
	pathLogs  = "/api/logs/"
	pathStore = "/" + StorePrefix + "/"
)

// MaxLog is how much of a run's log the server sends: the end of it.
const MaxLog = 4 << 20

// Options configure a [Server].
type Options struct {
	// Store is the store's directory; only its artifacts/ are served.
	Store  string
	Token  string // required on every request; see [NewToken]
	Source Source
	// Refresh is the shortest interval between two reads of the store
	// (counts or data) for all clients together; the page asks for the
	// counts as often.
	Refresh time.Duration
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Server is the HTTP handler of `metalab serve`.
type Server struct {
	opts   Options
	root   *os.Root // the store: artifacts are opened through it only
	cookie string   // the name of the token's cookie

	status cache[Status]
	data   cache[page]
}

// page is the data and the HTML made of it, once for all clients.
type page struct {
	html, json []byte
}

// NewToken is a random token of 192 bits, in hex.
func NewToken() string {
	b := make([]byte, 24)
	rand.Read(b) // never fails (crypto/rand, Go 1.24 and later)
	return hex.EncodeToString(b)
}

// New returns the server of opts. It opens the store's directory, which
// [Server.Close] closes.
func New(opts Options) (*Server, error) {
	if len(opts.Token) < 16 {
		return nil, errors.New("serve: the token is too short to be a secret (want 16 characters or more)")
	}
	if opts.Source == nil {
		return nil, errors.New("serve: no source")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Refresh <= 0 {
		opts.Refresh = 2 * time.Second
	}
	root, err := os.OpenRoot(opts.Store)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	// One cookie name per token: cookies are not kept apart by port, and
	// two servers on one machine must not overwrite each other's.
	sum := sha256.Sum256([]byte(opts.Token))
	return &Server{opts: opts, root: root, cookie: "metalab_" + hex.EncodeToString(sum[:4])}, nil
}

// Close closes the store's directory.
func (s *Server) Close() error { return s.root.Close() }

// ServeHTTP answers one request: refused without the token (403) or with
// a method other than GET and HEAD (405); else the page, the counts, the
// data, a run's log or an artifact.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "metalab serve is read-only: GET and HEAD only", http.StatusMethodNotAllowed)
		return
	}
	fromURL, ok := s.authorized(r)
	if !ok {
		http.Error(w, "metalab serve: this server needs its token: open the URL it printed when it started (the one with ?token=)", http.StatusForbidden)
		return
	}
	if fromURL {
		http.SetCookie(w, &http.Cookie{Name: s.cookie, Value: s.opts.Token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		if r.URL.Path == "/" {
			// The token leaves the address bar and the history.
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
	}
	ctx := context.WithoutCancel(r.Context()) // a refresh serves every client: one leaving does not cancel it
	p := r.URL.Path
	switch {
	case p == "/":
		s.servePage(ctx, w, r)
	case p == pathState:
		s.serveState(ctx, w)
	case p == pathData:
		pg, err := s.page(ctx)
		if err != nil && pg.json == nil {
			http.Error(w, "metalab serve: reading the store: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		h.Set("Content-Type", "application/json")
		w.Write(pg.json)
	case strings.HasPrefix(p, pathLogs):
		s.serveLog(r.Context(), w, strings.TrimPrefix(p, pathLogs))
	case strings.HasPrefix(p, pathStore):
		s.serveArtifact(w, r, strings.TrimPrefix(p, pathStore))
	default:
		http.NotFound(w, r)
	}
}

// authorized reports whether r carries the token, and whether in its URL.
func (s *Server) authorized(r *http.Request) (fromURL, ok bool) {
	if t := r.URL.Query().Get("token"); t != "" {
		return true, s.equal(t)
	}
	if c, err := r.Cookie(s.cookie); err == nil {
		return false, s.equal(c.Value)
	}
	return false, false
}

func (s *Server) equal(t string) bool {
	return subtle.ConstantTimeCompare([]byte(t), []byte(s.opts.Token)) == 1
}

func (s *Server) page(ctx context.Context) (page, error) {
	return s.data.get(s.opts.Now, func() (page, time.Duration, error) {
		start := time.Now()
		d, err := s.opts.Source.Data(ctx)
		if err != nil {
			return page{}, s.opts.Refresh, err
		}
		var pg page
		if pg.json, err = json.Marshal(d); err != nil {
			return page{}, s.opts.Refresh, err
		}
		var buf bytes.Buffer
		err = report.WriteLive(&buf, d, report.Live{State: strings.TrimPrefix(pathState, "/"), Data: strings.TrimPrefix(pathData, "/"),
			Log: strings.TrimPrefix(pathLogs, "/"), RefreshMs: int(s.opts.Refresh.Milliseconds())})
		pg.html = buf.Bytes()
		// A store of a million runs takes a while to read: no more than
		// a fifth of the time goes to reading it again.
		return pg, max(s.opts.Refresh, 4*time.Since(start)), err
	})
}

func (s *Server) servePage(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	pg, err := s.page(ctx)
	if err != nil && pg.html == nil {
		http.Error(w, "metalab serve: reading the store: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	// The page's own script and style are inline; it may fetch from this
	// server only, and show images only from it.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(pg.html)
}

func (s *Server) serveState(ctx context.Context, w http.ResponseWriter) {
	st, err := s.status.get(s.opts.Now, func() (Status, time.Duration, error) {
		st, wait, err := s.opts.Source.Status(ctx)
		st.At = s.opts.Now()
		return st, max(wait, s.opts.Refresh), err
	})
	if err != nil {
		if st.At.IsZero() {
			http.Error(w, "metalab serve: counting the runs: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		st.Error = fmt.Sprintf("the latest refresh failed (%v); these counts are from %s", err, st.At.Format(time.TimeOnly))
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(st)
}

// serveLog sends the log of run id, its end when it is longer than MaxLog.
func (s *Server) serveLog(ctx context.Context, w http.ResponseWriter, id string) {
	if !validRunID(id) {
		http.Error(w, fmt.Sprintf("metalab serve: %q is not a run ID", id), http.StatusNotFound)
		return
	}
	var buf tail
	if err := s.opts.Source.Log(ctx, &buf, id); err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, fs.ErrNotExist) {
			code = http.StatusNotFound
		}
		http.Error(w, err.Error(), code)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if buf.dropped > 0 {
		fmt.Fprintf(w, "[... the first %d bytes are left out: 'metalab logs %s' prints them all ...]\n", buf.dropped, id)
	}
	w.Write(buf.b)
}

// validRunID accepts what a run ID, or a prefix of one, can be.
func validRunID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return id != "." && id != ".."
}

// tail keeps the last MaxLog bytes written to it.
type tail struct {
	b       []byte
	dropped int64
}

func (t *tail) Write(p []byte) (int, error) {
	n := len(p)
	t.b = append(t.b, p...)
	if over := len(t.b) - MaxLog; over > 0 {
		t.dropped += int64(over)
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return n, nil
}

// serveArtifact sends the file rel of the store, which must be one of a
// run's artifacts: DIR/artifacts/RUN/..., a regular file reached through
// no symlink.
func (s *Server) serveArtifact(w http.ResponseWriter, r *http.Request, rel string) {
	parts := strings.Split(rel, "/")
	if len(parts) < 3 || parts[0] != "artifacts" || path.Clean(rel) != rel || !filepath.IsLocal(rel) || strings.ContainsAny(rel, "\\\x00") {
		http.Error(w, "metalab serve: only the artifacts of runs are served (store/artifacts/RUN/FILE)", http.StatusNotFound)
		return
	}
	f, info, err := safefs.OpenRegularIn(s.root, rel, os.O_RDONLY, 0)
	if err != nil {
		code := http.StatusForbidden
		if errors.Is(err, fs.ErrNotExist) {
			code = http.StatusNotFound
		}
		http.Error(w, "metalab serve: "+err.Error(), code)
		return
	}
	defer f.Close()
	h := w.Header()
	// A run's HTML or SVG must not run script with the page's origin.
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'")
	ctype := mime.TypeByExtension(path.Ext(rel))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	h.Set("Content-Type", ctype)
	http.ServeContent(w, r, path.Base(rel), info.ModTime(), f)
}

// cache holds one value for every client, made again when it is older
// than the wait its maker gave. Clients that ask while it is being made
// wait for it rather than make their own.
type cache[T any] struct {
	mu   sync.Mutex
	val  T
	made bool
	err  error
	next time.Time
}

func (c *cache[T]) get(now func() time.Time, make func() (T, time.Duration, error)) (T, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.made && now().Before(c.next) || !c.made && c.err != nil && now().Before(c.next) {
		return c.val, c.err
	}
	v, wait, err := make()
	c.next = now().Add(wait)
	c.err = err
	if err == nil {
		c.val, c.made = v, true
	}
	return c.val, c.err
}
