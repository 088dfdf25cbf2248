package ghapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/atomyx/atomyx-guard/internal/backoff"
	"github.com/google/go-github/v60/github"
)

// DefaultBaseURL is GitHub's public REST API.
const DefaultBaseURL = "https://api.github.com/"

// Config configures a Client. The zero value of every field but Token has a
// sensible default.
type Config struct {
	// Token is the bearer token (GITHUB_TOKEN). Empty means anonymous,
	// which can read public data only.
	Token string
	// BaseURL is the REST API root (GITHUB_API_URL), e.g.
	// https://ghe.example/api/v3. It is used as given, with a trailing
	// slash added: go-github's WithEnterpriseURLs would append "api/v3/" to
	// any host not named api.*, which breaks test servers and proxies.
	BaseURL string
	// HTTPClient carries the requests; http.DefaultTransport when nil.
	HTTPClient *http.Client
	// MutationSpacing is the least time between two mutating calls
	// (POST, PATCH, PUT, DELETE), which GitHub asks to be serial and about a
	// second apart. Zero means DefaultMutationSpacing; negative means none
	// (tests).
	MutationSpacing time.Duration
	// MaxRetries bounds the retries of one call after a rate limit or a
	// transient error. Zero means DefaultMaxRetries.
	MaxRetries int
	// MaxWait bounds one wait for a rate limit; a longer Retry-After or
	// reset makes the call fail with a RateLimitedError. Zero means
	// DefaultMaxWait.
	MaxWait time.Duration
	// Sleep waits d or until ctx is done; tests record instead of waiting.
	// backoff.Sleep when nil.
	Sleep backoff.SleepFunc
}

// Defaults.
const (
	DefaultMutationSpacing = time.Second
	DefaultMaxRetries      = 5
	DefaultMaxWait         = 2 * time.Minute
)

// ConfigFromEnv reads GITHUB_TOKEN and GITHUB_API_URL, as set in GitHub
// Actions.
func ConfigFromEnv(getenv func(string) string) Config {
	return Config{Token: getenv("GITHUB_TOKEN"), BaseURL: getenv("GITHUB_API_URL")}
}

// Client is a GitHub API client with rate-limit manners.
type Client struct {
	gh *github.Client
}

// New returns a Client for cfg.
func New(cfg Config) (*Client, error) {
	base := cfg.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("GitHub API URL %q: want an absolute http(s) URL", base)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	inner := http.DefaultTransport
	if cfg.HTTPClient != nil && cfg.HTTPClient.Transport != nil {
		inner = cfg.HTTPClient.Transport
	}
	t := newTransport(inner, cfg)
	hc := &http.Client{Transport: t}
	if cfg.HTTPClient != nil {
		hc.Timeout = cfg.HTTPClient.Timeout
	}
	gh := github.NewClient(hc)
	if cfg.Token != "" {
		gh = gh.WithAuthToken(cfg.Token)
	}
	gh.BaseURL = u
	gh.UploadURL = u
	return &Client{gh: gh}, nil
}

// GitHub returns the underlying go-github client, for calls this package
// does not wrap. It shares the rate-limit manners.
func (c *Client) GitHub() *github.Client { return c.gh }

// Repo names a repository.
type Repo struct{ Owner, Name string }

func (r Repo) String() string { return r.Owner + "/" + r.Name }

// ParseRepo parses "OWNER/NAME".
func ParseRepo(s string) (Repo, error) {
	owner, name, ok := strings.Cut(s, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return Repo{}, fmt.Errorf("repository %q: want OWNER/NAME", s)
	}
	return Repo{owner, name}, nil
}

// PermissionError says that the token lacks a permission for a call.
type PermissionError struct {
	Op     string // what was attempted
	Needs  string // e.g. "Issues: write"
	Status int
	Err    error
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("%s: GitHub answered %d: the token needs %s", e.Op, e.Status, e.Needs)
}
func (e *PermissionError) Unwrap() error { return e.Err }

// classify wraps a go-github error from op with a clear message: missing
// permission (401/403, and 404 for a resource the token cannot see),
// otherwise the status and GitHub's message.
func classify(op, needs string, err error) error {
	if err == nil {
		return nil
	}
	var rl *RateLimitedError
	if errors.As(err, &rl) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		switch st := er.Response.StatusCode; st {
		case http.StatusUnauthorized:
			return &PermissionError{Op: op, Needs: "a valid token (GITHUB_TOKEN)", Status: st, Err: err}
		case http.StatusForbidden:
			return &PermissionError{Op: op, Needs: needs, Status: st, Err: err}
		case http.StatusNotFound:
			if needs != "" {
				return &PermissionError{Op: op, Needs: needs + " (or the resource does not exist)", Status: st, Err: err}
			}
		}
		return fmt.Errorf("%s: GitHub answered %d: %s", op, er.Response.StatusCode, er.Message)
	}
	var rle *github.RateLimitError
	if errors.As(err, &rle) {
		return fmt.Errorf("%s: GitHub rate limit exhausted until %s", op, rle.Rate.Reset.Time.Format(time.RFC3339))
	}
	return fmt.Errorf("%s: %w", op, err)
}

// IsNotFound reports whether err is GitHub's 404.
func IsNotFound(err error) bool {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode == http.StatusNotFound
	}
	var pe *PermissionError
	return errors.As(err, &pe) && pe.Status == http.StatusNotFound
}
