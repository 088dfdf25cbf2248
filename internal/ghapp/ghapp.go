// Package ghapp authenticates as a GitHub App: a JWT (RS256, signed with
// the App's private key by crypto/rsa) exchanged for installation tokens,
// one per installation, minted on demand, kept in memory only and minted
// again before they expire. serve uses it so that an organisation installs
// one App instead of handing the service a personal token.
package ghapp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LoadKey reads the App's private key from a PEM file (PKCS#1 "RSA
// PRIVATE KEY", as GitHub hands it out, or PKCS#8). The key is never taken
// from the command line or the environment, where other processes and
// shell histories see it.
func LoadKey(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("app key: %w", err)
	}
	return ParseKey(b)
}

// ParseKey parses a PEM RSA private key.
func ParseKey(pemBytes []byte) (*rsa.PrivateKey, error) {
	blk, _ := pem.Decode(pemBytes)
	if blk == nil {
		return nil, errors.New("app key: no PEM block")
	}
	switch blk.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("app key: %w", err)
		}
		return k, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("app key: %w", err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("app key: not an RSA key")
		}
		return rk, nil
	}
	return nil, fmt.Errorf("app key: PEM block %q, want an RSA private key", blk.Type)
}

// App mints installation tokens. The zero value is not usable: set ID,
// Key and BaseURL.
type App struct {
	ID  int64
	Key *rsa.PrivateKey
	// BaseURL is the REST API root (GITHUB_API_URL), with or without a
	// trailing slash.
	BaseURL string
	// HTTPClient carries the requests; http.DefaultClient when nil.
	HTTPClient *http.Client
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Refresh is how long before its expiry a token is minted again
	// (5 minutes when zero): a fetch or a response started with it must
	// not find it expired halfway.
	Refresh time.Duration

	mu     sync.Mutex
	tokens map[int64]token
}

type token struct {
	value   string
	expires time.Time
}

func (a *App) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// JWT is the App's own token: RS256, issued 60 s in the past (GitHub's
// advice against clock drift), valid 9 minutes (GitHub allows 10).
func (a *App) JWT() (string, error) {
	if a.Key == nil || a.ID <= 0 {
		return "", errors.New("app: no id or key")
	}
	now := a.now()
	head := b64([]byte(`{"alg":"RS256","typ":"JWT"}`))
	claims, err := json.Marshal(map[string]any{"iat": now.Add(-60 * time.Second).Unix(),
		"exp": now.Add(9 * time.Minute).Unix(), "iss": strconv.FormatInt(a.ID, 10)})
	if err != nil {
		return "", err
	}
	signing := head + "." + b64(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, a.Key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("app: sign: %w", err)
	}
	return signing + "." + b64(sig), nil
}

// VerifyJWT checks an RS256 JWT against pub and returns its claims: for
// fakes and tests, which play GitHub's part.
func VerifyJWT(tok string, pub *rsa.PublicKey, now time.Time) (map[string]any, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errors.New("jwt: not three parts")
	}
	head, err := base64.RawURLEncoding.Strict().DecodeString(parts[0])
	if err != nil {
		return nil, fmt.Errorf("jwt header: %w", err)
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(head, &h); err != nil || h.Alg != "RS256" {
		return nil, errors.New("jwt: alg is not RS256")
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(parts[2])
	if err != nil {
		return nil, fmt.Errorf("jwt signature: %w", err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return nil, fmt.Errorf("jwt: %w", err)
	}
	body, err := base64.RawURLEncoding.Strict().DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("jwt claims: %w", err)
	}
	var c map[string]any
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, fmt.Errorf("jwt claims: %w", err)
	}
	exp, _ := c["exp"].(float64)
	iat, _ := c["iat"].(float64)
	if now.Unix() >= int64(exp) || now.Unix() < int64(iat)-60 {
		return nil, errors.New("jwt: expired or not yet valid")
	}
	return c, nil
}

// Token returns a token for the installation, minted when none is cached
// or the cached one expires within Refresh. Tokens live in memory only.
func (a *App) Token(ctx context.Context, installation int64) (string, error) {
	if installation <= 0 {
		return "", errors.New("app: no installation id")
	}
	refresh := a.Refresh
	if refresh <= 0 {
		refresh = 5 * time.Minute
	}
	a.mu.Lock()
	defer a.mu.Unlock() // one mint at a time: a burst of pushes mints once
	if t, ok := a.tokens[installation]; ok && a.now().Add(refresh).Before(t.expires) {
		return t.value, nil
	}
	t, err := a.mint(ctx, installation)
	if err != nil {
		return "", err
	}
	if a.tokens == nil {
		a.tokens = map[int64]token{}
	}
	a.tokens[installation] = t
	return t.value, nil
}

func (a *App) mint(ctx context.Context, installation int64) (token, error) {
	jwt, err := a.JWT()
	if err != nil {
		return token{}, err
	}
	u := strings.TrimRight(a.BaseURL, "/") + "/app/installations/" + strconv.FormatInt(installation, 10) + "/access_tokens"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(nil))
	if err != nil {
		return token{}, fmt.Errorf("app: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+jwt)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	hc := a.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return token{}, fmt.Errorf("app: installation %d token: %w", installation, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return token{}, fmt.Errorf("app: installation %d token: %w", installation, err)
	}
	if resp.StatusCode != http.StatusCreated {
		var e struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(body, &e)
		return token{}, fmt.Errorf("app: installation %d token: %s: %.200s", installation, resp.Status, e.Message)
	}
	var out struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Token == "" || out.ExpiresAt.IsZero() {
		return token{}, fmt.Errorf("app: installation %d token: malformed answer", installation)
	}
	return token{value: out.Token, expires: out.ExpiresAt}, nil
}
