package org

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/report"
)

// State is the incremental scan's memory: per repository, the ref tips
// scanned and the findings seen. It holds fingerprints and redacted forms,
// never a key.
type State struct {
	db *bolt.DB
}

// RepoState is what State keeps of one repository.
type RepoState struct {
	// Tips are the ref tips (ref name → object id) of the last scan.
	Tips map[string]string `json:"tips"`
	// Findings are every key found so far, their locations' Repo set.
	Findings  []finding.Finding `json:"findings,omitempty"`
	ScannedAt time.Time         `json:"scanned_at"`
}

var (
	bucketRepos = []byte("repos")
	bucketMeta  = []byte("meta")
	keyVersion  = []byte("version")
)

const stateVersion = "1"

// OpenState opens (or creates) the state database at path. A second
// process on the same file waits a few seconds, then gets an error.
func OpenState(path string) (*State, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("state %s: in use by another scan", path)
	}
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		switch v := meta.Get(keyVersion); {
		case v == nil:
			if err := meta.Put(keyVersion, []byte(stateVersion)); err != nil {
				return err
			}
		case string(v) != stateVersion:
			return fmt.Errorf("version %q, want %q (remove it to start afresh)", v, stateVersion)
		}
		_, err = tx.CreateBucketIfNotExists(bucketRepos)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	return &State{db: db}, nil
}

// Close closes the database.
func (s *State) Close() error { return s.db.Close() }

// Get returns the state of a repository; ok is false when it was never
// scanned.
func (s *State) Get(fullName string) (rs RepoState, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketRepos).Get([]byte(fullName))
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &rs)
	})
	if err != nil {
		return RepoState{}, false, fmt.Errorf("state of %s: %w", fullName, err)
	}
	upgradeLocations(fullName, rs.Findings)
	return rs, ok, nil
}

// upgradeLocations reads locations stored before Location.Repo existed,
// whose Path was "OWNER/NAME:path", as Repo and Path: a cache written by
// an earlier version stays usable, without a full rescan.
func upgradeLocations(fullName string, fs []finding.Finding) {
	for i := range fs {
		for j := range fs[i].Locations {
			l := &fs[i].Locations[j]
			if l.Repo != "" {
				continue
			}
			if rest, ok := strings.CutPrefix(l.Path, fullName+":"); ok {
				l.Repo, l.Path = fullName, rest
			}
		}
	}
}

// Put records the state of a repository. Every free-text field of the
// findings is scrubbed first, so that a path named after a key stays out
// of the file too.
func (s *State) Put(fullName string, rs RepoState) error {
	rs.Tips = maps.Clone(rs.Tips)
	rs.Findings = report.Scrubbed(&report.Report{Findings: rs.Findings}).Findings
	b, err := json.Marshal(rs)
	if err != nil {
		return fmt.Errorf("state of %s: %w", fullName, err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRepos).Put([]byte(fullName), b)
	})
	if err != nil {
		return fmt.Errorf("state of %s: %w", fullName, err)
	}
	return nil
}
