// Package vaulttest starts the real local Vault (package server) for the
// tests of the packages that talk to it, the way net/http/httptest starts
// a server: one owner of "a Vault on a loopback port, its database in the
// test's temporary directory, and its admin key", which the responder,
// rotate, serve, CLI and client tests each used to spell out. Test code
// only.
package vaulttest

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/internal/vault/server"
)

// Vault is a running local Vault.
type Vault struct {
	Dir    string         // its database directory
	Server *server.Server // for its test hooks
	URL    string
	Admin  string // the admin key, as `vault serve` writes it to AdminKeyFile

	web   *httptest.Server
	close sync.Once
}

// Start opens a Vault in a fresh temporary directory and serves it on a
// loopback port until the test ends. opts.NoSync is set: a test's database
// need not survive a power cut. Each wrap wraps the handler (fault
// injection, timing), the first innermost.
func Start(t testing.TB, opts server.Options, wrap ...func(http.Handler) http.Handler) *Vault {
	t.Helper()
	v := &Vault{Dir: t.TempDir()}
	opts.NoSync = true
	srv, err := server.Open(v.Dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = srv.Handler()
	for _, w := range wrap {
		h = w(h)
	}
	v.Server, v.web = srv, httptest.NewServer(h)
	v.URL = v.web.URL
	t.Cleanup(v.Close)
	admin, err := os.ReadFile(filepath.Join(v.Dir, server.AdminKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	v.Admin = strings.TrimSpace(string(admin))
	return v
}

// Close stops serving and closes the database, so that a test can read
// it; it may be called more than once.
func (v *Vault) Close() {
	v.close.Do(func() {
		v.web.Close()
		v.Server.Close()
	})
}

// Client returns a client holding the admin key, with short timeouts and
// back-offs (the defaults are for real networks); each mod may change its
// Config.
func (v *Vault) Client(t testing.TB, mod ...func(*vault.Config)) *vault.Client {
	t.Helper()
	cfg := vault.Config{BaseURL: v.URL, APIKey: v.Admin, Timeout: 5 * time.Second,
		Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxRetries: 8}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := vault.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
