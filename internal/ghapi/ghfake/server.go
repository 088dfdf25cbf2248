package ghfake

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/atomyx/atomyx-guard/internal/ghapi"
	"golang.org/x/crypto/nacl/box"
)

// Server is the fake GitHub API. Create it with New; Close it when done.
type Server struct {
	srv *httptest.Server
	// Token, when set, is the only bearer token accepted (with the
	// installation tokens App minted).
	Token string
	// AppClock is the App side's clock (JWT checks, token expiry);
	// time.Now when nil. Set it before use.
	AppClock func() time.Time

	mu       sync.Mutex
	repos    map[string]*Repo // "owner/name"
	byID     map[int64]*Repo
	orgs     map[string]*Org
	nextID   int64
	faults   []*Fault
	requests []Request
	mux      *http.ServeMux

	// A GitHub App's side (App): its id, public key, token lifetime and
	// the installation tokens minted.
	appID         int64
	appKey        *rsa.PublicKey
	appTTL        time.Duration
	installTokens map[string]installToken
}

// Repo is a fake repository.
type Repo struct {
	ID            int64
	Owner, Name   string
	Private       bool
	DefaultBranch string
	// Fork and Archived are listed as GitHub lists them; CloneURL is the
	// clone_url (https://github.com/OWNER/NAME.git when empty). Change them
	// with UpdateRepo once the server is in use.
	Fork, Archived bool
	CloneURL       string

	issues []*Issue
	labels map[string]bool
	store  secretStore
	envs   map[string]*Env
}

// Env is a repository environment with its own secrets and key.
type Env struct {
	store secretStore
}

// Org is a fake organisation with organisation secrets.
type Org struct {
	Login string
	store secretStore
}

// secretStore is where a repository, an environment or an organisation
// keeps its Actions secrets, and the key pair they are sealed to.
type secretStore struct {
	secrets map[string]string // name → sealed value (base64)
	keys    keyPair
}

func newSecretStore() secretStore {
	return secretStore{secrets: map[string]string{}, keys: newKeyPair()}
}

// Issue is a fake issue as a test sees it.
type Issue struct {
	Number      int
	Title, Body string
	State       string // "open" or "closed"
	StateReason string
	Labels      []string
	Comments    []string
	CreatedAt   time.Time
}

// Request is one request the server received.
type Request struct {
	Method, Path string
	Status       int
}

// Mutating reports whether the request asked to change something.
func (r Request) Mutating() bool { return r.Method != http.MethodGet && r.Method != http.MethodHead }

type keyPair struct {
	id        string
	pub, priv *[32]byte
}

func newKeyPair() keyPair {
	pub, priv, err := box.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	var b [6]byte
	rand.Read(b[:])
	return keyPair{id: fmt.Sprintf("%x", b), pub: pub, priv: priv}
}

// New starts a fake GitHub on a loopback port.
func New() *Server {
	s := &Server{
		repos: map[string]*Repo{}, byID: map[int64]*Repo{}, orgs: map[string]*Org{},
		nextID: 1000, mux: http.NewServeMux(),
	}
	s.routes()
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the API root with a trailing slash, for ghapi.Config.BaseURL.
func (s *Server) URL() string { return s.srv.URL + "/" }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// AddRepo creates a repository (idempotent) and returns it.
func (s *Server) AddRepo(owner, name string, private bool) *Repo {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := owner + "/" + name
	if r := s.repos[k]; r != nil {
		r.Private = private
		return r
	}
	s.nextID++
	r := &Repo{ID: s.nextID, Owner: owner, Name: name, Private: private, DefaultBranch: "main",
		labels: map[string]bool{}, store: newSecretStore(), envs: map[string]*Env{}}
	s.repos[k] = r
	s.byID[r.ID] = r
	return r
}

// AddEnv creates an environment of a repository (idempotent).
func (s *Server) AddEnv(owner, name, env string) {
	r := s.AddRepo(owner, name, s.isPrivate(owner, name))
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.envs[env] == nil {
		r.envs[env] = &Env{store: newSecretStore()}
	}
}

func (s *Server) isPrivate(owner, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[owner+"/"+name]
	return r != nil && r.Private
}

// AddOrg creates an organisation (idempotent).
func (s *Server) AddOrg(login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.orgs[login] == nil {
		s.orgs[login] = &Org{Login: login, store: newSecretStore()}
	}
}

// Issues returns copies of a repository's issues, by number.
func (s *Server) Issues(repo string) []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[repo]
	if r == nil {
		return nil
	}
	out := make([]Issue, len(r.issues))
	for i, is := range r.issues {
		out[i] = *is
		out[i].Labels = slices.Clone(is.Labels)
		out[i].Comments = slices.Clone(is.Comments)
	}
	return out
}

// Labels returns the labels that exist in a repository, sorted.
func (s *Server) Labels(repo string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[repo]
	if r == nil {
		return nil
	}
	var out []string
	for l := range r.labels {
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

// SecretValue opens the sealed secret at t with the fake's private key and
// returns the plain value that was delivered.
func (s *Server) SecretValue(t ghapi.SecretTarget) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var st *secretStore
	switch t.Kind {
	case ghapi.KindRepoSecret:
		if r := s.repos[t.Owner+"/"+t.Repo]; r != nil {
			st = &r.store
		}
	case ghapi.KindEnvSecret:
		if r := s.repos[t.Owner+"/"+t.Repo]; r != nil && r.envs[t.Env] != nil {
			st = &r.envs[t.Env].store
		}
	case ghapi.KindOrgSecret:
		if o := s.orgs[t.Org]; o != nil {
			st = &o.store
		}
	}
	if st == nil {
		return "", false
	}
	sealed, kp := st.secrets[t.Name], st.keys
	if sealed == "" {
		return "", false
	}
	v, ok := open(sealed, kp)
	return string(v), ok
}

// SealedSecrets returns every stored sealed secret (base64), for tests that
// check no plain value was stored.
func (s *Server) SealedSecrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.repos {
		out = slices.AppendSeq(out, maps.Values(r.store.secrets))
		for _, e := range r.envs {
			out = slices.AppendSeq(out, maps.Values(e.store.secrets))
		}
	}
	for _, o := range s.orgs {
		out = slices.AppendSeq(out, maps.Values(o.store.secrets))
	}
	return out
}

func open(sealedB64 string, kp keyPair) ([]byte, bool) {
	ct, err := base64.StdEncoding.DecodeString(sealedB64)
	if err != nil {
		return nil, false
	}
	return box.OpenAnonymous(nil, ct, kp.pub, kp.priv)
}

// Requests returns the request log.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// ResetRequests clears the request log.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	s.requests = nil
	s.mu.Unlock()
}

// FaultKind says how a fault is dressed.
type FaultKind int

const (
	// RateLimit429 answers 429 with Retry-After (go-github v60 reports it
	// as a plain ErrorResponse).
	RateLimit429 FaultKind = iota + 1
	// Secondary403 answers 403 with Retry-After and the secondary rate
	// limit documentation URL (go-github's AbuseRateLimitError).
	Secondary403
	// Primary403 answers 403 with X-RateLimit-Remaining: 0 and a reset
	// (go-github's RateLimitError).
	Primary403
	// ServerError answers Status (500 when zero).
	ServerError
	// Forbidden answers 403 "Resource not accessible by integration": a
	// token without the permission. Never goes away by retrying.
	Forbidden
)

// Fault makes matching requests fail.
type Fault struct {
	Method string // "" matches any
	Path   string // a prefix of the URL path; "" matches any
	Kind   FaultKind
	Status int // for ServerError
	// Times is how many matching requests fail; 0 means for ever.
	Times int
	// RetryAfter is the Retry-After (or reset distance) in seconds.
	RetryAfter int

	hits int
}

// Fail installs a fault; the first matching fault applies to a request.
func (s *Server) Fail(f Fault) {
	s.mu.Lock()
	s.faults = append(s.faults, &f)
	s.mu.Unlock()
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
}

func (s *Server) fault(r *http.Request) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.faults {
		if (f.Method == "" || f.Method == r.Method) && strings.HasPrefix(r.URL.Path, f.Path) && (f.Times == 0 || f.hits < f.Times) {
			f.hits++
			c := *f
			return &c
		}
	}
	return nil
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	// The request is logged before it is answered, so that a client that
	// has its answer always finds its request in the log; the status is
	// filled in when the handler returns.
	s.mu.Lock()
	n := len(s.requests)
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path})
	s.mu.Unlock()
	defer func() {
		st := sw.status
		if st == 0 {
			st = http.StatusOK
		}
		s.mu.Lock()
		if n < len(s.requests) {
			s.requests[n].Status = st
		}
		s.mu.Unlock()
	}()
	if s.accessTokens(sw, r) {
		return
	}
	if s.Token != "" && !s.tokenOK(r.Header.Get("Authorization")) {
		writeError(sw, http.StatusUnauthorized, "Bad credentials")
		return
	}
	if f := s.fault(r); f != nil {
		applyFault(sw, f)
		return
	}
	s.mux.ServeHTTP(sw, r)
}

func applyFault(w http.ResponseWriter, f *Fault) {
	h := w.Header()
	switch f.Kind {
	case RateLimit429:
		h.Set("Retry-After", strconv.Itoa(f.RetryAfter))
		writeError(w, http.StatusTooManyRequests, "API rate limit exceeded")
	case Secondary403:
		h.Set("Retry-After", strconv.Itoa(f.RetryAfter))
		writeJSON(w, http.StatusForbidden, map[string]string{
			"message":           "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
			"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
		})
	case Primary403:
		h.Set("X-RateLimit-Limit", "5000")
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Duration(f.RetryAfter)*time.Second).Unix(), 10))
		writeError(w, http.StatusForbidden, "API rate limit exceeded for installation.")
	case ServerError:
		st := f.Status
		if st == 0 {
			st = http.StatusInternalServerError
		}
		writeError(w, st, "Server Error")
	case Forbidden:
		writeError(w, http.StatusForbidden, "Resource not accessible by integration")
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg, "documentation_url": "https://docs.github.com/rest"})
}

func notFound(w http.ResponseWriter) { writeError(w, http.StatusNotFound, "Not Found") }

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return false
	}
	return true
}

// paginate slices items by the page and per_page query parameters and sets
// the Link header go-github reads for NextPage.
func paginate[T any](w http.ResponseWriter, r *http.Request, items []T) []T {
	q := r.URL.Query()
	per, _ := strconv.Atoi(q.Get("per_page"))
	if per <= 0 || per > 100 {
		per = 30
	}
	page, _ := strconv.Atoi(q.Get("page"))
	if page <= 0 {
		page = 1
	}
	lo := min((page-1)*per, len(items))
	hi := min(lo+per, len(items))
	if hi < len(items) {
		next := *r.URL
		nq := next.Query()
		nq.Set("page", strconv.Itoa(page+1))
		nq.Set("per_page", strconv.Itoa(per))
		next.RawQuery = nq.Encode()
		u := url.URL{Scheme: "http", Host: r.Host, Path: next.Path, RawQuery: next.RawQuery}
		w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next"`, u.String()))
	}
	return items[lo:hi]
}
