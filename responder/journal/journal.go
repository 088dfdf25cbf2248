package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"filippo.io/age"
	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/ghapi"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/patterns"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Step names a journal step.
type Step string

// Steps, in the order of a rotation.
const (
	Detected  Step = "detected"
	Reissued  Step = "reissued"
	Delivered Step = "delivered" // one commit per sink
	Verified  Step = "verified"
	Revoked   Step = "revoked"
	Opened    Step = "issue-opened"
	Reported  Step = "reported"
	Noted     Step = "noted" // a later run's update (new locations)
	// Degraded commits a rotation turned into a revocation because the
	// Vault refused the reissue (403).
	Degraded Step = "degraded"
	// Filed commits the incident file written instead of a GitHub issue
	// (no token or no issue repository). A later run that can open the
	// issue opens it once and goes on to Opened and Reported.
	Filed Step = "incident-filed"
)

// Action is what a response does with a live leaked key. The journal owns
// it because every incident records one; the responder's policies and the
// policy file use this type.
type Action string

// Actions, from the least to the most.
const (
	Report Action = "report" // open an issue only
	Revoke Action = "revoke" // revoke, and report
	Rotate Action = "rotate" // reissue, deliver, verify, revoke, and report
)

// UnmarshalText accepts the three actions, so that the policy file
// decodes straight into an Action.
func (a *Action) UnmarshalText(b []byte) error {
	switch v := Action(b); v {
	case Report, Revoke, Rotate:
		*a = v
		return nil
	}
	return fmt.Errorf("action %q: want report, revoke or rotate", patterns.Scrub(clipText(string(b))))
}

// clipText bounds a quoted value in an error.
func clipText(v string) string {
	if len(v) > 80 {
		return v[:80] + "…"
	}
	return v
}

// Incident is the response to one leaked key.
type Incident struct {
	ID          string         `json:"id"`
	Fingerprint string         `json:"fingerprint"`
	Redacted    string         `json:"redacted"`
	Environment string         `json:"environment"`
	KeyID       string         `json:"key_id"`
	Owner       *finding.Owner `json:"owner,omitempty"`
	Products    []string       `json:"products,omitempty"`

	// Action is what is done: rotate, revoke or report. Planned is what
	// the policy asked, when the responder had to degrade it.
	Action  Action `json:"action"`
	Planned Action `json:"planned,omitempty"`
	// ReissueRefused is the Vault's reason when it refused to reissue the
	// key (403: the responder's key may not make a key with the leaked
	// key's roles): the key is revoked and an administrator must issue
	// the replacement.
	ReissueRefused string `json:"reissue_refused,omitempty"`
	// Public says the key was exposed where anyone could read it.
	Public bool `json:"public"`
	// RevokeOld is what the reissue asked for the old key.
	RevokeOld vault.RevokeOld `json:"revoke_old,omitempty"`
	// Sinks are the delivery targets; Delivered is keyed by their String.
	Sinks []ghapi.SecretTarget `json:"sinks,omitempty"`
	// Evidence is the link sent with the revocation.
	Evidence string `json:"evidence,omitempty"`
	// IssueRepo is where the issue goes, OWNER/NAME.
	IssueRepo string   `json:"issue_repo,omitempty"`
	Notes     []string `json:"notes,omitempty"`
	// Locations are where the key was seen, as the issue lists them.
	Locations []finding.Location `json:"locations,omitempty"`

	DetectedAt time.Time            `json:"detected_at"`
	Reissued   *Replacement         `json:"reissued,omitempty"`
	Delivered  map[string]time.Time `json:"delivered,omitempty"`
	VerifiedAt time.Time            `json:"verified_at,omitzero"`
	RevokedAt  time.Time            `json:"revoked_at,omitzero"`
	// AlreadyRevoked is set when the Vault said the key was revoked before
	// our revoke call (by the reissue, another responder, or a person).
	AlreadyRevoked bool      `json:"already_revoked,omitempty"`
	Issue          *IssueRef `json:"issue,omitempty"`
	ReportedAt     time.Time `json:"reported_at,omitzero"`
	// IncidentFile is the Markdown file written instead of the issue when
	// no issue could be opened; FiledAt is when it was last written.
	IncidentFile string    `json:"incident_file,omitempty"`
	FiledAt      time.Time `json:"filed_at,omitzero"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Replacement is the new key a reissue made. The key itself is only ever
// here sealed.
type Replacement struct {
	At              time.Time `json:"at"`
	KeyID           string    `json:"key_id"`
	Fingerprint     string    `json:"fingerprint"`
	Redacted        string    `json:"redacted"`
	OldKeyExpiresAt string    `json:"old_key_expires_at,omitempty"`
	// Sealed is the key, age-encrypted; nil once it is no longer needed.
	Sealed []byte `json:"sealed,omitempty"`
	// SealedTo says who can open Sealed: "journal" or "recipient".
	SealedTo string `json:"sealed_to,omitempty"`
}

// IssueRef points at the GitHub issue of an incident.
type IssueRef struct {
	Repo   string    `json:"repo"`
	Number int       `json:"number"`
	URL    string    `json:"url,omitempty"`
	At     time.Time `json:"at"`
}

// Done reports whether every step of the incident is done: the issue
// reported it, or, where no issue could be opened, the incident file did.
func (in *Incident) Done() bool { return !in.ReportedAt.IsZero() || !in.FiledAt.IsZero() }

// IssuePending reports whether the incident was told only in an incident
// file: a run that can open GitHub issues still owes it one.
func (in *Incident) IssuePending() bool { return in.ReportedAt.IsZero() && !in.FiledAt.IsZero() }

// IDFor is the incident id of a fingerprint: short, stable on every machine.
func IDFor(fp string) string {
	return "inc-" + strings.TrimPrefix(fp, "sha256:")[:min(12, len(strings.TrimPrefix(fp, "sha256:")))]
}

var bucket = []byte("incidents")

// Options tunes Open.
type Options struct {
	// Timeout is how long Open waits for another process holding the
	// journal; zero waits for ever.
	Timeout time.Duration
	// KeyFile holds the journal-local age identity; PATH + ".key" when
	// empty. It is created on first use, mode 0600.
	KeyFile string
	// ReadOnly opens an existing journal for reading (dry runs, show).
	ReadOnly bool
}

// Journal is an open journal. It is safe for concurrent use; Lock
// serialises the work on one incident between goroutines sharing it.
type Journal struct {
	db      *bolt.DB
	keyFile string
	// OnCommit, when set, is called after every committed step (tests use
	// it to kill the process at a precise point).
	OnCommit func(fp string, step Step)

	idMu  sync.Mutex
	id    *age.X25519Identity
	locks sync.Map // fingerprint → *sync.Mutex
}

// Open opens or creates the journal at path. Only one process holds a
// journal at a time; others wait up to opts.Timeout.
func Open(path string, opts Options) (*Journal, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout, ReadOnly: opts.ReadOnly})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("journal %s: held by another responder (waited %s)", path, opts.Timeout)
		}
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	if !opts.ReadOnly {
		if err := db.Update(func(tx *bolt.Tx) error {
			_, err := tx.CreateBucketIfNotExists(bucket)
			return err
		}); err != nil {
			db.Close()
			return nil, fmt.Errorf("journal %s: %w", path, err)
		}
	}
	kf := opts.KeyFile
	if kf == "" {
		kf = path + ".key"
	}
	return &Journal{db: db, keyFile: kf}, nil
}

// Close closes the journal.
func (j *Journal) Close() error { return j.db.Close() }

// Path is the journal file.
func (j *Journal) Path() string { return j.db.Path() }

// Lock takes the in-process lock of an incident and returns its unlock.
func (j *Journal) Lock(fp string) func() {
	m, _ := j.locks.LoadOrStore(fp, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// Get returns the incident of a fingerprint.
func (j *Journal) Get(fp string) (Incident, bool, error) {
	var (
		in Incident
		ok bool
	)
	err := j.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(fp))
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &in)
	})
	if err != nil {
		return Incident{}, false, fmt.Errorf("journal: read %s: %w", IDFor(fp), err)
	}
	return in, ok, nil
}

// Update runs fn on the incident of fp (a zero Incident when new) and
// commits the result as step, fsync'd. fn's error aborts the step.
func (j *Journal) Update(fp string, step Step, fn func(*Incident) error) (Incident, error) {
	var in Incident
	err := j.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if v := b.Get([]byte(fp)); v != nil {
			if err := json.Unmarshal(v, &in); err != nil {
				return err
			}
		}
		if err := fn(&in); err != nil {
			return err
		}
		in.Fingerprint = fp
		in.ID = IDFor(fp)
		in.UpdatedAt = time.Now().UTC()
		v, err := json.Marshal(&in)
		if err != nil {
			return err
		}
		return b.Put([]byte(fp), v)
	})
	if err != nil {
		return Incident{}, fmt.Errorf("journal: %s %s: %w", IDFor(fp), step, err)
	}
	if j.OnCommit != nil {
		j.OnCommit(fp, step)
	}
	return in, nil
}

// List returns every incident, by fingerprint.
func (j *Journal) List() ([]Incident, error) {
	var out []Incident
	err := j.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var in Incident
			if err := json.Unmarshal(v, &in); err != nil {
				return fmt.Errorf("%s: %w", IDFor(string(k)), err)
			}
			out = append(out, in)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return out, nil
}

// Find returns the incident named by its id, its fingerprint, or an
// unambiguous prefix of either.
func (j *Journal) Find(name string) (Incident, error) {
	all, err := j.List()
	if err != nil {
		return Incident{}, err
	}
	var hits []Incident
	for _, in := range all {
		if in.ID == name || in.Fingerprint == name {
			return in, nil
		}
		if len(name) >= 6 && (strings.HasPrefix(in.ID, name) || strings.HasPrefix(in.Fingerprint, name)) {
			hits = append(hits, in)
		}
	}
	switch len(hits) {
	case 0:
		return Incident{}, fmt.Errorf("journal: no incident %q", name)
	case 1:
		return hits[0], nil
	}
	return Incident{}, fmt.Errorf("journal: %q names %d incidents", name, len(hits))
}

// identity returns the journal-local identity, creating its file on first
// use.
func (j *Journal) identity() (*age.X25519Identity, error) {
	j.idMu.Lock()
	defer j.idMu.Unlock()
	if j.id != nil {
		return j.id, nil
	}
	id, err := readIdentity(j.keyFile)
	if err == nil {
		j.id = id
		return id, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("journal key: %w", err)
	}
	id, err = age.GenerateX25519Identity()
	if err != nil {
		return nil, fmt.Errorf("journal key: %w", err)
	}
	// Written whole to a temporary file, then linked into place: a crash
	// leaves either no key file or a complete one, and a racing writer's
	// file wins over ours.
	tmp, err := os.CreateTemp(filepath.Dir(j.keyFile), ".journal-key-*")
	if err != nil {
		return nil, fmt.Errorf("journal key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := fmt.Fprintf(tmp, "# atomyx-guard journal key: opens replacements waiting for delivery\n%s\n", id)
	if err := errors.Join(werr, tmp.Chmod(0o600), tmp.Sync(), tmp.Close()); err != nil {
		return nil, fmt.Errorf("journal key: %w", err)
	}
	if err := os.Link(tmp.Name(), j.keyFile); err != nil {
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("journal key: %w", err)
		}
		if id, err = readIdentity(j.keyFile); err != nil {
			return nil, err
		}
	}
	if d, err := os.Open(filepath.Dir(j.keyFile)); err == nil {
		d.Sync()
		d.Close()
	}
	j.id = id
	return id, nil
}

// SealLocal seals a key to the journal-local identity.
func (j *Journal) SealLocal(k patterns.Secret) ([]byte, error) {
	id, err := j.identity()
	if err != nil {
		return nil, err
	}
	return Seal(k, id.Recipient())
}

// OpenLocal opens what SealLocal sealed.
func (j *Journal) OpenLocal(sealed []byte) (patterns.Secret, error) {
	id, err := j.identity()
	if err != nil {
		return patterns.Secret{}, err
	}
	return OpenSealed(sealed, id)
}

// Seal encrypts a key to recipients with age.
func Seal(k patterns.Secret, to ...age.Recipient) ([]byte, error) {
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, to...)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	if _, err := io.WriteString(w, k.Reveal()); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return buf.Bytes(), nil
}

// OpenSealed decrypts a sealed key with any of ids and checks that what it
// holds is a key.
func OpenSealed(sealed []byte, ids ...age.Identity) (patterns.Secret, error) {
	r, err := age.Decrypt(bytes.NewReader(sealed), ids...)
	if err != nil {
		return patterns.Secret{}, fmt.Errorf("open sealed key: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(r, 1024))
	if err != nil {
		return patterns.Secret{}, fmt.Errorf("open sealed key: %w", err)
	}
	if !patterns.Valid(b) {
		return patterns.Secret{}, errors.New("open sealed key: the content is not an Atomyx key")
	}
	return patterns.NewSecret(string(b)), nil
}

// SortByID orders incidents by id, for stable output.
func SortByID(ins []Incident) {
	slices.SortFunc(ins, func(a, b Incident) int { return strings.Compare(a.ID, b.ID) })
}

func readIdentity(path string) (*age.X25519Identity, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ids, err := age.ParseIdentities(bytes.NewReader(b))
	if err != nil || len(ids) != 1 {
		return nil, fmt.Errorf("journal key %s: not one age identity", path)
	}
	id, ok := ids[0].(*age.X25519Identity)
	if !ok {
		return nil, fmt.Errorf("journal key %s: not an X25519 identity", path)
	}
	return id, nil
}
