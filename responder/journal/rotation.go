package journal

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/ghapi"
	bolt "go.etcd.io/bbolt"
)

// Steps of a scheduled rotation, besides Reissued, Delivered, Verified,
// Revoked and Opened.
const (
	// Scheduled is a rotation's first commit: the policy said the key is
	// due and where its replacement goes.
	Scheduled Step = "scheduled"
	// Aged is an update of a due key's issue (it got older).
	Aged Step = "aged"
)

// Rotation is the scheduled rotation of one key, or (with no Sinks) the
// report of a due key atomyx-guard cannot rotate. It lives in its own
// bucket: a scheduled rotation is not a leak, and `respond` never resumes
// it as one.
type Rotation struct {
	KeyID       string         `json:"key_id"`
	Environment string         `json:"environment"`
	Owner       *finding.Owner `json:"owner,omitempty"`
	// CreatedAt is the old key's creation time, as the Vault listed it.
	CreatedAt string `json:"created_at,omitempty"`
	// Reason is "max_age" or "unused".
	Reason string `json:"reason"`
	// RevokeOld is what the reissue asked: a grace, or "immediately"
	// (meaning: revoke once the replacement is verified).
	RevokeOld string               `json:"revoke_old,omitempty"`
	Sinks     []ghapi.SecretTarget `json:"sinks,omitempty"`
	IssueRepo string               `json:"issue_repo,omitempty"`

	ScheduledAt time.Time            `json:"scheduled_at"`
	Reissued    *Replacement         `json:"reissued,omitempty"`
	Delivered   map[string]time.Time `json:"delivered,omitempty"`
	VerifiedAt  time.Time            `json:"verified_at,omitzero"`
	// RevokedAt is when atomyx-guard saw the old key revoked: by its own
	// call, or by the Vault at the end of the grace.
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	Issue     *IssueRef `json:"issue,omitempty"`
	// AgeReported is the age in days the issue last reported.
	AgeReported int       `json:"age_reported,omitempty"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Replaced reports whether the replacement is delivered everywhere and
// verified: the rotation proper is over, the old key only waits for the
// end of its grace.
func (r *Rotation) Replaced() bool { return r.Reissued != nil && !r.VerifiedAt.IsZero() }

var rotationBucket = []byte("rotations")

// RotationLock takes the in-process lock of a key's rotation.
func (j *Journal) RotationLock(keyID string) func() { return j.Lock("rotation\x00" + keyID) }

// GetRotation returns the rotation of a key id.
func (j *Journal) GetRotation(keyID string) (Rotation, bool, error) {
	var (
		r  Rotation
		ok bool
	)
	err := j.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(rotationBucket)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(keyID))
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &r)
	})
	if err != nil {
		return Rotation{}, false, fmt.Errorf("journal: read rotation of %s: %w", keyID, err)
	}
	return r, ok, nil
}

// UpdateRotation runs fn on the rotation of keyID (a zero Rotation when
// new) and commits the result as step, fsync'd, then calls OnCommit with
// the key id. fn's error aborts the step.
func (j *Journal) UpdateRotation(keyID string, step Step, fn func(*Rotation) error) (Rotation, error) {
	var r Rotation
	err := j.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(rotationBucket)
		if err != nil {
			return err
		}
		if v := b.Get([]byte(keyID)); v != nil {
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
		}
		if err := fn(&r); err != nil {
			return err
		}
		r.KeyID = keyID
		r.UpdatedAt = time.Now().UTC()
		v, err := json.Marshal(&r)
		if err != nil {
			return err
		}
		return b.Put([]byte(keyID), v)
	})
	if err != nil {
		return Rotation{}, fmt.Errorf("journal: rotation of %s: %s: %w", keyID, step, err)
	}
	if j.OnCommit != nil {
		j.OnCommit(keyID, step)
	}
	return r, nil
}

// Rotations returns every rotation, by key id.
func (j *Journal) Rotations() ([]Rotation, error) {
	var out []Rotation
	err := j.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(rotationBucket)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var r Rotation
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("rotation of %s: %w", k, err)
			}
			out = append(out, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return out, nil
}
