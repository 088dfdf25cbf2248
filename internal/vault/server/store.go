package server

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/vault"
)

// Buckets of vault.db.
var (
	bucketKeys = []byte("keys") // key id → keyRecord (JSON)
	bucketFPs  = []byte("fps")  // fingerprint → key id
	bucketIdem = []byte("idem") // caller id \x00 Idempotency-Key → idemRecord
	bucketMeta = []byte("meta")
)

var metaAdminID = []byte("admin_id")

// keyRecord is what the Vault keeps of a key: its fingerprint, never the
// key.
type keyRecord struct {
	ID          string         `json:"id"`
	Fingerprint string         `json:"fingerprint"`
	Revoked     bool           `json:"revoked,omitempty"`
	Environment string         `json:"environment"`
	Products    []string       `json:"products,omitempty"`
	Owner       *finding.Owner `json:"owner,omitempty"`
	Roles       []string       `json:"roles,omitempty"`
	CreatedAt   time.Time      `json:"created_at"`
	LastUsedAt  time.Time      `json:"last_used_at,omitzero"`
	// ExpiresAt is the end of the key's life (status expired after it).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// GraceUntil is the end of a reissue's grace period (status revoked
	// after it).
	GraceUntil   time.Time `json:"grace_until,omitzero"`
	RevokedAt    time.Time `json:"revoked_at,omitzero"`
	RevokeReason string    `json:"revoke_reason,omitempty"`
	Evidence     string    `json:"evidence,omitempty"`
	Replaces     string    `json:"replaces,omitempty"`
	ReplacedBy   string    `json:"replaced_by,omitempty"`
}

// status is the key's status at now: a key whose grace has ended reads as
// revoked, one past its life as expired.
func (r *keyRecord) status(now time.Time) string {
	switch {
	case r.Revoked:
		return vault.StatusRevoked
	case !r.GraceUntil.IsZero() && !now.Before(r.GraceUntil):
		return vault.StatusRevoked
	case !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt):
		return vault.StatusExpired
	}
	return vault.StatusActive
}

// revokedAt is when a revoked key stopped working.
func (r *keyRecord) revokedAt() time.Time {
	if r.Revoked {
		return r.RevokedAt
	}
	return r.GraceUntil
}

func (r *keyRecord) hasRole(role string) bool { return slices.Contains(r.Roles, role) }

// holdsAll reports whether r holds every one of roles, and if not the
// first it lacks. A key may only make (issue or reissue) keys whose roles
// it holds itself: otherwise a key could gain roles through the key it
// makes.
func (r *keyRecord) holdsAll(roles []string) (missing string, ok bool) {
	for _, role := range roles {
		if !r.hasRole(role) {
			return role, false
		}
	}
	return "", true
}

// capExpiry bounds the life of a key that r makes: never past r's own
// end, so that a temporary key cannot mint a lasting one. Zero is never.
func (r *keyRecord) capExpiry(t time.Time) time.Time {
	if r.ExpiresAt.IsZero() || (!t.IsZero() && t.Before(r.ExpiresAt)) {
		return t
	}
	return r.ExpiresAt
}

// info is the key as verify and get show it.
func (r *keyRecord) info(now time.Time) vault.KeyInfo {
	ki := vault.KeyInfo{
		Fingerprint: r.Fingerprint,
		Status:      r.status(now),
		KeyID:       r.ID,
		Environment: r.Environment,
		Products:    r.Products,
		Owner:       r.Owner,
		CreatedAt:   rfc3339(r.CreatedAt),
		LastUsedAt:  rfc3339(r.LastUsedAt),
	}
	return ki
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// idemRecord is a stored response to replay for a repeated
// Idempotency-Key. Body is sealed: it may hold a whole key.
type idemRecord struct {
	Hash    string    `json:"hash"`
	Status  int       `json:"status"`
	Sealed  []byte    `json:"sealed"`
	Created time.Time `json:"created"`
}

// idemTTL is how long a response stays replayable.
const idemTTL = 24 * time.Hour

func getKey(tx *bolt.Tx, id string) (*keyRecord, error) {
	v := tx.Bucket(bucketKeys).Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	var r keyRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("key record %s: %w", id, err)
	}
	return &r, nil
}

func getKeyByFingerprint(tx *bolt.Tx, fp string) (*keyRecord, error) {
	id := tx.Bucket(bucketFPs).Get([]byte(fp))
	if id == nil {
		return nil, nil
	}
	return getKey(tx, string(id))
}

func putKey(tx *bolt.Tx, r *keyRecord) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketKeys).Put([]byte(r.ID), v); err != nil {
		return err
	}
	return tx.Bucket(bucketFPs).Put([]byte(r.Fingerprint), []byte(r.ID))
}

func initBuckets(tx *bolt.Tx) error {
	for _, b := range [][]byte{bucketKeys, bucketFPs, bucketIdem, bucketMeta} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	return nil
}

// purgeIdem deletes idempotency records older than idemTTL.
func purgeIdem(tx *bolt.Tx, now time.Time) (int, error) {
	b := tx.Bucket(bucketIdem)
	var old [][]byte
	err := b.ForEach(func(k, v []byte) error {
		var rec idemRecord
		if json.Unmarshal(v, &rec) != nil || now.Sub(rec.Created) > idemTTL {
			old = append(old, slices.Clone(k))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(old), nil
}

// crockford is the ULID alphabet.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// newKeyID returns "key_" and a ULID: 48 bits of milliseconds and 80
// random bits in Crockford base32, so ids sort by creation time.
func newKeyID(now time.Time) (string, error) {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		return "", fmt.Errorf("key id: %w", err)
	}
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	// 128 bits as 26 five-bit digits, the first holding 3 bits.
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return "key_" + string(out[:]), nil
}

var errCorrupt = errors.New("vault database is damaged")
