package server

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/patterns"
)

// testVault is a local Vault on a loopback port.
type testVault struct {
	dir   string
	srv   *Server
	http  *httptest.Server
	URL   string
	Admin string // the admin key
	clock *testkit.Clock
}

func startVault(t testing.TB, dir string, opts Options) *testVault {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	opts.NoSync = true
	c := testkit.NewClock()
	if opts.Now == nil {
		opts.Now = c.Now
	}
	srv, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); srv.Close() })
	admin, err := os.ReadFile(filepath.Join(dir, AdminKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	return &testVault{dir: dir, srv: srv, http: hs, URL: hs.URL, Admin: strings.TrimSpace(string(admin)), clock: c}
}

// stop closes the server and its database, for a restart.
func (v *testVault) stop() {
	v.http.Close()
	v.srv.Close()
}

func (v *testVault) client(t testing.TB, key string, mod ...func(*vault.Config)) *vault.Client {
	t.Helper()
	s := &testkit.Sleeps{}
	cfg := vault.Config{BaseURL: v.URL, APIKey: key, Sleep: s.Sleep, Timeout: 5 * time.Second}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := vault.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// issue issues a key through the API.
func (v *testVault) issue(t testing.TB, req vault.IssueRequest) vault.IssuedKey {
	t.Helper()
	k, err := v.client(t, v.Admin).Issue(context.Background(), req, "")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// raw sends one request and returns status, headers and body.
func (v *testVault) raw(t testing.TB, method, path, bearer, idem, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, v.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := v.http.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, resp.Header, b.Bytes()
}

// bulkIssue stores n keys straight into the database in one transaction
// (the load test needs thousands; the API path is tested elsewhere). Every
// revokeEvery-th key is revoked. It returns the keys' fingerprints and
// their statuses.
func bulkIssue(t testing.TB, s *Server, n, revokeEvery int) map[string]string {
	t.Helper()
	out := make(map[string]string, n)
	now := s.now()
	err := s.db.Update(func(tx *bolt.Tx) error {
		for i := range n {
			env := patterns.Environments[i%3]
			_, rec, err := newKey(tx, now, string(env), []string{"manage"}, &finding.Owner{Org: "load"}, nil, time.Time{})
			if err != nil {
				return err
			}
			status := vault.StatusActive
			if revokeEvery > 0 && i%revokeEvery == 0 {
				rec.Revoked, rec.RevokedAt = true, now
				status = vault.StatusRevoked
			}
			if err := putKey(tx, rec); err != nil {
				return err
			}
			out[rec.Fingerprint] = status
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// countReplacements counts the keys that replace id.
func countReplacements(t testing.TB, s *Server, id string) int {
	t.Helper()
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketKeys).ForEach(func(_, v []byte) error {
			if bytes.Contains(v, []byte(`"replaces":"`+id+`"`)) {
				n++
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func randomFingerprint(t testing.TB) string {
	t.Helper()
	k, err := patterns.Generate(patterns.Production)
	if err != nil {
		t.Fatal(err)
	}
	return patterns.Fingerprint([]byte(k))
}
