package vault

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	crand "crypto/rand"

	"github.com/atomyx/atomyx-guard/internal/backoff"
	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/patterns"
)

// DefaultBaseURL is the assumed production Vault API.
const DefaultBaseURL = "https://api.atomyx.io"

// Defaults of Config's zero values.
const (
	DefaultTimeout       = 30 * time.Second
	DefaultMaxRetries    = 5
	DefaultMaxElapsed    = 2 * time.Minute
	DefaultMaxRetryAfter = time.Minute
	DefaultBackoff       = 200 * time.Millisecond
	DefaultMaxBackoff    = 10 * time.Second
	DefaultUserAgent     = "atomyx-guard"
)

// maxResponse bounds what the client reads of one response body.
const maxResponse = 4 << 20

// Config says where the Vault is and how patiently to talk to it. Zero
// values take the defaults above.
type Config struct {
	// BaseURL is https, or http to a loopback host only (the local Vault).
	BaseURL string
	// APIKey is the bearer key. It is sent in the Authorization header and
	// nowhere else, and never appears in an error.
	APIKey     string
	HTTPClient *http.Client
	// Timeout bounds one attempt.
	Timeout time.Duration
	// MaxRetries bounds the retries after the first attempt; negative
	// means none.
	MaxRetries int
	// MaxElapsed bounds one call, its retries and waits included.
	MaxElapsed time.Duration
	UserAgent  string
	// MaxRetryAfter caps the wait a 429's Retry-After asks for.
	MaxRetryAfter time.Duration
	// Backoff is the base wait before the first retry of a 5xx or a
	// transport error; it doubles each retry, up to MaxBackoff, with
	// jitter.
	Backoff, MaxBackoff time.Duration
	// Sleep waits d or until ctx is done; backoff.Sleep when nil. Tests
	// inject a fast one.
	Sleep backoff.SleepFunc
}

// ConfigFromEnv reads ATOMYX_API_URL (default DefaultBaseURL) and
// ATOMYX_API_KEY.
func ConfigFromEnv() Config {
	return configFrom(os.Getenv)
}

func configFrom(get func(string) string) Config {
	base := strings.TrimSpace(get("ATOMYX_API_URL"))
	if base == "" {
		base = DefaultBaseURL
	}
	return Config{BaseURL: base, APIKey: strings.TrimSpace(get("ATOMYX_API_KEY"))}
}

// Sentinels for errors.Is on an *APIError (and on a call that gave up).
var (
	ErrBadRequest      = errors.New("vault: bad request")
	ErrUnauthenticated = errors.New("vault: unauthenticated")
	ErrForbidden       = errors.New("vault: forbidden")
	ErrNotFound        = errors.New("vault: not found")
	ErrConflict        = errors.New("vault: conflict")
	ErrRateLimited     = errors.New("vault: rate limited")
	ErrUnavailable     = errors.New("vault: unavailable")
)

// APIError is a non-2xx answer of the Vault. Message is the server's,
// cleaned: keys in it are redacted, the bearer key is cut out, control
// characters are dropped and it is truncated.
type APIError struct {
	// Op is the call: verify, get, revoke, reissue or issue.
	Op     string
	Status int
	Code   string
	// Message is the server's message, cleaned.
	Message string
	// Role is the role a 403 found missing.
	Role string
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "vault: %s: %d", e.Op, e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	} else if t := http.StatusText(e.Status); t != "" {
		b.WriteString(" " + strings.ToLower(t))
	}
	switch {
	case e.Status == http.StatusUnauthorized:
		b.WriteString(": the API key is missing, unknown, revoked or expired (check ATOMYX_API_KEY)")
	case e.Status == http.StatusForbidden && e.Role != "":
		b.WriteString(": the API key lacks the role " + e.Role)
	case e.Status == http.StatusConflict:
		b.WriteString(": the Idempotency-Key was already used with a different request")
	case e.Status >= 300 && e.Status < 400:
		b.WriteString(": unexpected redirect")
	}
	if e.Message != "" {
		b.WriteString(" (server: " + e.Message + ")")
	}
	return b.String()
}

// Is maps the status to the package's sentinels.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrBadRequest:
		return e.Status == http.StatusBadRequest
	case ErrUnauthenticated:
		return e.Status == http.StatusUnauthorized
	case ErrForbidden:
		return e.Status == http.StatusForbidden
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrConflict:
		return e.Status == http.StatusConflict
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	case ErrUnavailable:
		return e.Status >= 500
	}
	return false
}

// Stats counts a Client's traffic.
type Stats struct {
	// Calls is the number of HTTP attempts made, retries included.
	Calls int64
	// Retries is the number of attempts after a first one.
	Retries int64
	// CacheHits is the number of fingerprints Verify answered from its
	// cache.
	CacheHits int64
}

// Client speaks the Vault API. It is safe for concurrent use.
type Client struct {
	base   string // scheme://host[/path], no trailing slash
	apiKey string
	hc     *http.Client
	cfg    Config

	calls, retries, hits atomic.Int64

	verifyMu sync.Mutex // one Verify at a time, so a fingerprint is asked once
	mu       sync.Mutex
	cache    map[string]KeyInfo
}

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	base, err := checkBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if cfg.APIKey == "" {
		return nil, errors.New("vault: no API key (set ATOMYX_API_KEY)")
	}
	for _, r := range cfg.APIKey {
		if r <= ' ' || r == 0x7f || r > unicode.MaxASCII {
			return nil, errors.New("vault: the API key holds a space, control or non-ASCII character")
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = DefaultMaxRetries
	} else if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	}
	if cfg.MaxElapsed <= 0 {
		cfg.MaxElapsed = DefaultMaxElapsed
	}
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	if cfg.Sleep == nil {
		cfg.Sleep = backoff.Sleep
	}
	hc := cfg.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		tr.MaxIdleConnsPerHost = 4
		hc = &http.Client{
			Transport: tr,
			// The API never redirects; following one could send the
			// bearer key somewhere unexpected.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &Client{base: base, apiKey: cfg.APIKey, hc: hc, cfg: cfg, cache: map[string]KeyInfo{}}, nil
}

// checkBaseURL accepts https, and http to loopback hosts only.
func checkBaseURL(raw string) (string, error) {
	if raw == "" {
		raw = DefaultBaseURL
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("vault: bad API URL: %w", err)
	}
	if u.User != nil {
		return "", errors.New("vault: the API URL must not carry credentials")
	}
	if u.Host == "" {
		return "", fmt.Errorf("vault: the API URL %q has no host", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("vault: the API URL %q must not have a query or fragment", u.Redacted())
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !IsLoopback(u.Hostname()) {
			return "", fmt.Errorf("vault: refusing plain http to %s: use https (plain http is for loopback only)", u.Hostname())
		}
	default:
		return "", fmt.Errorf("vault: the API URL must be https, not %q", u.Scheme)
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"), nil
}

// IsLoopback reports whether host (a name or an address, without port) is
// this machine only.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// Stats returns the traffic so far.
func (c *Client) Stats() Stats {
	return Stats{Calls: c.calls.Load(), Retries: c.retries.Load(), CacheHits: c.hits.Load()}
}

// Verify asks the Vault about fingerprints: deduplicated, in batches of at
// most MaxVerifyBatch, each fingerprint once per Client (later calls answer
// from a cache, except for keys this Client revoked or reissued since).
// Results are keyed by fingerprint. On error the map holds
// what was verified before it.
func (c *Client) Verify(ctx context.Context, fingerprints []string) (map[string]KeyInfo, error) {
	for i, fp := range fingerprints {
		if !patterns.ValidFingerprint(fp) {
			// The value is not echoed: a malformed fingerprint may be a key.
			return nil, fmt.Errorf("vault: verify: fingerprint %d is malformed (want sha256: and 64 lower-case hex digits)", i)
		}
	}
	c.verifyMu.Lock()
	defer c.verifyMu.Unlock()

	out := make(map[string]KeyInfo, len(fingerprints))
	queued := make(map[string]bool)
	var todo []string
	c.mu.Lock()
	for _, fp := range fingerprints {
		if _, done := out[fp]; done || queued[fp] {
			continue
		}
		if info, ok := c.cache[fp]; ok {
			out[fp] = info
			c.hits.Add(1)
			continue
		}
		queued[fp] = true
		todo = append(todo, fp)
	}
	c.mu.Unlock()

	for len(todo) > 0 {
		n := min(len(todo), MaxVerifyBatch)
		batch := todo[:n]
		todo = todo[n:]
		var resp VerifyResponse
		err := c.do(ctx, call{op: "verify", method: http.MethodPost, path: "/v1/keys/verify",
			body: VerifyRequest{Fingerprints: batch}, role: RoleVerify, out: &resp})
		if err == nil {
			err = checkVerify(batch, resp.Results)
		}
		if err != nil {
			return out, err
		}
		c.mu.Lock()
		for _, r := range resp.Results {
			c.cache[r.Fingerprint] = r
			out[r.Fingerprint] = r
		}
		c.mu.Unlock()
	}
	return out, nil
}

// checkVerify holds the server to the contract: one known status per
// fingerprint, in order.
func checkVerify(batch []string, results []KeyInfo) error {
	if len(results) != len(batch) {
		return fmt.Errorf("vault: verify: the Vault answered %d results for %d fingerprints", len(results), len(batch))
	}
	for i, r := range results {
		if r.Fingerprint != batch[i] {
			return fmt.Errorf("vault: verify: result %d is for another fingerprint", i)
		}
		switch r.Status {
		case StatusActive, StatusRevoked, StatusExpired, StatusUnknown:
		default:
			return fmt.Errorf("vault: verify: result %d has an unknown status", i)
		}
	}
	return nil
}

// Get returns a key's metadata.
func (c *Client) Get(ctx context.Context, keyID string) (KeyInfo, error) {
	if err := checkKeyID("get", keyID); err != nil {
		return KeyInfo{}, err
	}
	var info KeyInfo
	err := c.do(ctx, call{op: "get", method: http.MethodGet, path: "/v1/keys/" + url.PathEscape(keyID),
		role: RoleVerify, out: &info})
	return info, err
}

// Revoke revokes a key. idempotencyKey identifies the intent: the same one
// on a retry, by this call or a later run, revokes once. An empty one is
// made up for this call's own retries.
func (c *Client) Revoke(ctx context.Context, keyID string, req RevokeRequest, idempotencyKey string) (RevokeResponse, error) {
	if err := checkKeyID("revoke", keyID); err != nil {
		return RevokeResponse{}, err
	}
	var resp RevokeResponse
	err := c.do(ctx, call{op: "revoke", method: http.MethodPost, path: "/v1/keys/" + url.PathEscape(keyID) + "/revoke",
		body: req, idem: orNewIdempotencyKey(idempotencyKey), role: RoleRevoke, out: &resp})
	if err == nil {
		c.forget(keyID)
	}
	return resp, err
}

// forget drops the cached verification of a key whose status this client
// just changed, so that a later Verify asks again.
func (c *Client) forget(keyID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for fp, info := range c.cache {
		if info.KeyID == keyID {
			delete(c.cache, fp)
		}
	}
}

// Reissue issues a replacement of a key. A retry with the same
// idempotencyKey and request returns the same new key.
func (c *Client) Reissue(ctx context.Context, keyID string, req ReissueRequest, idempotencyKey string) (IssuedKey, error) {
	if err := checkKeyID("reissue", keyID); err != nil {
		return IssuedKey{}, err
	}
	k, err := c.issued(ctx, call{op: "reissue", method: http.MethodPost, path: "/v1/keys/" + url.PathEscape(keyID) + "/reissue",
		body: req, idem: orNewIdempotencyKey(idempotencyKey), role: RoleIssue})
	if err == nil {
		c.forget(keyID)
	}
	return k, err
}

// Issue issues a new key (an administrator's call).
func (c *Client) Issue(ctx context.Context, req IssueRequest, idempotencyKey string) (IssuedKey, error) {
	return c.issued(ctx, call{op: "issue", method: http.MethodPost, path: "/v1/keys",
		body: req, idem: orNewIdempotencyKey(idempotencyKey), role: RoleIssue})
}

func (c *Client) issued(ctx context.Context, cl call) (IssuedKey, error) {
	var wire IssuedKeyBody
	cl.out = &wire
	if err := c.do(ctx, cl); err != nil {
		return IssuedKey{}, err
	}
	key := wire.Key
	wire.Key = ""
	if !patterns.Valid([]byte(key)) {
		return IssuedKey{}, fmt.Errorf("vault: %s: the Vault returned a malformed key", cl.op)
	}
	out := wire.IssuedKey
	out.Key = patterns.NewSecret(key)
	if env, err := patterns.ParseEnvironment(out.Environment); err == nil && patterns.EnvironmentOf([]byte(key)) != env {
		return IssuedKey{}, fmt.Errorf("vault: %s: the new key %s is not of environment %s", cl.op, out.Key, out.Environment)
	}
	return out, nil
}

// VerifyFindings verifies findings in place: Status, KeyID, Owner,
// Products, CreatedAt and LastUsedAt from the Vault. A finding the Vault
// could not answer for stays unverified with a StatusReason, and the error
// is returned.
func (c *Client) VerifyFindings(ctx context.Context, fs []finding.Finding) error {
	fps := make([]string, 0, len(fs))
	bad := 0
	for _, f := range fs {
		if patterns.ValidFingerprint(f.Fingerprint) {
			fps = append(fps, f.Fingerprint)
		} else {
			bad++
		}
	}
	res, err := c.Verify(ctx, fps)
	for i := range fs {
		f := &fs[i]
		info, ok := res[f.Fingerprint]
		if !ok {
			f.Status = finding.Unverified
			switch {
			case !patterns.ValidFingerprint(f.Fingerprint):
				f.StatusReason = "malformed fingerprint"
			case err != nil:
				f.StatusReason = err.Error()
			default:
				f.StatusReason = "no answer from the Vault"
			}
			continue
		}
		f.Status = finding.Status(info.Status)
		f.StatusReason = ""
		f.KeyID = info.KeyID
		f.Owner = nil
		if info.Owner != nil {
			o := *info.Owner
			f.Owner = &o
		}
		f.Products = slices.Clone(info.Products)
		f.CreatedAt = info.CreatedAt
		f.LastUsedAt = info.LastUsedAt
	}
	if err != nil {
		return err
	}
	if bad > 0 {
		return fmt.Errorf("vault: verify: %d findings have a malformed fingerprint", bad)
	}
	return nil
}

func checkKeyID(op, id string) error {
	if id == "" || len(id) > 128 {
		return fmt.Errorf("vault: %s: malformed key id", op)
	}
	for _, c := range []byte(id) {
		if !(patterns.IsBase62(c) || c == '_' || c == '-') {
			return fmt.Errorf("vault: %s: malformed key id", op)
		}
	}
	return nil
}

// NewIdempotencyKey returns a random Idempotency-Key.
func NewIdempotencyKey() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	return "idem_" + hex.EncodeToString(b[:])
}

func orNewIdempotencyKey(k string) string {
	if k != "" {
		return k
	}
	return NewIdempotencyKey()
}

// call is one API call, as do makes it.
type call struct {
	op           string
	method, path string
	body         any
	idem         string
	role         string // the role the endpoint needs, for 403s
	out          any
}

// do makes a call with retries: 429 waits Retry-After, 5xx and transport
// errors back off; everything else stops at once.
func (c *Client) do(ctx context.Context, cl call) error {
	var payload []byte
	if cl.body != nil {
		var err error
		if payload, err = json.Marshal(cl.body); err != nil {
			return fmt.Errorf("vault: %s: encode request: %w", cl.op, err)
		}
	}
	start := time.Now()
	var waited time.Duration
	for attempt := 0; ; attempt++ {
		wait, retry, err := c.attempt(ctx, cl, payload)
		if err == nil {
			return nil
		}
		if !retry || ctx.Err() != nil {
			return err
		}
		if attempt >= c.cfg.MaxRetries {
			return fmt.Errorf("%w: %w (gave up after %d attempts)", ErrUnavailable, err, attempt+1)
		}
		if wait <= 0 {
			wait = backoff.Policy{Base: c.cfg.Backoff, Max: c.cfg.MaxBackoff}.Delay(attempt)
		}
		if max(time.Since(start), waited)+wait > c.cfg.MaxElapsed {
			return fmt.Errorf("%w: %w (gave up after %d attempts, %s)", ErrUnavailable, err, attempt+1, c.cfg.MaxElapsed)
		}
		c.retries.Add(1)
		waited += wait
		if err := c.cfg.Sleep(ctx, wait); err != nil {
			return fmt.Errorf("vault: %s: %w", cl.op, err)
		}
	}
}

// attempt makes one request. It returns whether the failure is worth a
// retry, and how long the server asked to wait first.
func (c *Client) attempt(ctx context.Context, cl call, payload []byte) (wait time.Duration, retry bool, err error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(actx, cl.method, c.base+cl.path, body)
	if err != nil {
		return 0, false, fmt.Errorf("vault: %s: %w", cl.op, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.apiKey)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cl.idem != "" {
		req.Header.Set("Idempotency-Key", cl.idem)
	}
	c.calls.Add(1)
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, false, fmt.Errorf("vault: %s: %w", cl.op, ctx.Err())
		}
		return 0, transient(err), fmt.Errorf("vault: %s: %s %s: %w", cl.op, cl.method, cl.path, unwrapURL(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		if ctx.Err() != nil {
			return 0, false, fmt.Errorf("vault: %s: %w", cl.op, ctx.Err())
		}
		// Cut off mid-body: as good as a dropped connection.
		return 0, true, fmt.Errorf("vault: %s: reading the response: %w", cl.op, err)
	}
	if len(data) > maxResponse {
		return 0, false, fmt.Errorf("vault: %s: response larger than %d bytes", cl.op, maxResponse)
	}
	if resp.StatusCode/100 == 2 {
		if cl.out == nil {
			return 0, false, nil
		}
		if err := json.Unmarshal(data, cl.out); err != nil {
			// json's messages name types and offsets, not values.
			return 0, false, fmt.Errorf("vault: %s: malformed %d response: %w", cl.op, resp.StatusCode, err)
		}
		return 0, false, nil
	}
	apiErr := c.apiError(cl, resp.StatusCode, data)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return c.retryAfter(resp.Header.Get("Retry-After")), true, apiErr
	case resp.StatusCode >= 500:
		return 0, true, apiErr
	}
	return 0, false, apiErr
}

func (c *Client) apiError(cl call, status int, data []byte) *APIError {
	e := &APIError{Op: cl.op, Status: status}
	var eb ErrorBody
	if json.Unmarshal(data, &eb) == nil {
		e.Code = cleanToken(eb.Error.Code)
		e.Message = CleanMessage(eb.Error.Message, c.apiKey)
		e.Role = cleanToken(eb.Error.Role)
	}
	if status == http.StatusForbidden && e.Role == "" {
		e.Role = cl.role
	}
	return e
}

// cleanToken keeps a code or role only if it looks like one.
func cleanToken(s string) string {
	if len(s) > 40 {
		return ""
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == ':' || c == '-') {
			return ""
		}
	}
	return s
}

// maxMessage bounds a server message kept in an error.
const maxMessage = 200

// CleanMessage makes a server's text safe to show: every key-shaped run is
// redacted, the bearer key (if any) is cut out, control characters are
// dropped and the result is truncated.
func CleanMessage(msg, bearer string) string {
	if bearer != "" {
		msg = strings.ReplaceAll(msg, bearer, "[api key]")
	}
	msg = RedactKeys(msg)
	var b strings.Builder
	n := 0
	for _, r := range msg {
		if n == maxMessage {
			b.WriteString("…")
			break
		}
		if r == utf8RuneError || unicode.IsControl(r) {
			r = ' '
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}

const utf8RuneError = '\uFFFD'

// RedactKeys cuts every key-shaped run in s, valid or not, glued to a word
// or not, to its redacted form (patterns.RedactRuns).
func RedactKeys(s string) string { return patterns.RedactRuns(s) }

// retryAfter reads Retry-After (seconds or an HTTP date), capped.
func (c *Client) retryAfter(v string) time.Duration {
	d, ok := backoff.ParseRetryAfter(v, time.Now())
	if !ok {
		return 0
	}
	if d > c.cfg.MaxRetryAfter {
		d = c.cfg.MaxRetryAfter
	}
	if d == 0 {
		d = time.Millisecond // "retry now", but still through Sleep
	}
	return d
}

// transient says whether a transport error may pass on a retry. Most do
// (timeouts, resets, EOF, refused connections); certificate errors, an
// unknown host and a bad URL do not.
func transient(err error) bool {
	var (
		certErr    *tls.CertificateVerificationError
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		invalidErr x509.CertificateInvalidError
		recErr     tls.RecordHeaderError
		dnsErr     *net.DNSError
	)
	switch {
	case errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr),
		errors.As(err, &invalidErr), errors.As(err, &recErr):
		return false
	case errors.As(err, &dnsErr):
		return dnsErr.IsTemporary || dnsErr.IsTimeout
	case errors.Is(err, context.Canceled):
		return false
	}
	return true
}

// unwrapURL drops *url.Error's repetition of method and URL.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
