package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"golang.org/x/crypto/nacl/secretbox"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/patterns"
)

// File names inside the data directory.
const (
	DBFile       = "vault.db"
	SecretFile   = "server.secret"
	AdminKeyFile = "admin.key"
)

// Options tune a Server. The zero value is a well-behaved server.
type Options struct {
	Faults Faults
	// Now is the clock; time.Now when nil. Tests move it to end grace
	// periods and expire idempotency records.
	Now func() time.Time
	// NoSync skips fsync on commits: faster, for tests and throwaway
	// demos; a crash may lose the last commits.
	NoSync bool
	// Logf, when set, is told of notable events. Each line is masked
	// with patterns.RedactRuns first: never a whole key.
	Logf func(format string, args ...any)
}

// Faults make the server misbehave on purpose, so that clients' retries
// and crash safety are tested against it. Probabilities are per request,
// drawn from a random source seeded with Seed.
type Faults struct {
	// Latency delays every API request.
	Latency time.Duration
	// RateLimit is the probability of a 429 carrying Retry-After.
	RateLimit float64
	// RetryAfter is what a 429 asks for, in whole seconds (rounded up).
	RetryAfter time.Duration
	// ServerError is the probability of a 503.
	ServerError float64
	// Drop is the probability of closing the connection without an answer.
	Drop float64
	// LoseReissueResponse commits a reissue, then drops the connection
	// instead of answering; a retry with the same Idempotency-Key gets the
	// committed key. Only the first answer for a key is lost.
	LoseReissueResponse bool
	// Seed seeds the random source of the probabilities.
	Seed uint64
}

// Server is the local Vault.
type Server struct {
	dir    string
	db     *bolt.DB
	secret [32]byte
	now    func() time.Time
	logf   func(string, ...any)
	faults *faulter
	admin  AdminKey

	// lastUsed remembers the second each key last authenticated, so that
	// last_used_at costs one write per key per second at most.
	lastUsedMu sync.Mutex
	lastUsed   map[string]int64

	closeOnce sync.Once
}

// AdminKey describes the administrator key, without the key.
type AdminKey struct {
	KeyID       string
	Fingerprint string
	// Path is the file the key was written to.
	Path string
	// Redacted is the key's redacted form, when Path still holds the key.
	Redacted string
	// Created is true when this Open made the key.
	Created bool
}

// Open opens (or creates) the Vault kept in dir. Only one process may hold
// a directory at a time.
func Open(dir string, opts Options) (*Server, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("vault dir: %w", err)
	}
	s := &Server{dir: dir, now: opts.Now, logf: opts.Logf, lastUsed: map[string]int64{}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logf == nil {
		s.logf = func(string, ...any) {}
	} else {
		// Callers' fields (reason, evidence, owner, ids) reach the log:
		// every line goes through the shared mask, so that a key sent in
		// any of them is never printed whole.
		logf := s.logf
		s.logf = func(format string, args ...any) {
			logf("%s", patterns.RedactRuns(fmt.Sprintf(format, args...)))
		}
	}
	f, err := newFaulter(opts.Faults)
	if err != nil {
		return nil, err
	}
	s.faults = f
	if err := s.loadSecret(); err != nil {
		return nil, err
	}
	db, err := bolt.Open(filepath.Join(dir, DBFile), 0o600, &bolt.Options{Timeout: 2 * time.Second, NoSync: opts.NoSync})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("vault database %s is in use by another process", filepath.Join(dir, DBFile))
		}
		return nil, fmt.Errorf("vault database: %w", err)
	}
	s.db = db
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) init() error {
	var adminID string
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := initBuckets(tx); err != nil {
			return err
		}
		if n, err := purgeIdem(tx, s.now()); err != nil {
			return err
		} else if n > 0 {
			s.logf("purged %d idempotency records older than %s", n, idemTTL)
		}
		adminID = string(tx.Bucket(bucketMeta).Get(metaAdminID))
		return nil
	})
	if err != nil {
		return fmt.Errorf("vault database: %w", err)
	}
	path := filepath.Join(s.dir, AdminKeyFile)
	if adminID != "" {
		err := s.db.View(func(tx *bolt.Tx) error {
			r, err := getKey(tx, adminID)
			if err != nil {
				return err
			}
			if r == nil {
				return fmt.Errorf("%w: the admin key record is missing", errCorrupt)
			}
			s.admin = AdminKey{KeyID: r.ID, Fingerprint: r.Fingerprint, Path: path}
			// Show the redacted form while the file still holds the key.
			if b, err := os.ReadFile(path); err == nil {
				k := bytes.TrimSpace(b)
				if patterns.Valid(k) && patterns.Fingerprint(k) == r.Fingerprint {
					s.admin.Redacted = patterns.Redact(k)
				}
			}
			return nil
		})
		return err
	}
	return s.createAdmin(path)
}

// createAdmin makes the administrator key: written to its file first, so
// that a key the database knows is never one nobody has.
func (s *Server) createAdmin(path string) error {
	key, err := patterns.Generate(patterns.Development)
	if err != nil {
		return err
	}
	now := s.now()
	id, err := newKeyID(now)
	if err != nil {
		return err
	}
	rec := &keyRecord{
		ID: id, Fingerprint: patterns.Fingerprint([]byte(key)),
		Environment: string(patterns.Development),
		Owner:       &finding.Owner{Org: "local", Team: "vault-admin"},
		Roles:       []string{vault.RoleVerify, vault.RoleRevoke, vault.RoleIssue},
		CreatedAt:   now.UTC(),
	}
	if err := writeFileAtomic(path, []byte(key+"\n"), 0o600); err != nil {
		return fmt.Errorf("admin key: %w", err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		if err := putKey(tx, rec); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(metaAdminID, []byte(id))
	})
	if err != nil {
		return fmt.Errorf("vault database: %w", err)
	}
	s.admin = AdminKey{KeyID: id, Fingerprint: rec.Fingerprint, Path: path, Redacted: patterns.Redact([]byte(key)), Created: true}
	s.logf("created the admin key %s (%s) in %s", s.admin.Redacted, id, path)
	return nil
}

// Admin describes the administrator key.
func (s *Server) Admin() AdminKey { return s.admin }

// Dir is the data directory.
func (s *Server) Dir() string { return s.dir }

// loadSecret reads the sealing secret, making it on first start.
func (s *Server) loadSecret() error {
	path := filepath.Join(s.dir, SecretFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if len(b) != len(s.secret) {
			return fmt.Errorf("%s: want %d bytes, found %d", path, len(s.secret), len(b))
		}
		copy(s.secret[:], b)
		return nil
	case errors.Is(err, os.ErrNotExist):
		if _, err := rand.Read(s.secret[:]); err != nil {
			return fmt.Errorf("server secret: %w", err)
		}
		if err := writeFileAtomic(path, s.secret[:], 0o600); err != nil {
			return fmt.Errorf("server secret: %w", err)
		}
		return nil
	default:
		return fmt.Errorf("server secret: %w", err)
	}
}

// seal encrypts a stored response.
func (s *Server) seal(p []byte) ([]byte, error) {
	var nonce [24]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, err
	}
	return secretbox.Seal(nonce[:], p, &nonce, &s.secret), nil
}

// unseal decrypts a stored response.
func (s *Server) unseal(b []byte) ([]byte, error) {
	if len(b) < 24+secretbox.Overhead {
		return nil, fmt.Errorf("%w: sealed response too short", errCorrupt)
	}
	var nonce [24]byte
	copy(nonce[:], b)
	p, ok := secretbox.Open(nil, b[24:], &nonce, &s.secret)
	if !ok {
		return nil, fmt.Errorf("%w: a sealed response does not open (server.secret changed?)", errCorrupt)
	}
	return p, nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Close closes the database.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() { err = s.db.Close() })
	return err
}

// ListenAndServe serves on addr until ctx is done, then shuts down
// gracefully.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is done, then shuts down gracefully: no new
// connections, in-flight requests get a few seconds to finish.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30*time.Second + s.faults.latency,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(io.Discard, "", 0),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	purge := time.NewTicker(time.Hour)
	defer purge.Stop()
	for {
		select {
		case err := <-errc:
			return err
		case <-purge.C:
			_ = s.db.Update(func(tx *bolt.Tx) error { _, err := purgeIdem(tx, s.now()); return err })
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := hs.Shutdown(sctx)
			<-errc
			return err
		}
	}
}
