package server

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/patterns"
)

// DefaultPageSize is the page size of GET /v1/keys without page_size.
const DefaultPageSize = 50

// pageCursor is what a page token carries: where the next page starts and
// which query it belongs to. It is sealed with the server's secret, so a
// token is opaque to clients and cannot be forged or reused for another
// query.
type pageCursor struct {
	After string `json:"a"`
	Query string `json:"q"`
}

// listFilter is a parsed GET /v1/keys query.
type listFilter struct {
	org, team, env, status string
	createdBefore          time.Time
	pageSize               int
}

// hash identifies the filter (not the page size) in a page token.
func (f listFilter) hash() string {
	sum := sha256.Sum256([]byte(f.org + "\x00" + f.team + "\x00" + f.env + "\x00" + f.status + "\x00" + rfc3339(f.createdBefore)))
	return hex.EncodeToString(sum[:8])
}

func parseListFilter(r *http.Request) (listFilter, *apiError) {
	q := r.URL.Query()
	f := listFilter{org: q.Get("org"), team: q.Get("team"), status: q.Get("status"), pageSize: DefaultPageSize}
	if f.org == "" {
		return f, badRequest("org is required")
	}
	for _, v := range []struct{ name, v string }{{"org", f.org}, {"team", f.team}} {
		if e := checkText(v.name, v.v, false); e != nil {
			return f, e
		}
	}
	if env := q.Get("environment"); env != "" {
		e, err := patterns.ParseEnvironment(env)
		if err != nil {
			return f, badRequest("unknown environment (want development, staging or production)")
		}
		f.env = string(e)
	}
	switch f.status {
	case "":
		f.status = vault.StatusActive
	case vault.StatusActive, vault.StatusRevoked, vault.StatusExpired:
	default:
		return f, badRequest("unknown status (want active, revoked or expired)")
	}
	if v := q.Get("created_before"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return f, badRequest("created_before is not an RFC 3339 time")
		}
		f.createdBefore = t
	}
	if v := q.Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > vault.MaxPageSize {
			return f, badRequest("page_size must be from 1 to %d", vault.MaxPageSize)
		}
		f.pageSize = n
	}
	return f, nil
}

func (f listFilter) match(rec *keyRecord, now time.Time) bool {
	if rec.Owner == nil || rec.Owner.Org != f.org {
		return false
	}
	if f.team != "" && rec.Owner.Team != f.team {
		return false
	}
	if f.env != "" && rec.Environment != f.env {
		return false
	}
	if !f.createdBefore.IsZero() && !rec.CreatedAt.Before(f.createdBefore) {
		return false
	}
	return rec.status(now) == f.status
}

// listed is a key as a listing shows it: no fingerprint, ever.
func (r *keyRecord) listed(now time.Time) vault.ListedKey {
	k := vault.ListedKey{
		KeyID: r.ID, Status: r.status(now), Environment: r.Environment, Products: r.Products,
		Owner: r.Owner, CreatedAt: rfc3339(r.CreatedAt), LastUsedAt: rfc3339(r.LastUsedAt),
	}
	if !r.ExpiresAt.IsZero() {
		e := rfc3339(r.ExpiresAt)
		k.ExpiresAt = &e
	}
	return k
}

// handleList is GET /v1/keys: the keys of an owner org, in key id order,
// a page at a time.
func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	if s.authenticate(w, r, vault.RoleVerify) == nil {
		return
	}
	f, e := parseListFilter(r)
	if e != nil {
		e.write(w)
		return
	}
	after := ""
	if tok := r.URL.Query().Get("page_token"); tok != "" {
		c, ok := s.openCursor(tok)
		if !ok || c.Query != f.hash() {
			badRequest("page_token is not one this Vault gave for this query").write(w)
			return
		}
		after = c.After
	}
	now := s.now()
	resp := vault.ListResponse{Keys: []vault.ListedKey{}}
	err := s.db.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(bucketKeys).Cursor()
		k, v := cur.First()
		if after != "" {
			k, v = cur.Seek([]byte(after))
			if k != nil && string(k) == after {
				k, v = cur.Next()
			}
		}
		for ; k != nil; k, v = cur.Next() {
			var rec keyRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			if !f.match(&rec, now) {
				continue
			}
			if len(resp.Keys) == f.pageSize {
				// There is at least one more: the next page starts after
				// the last key shown.
				tok, err := s.sealCursor(pageCursor{After: resp.Keys[len(resp.Keys)-1].KeyID, Query: f.hash()})
				if err != nil {
					return err
				}
				resp.NextPageToken = tok
				return nil
			}
			resp.Keys = append(resp.Keys, rec.listed(now))
		}
		return nil
	})
	if err != nil {
		s.internal(w, err)
		return
	}
	writeValue(w, http.StatusOK, resp)
}

func (s *Server) sealCursor(c pageCursor) (string, error) {
	p, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	sealed, err := s.seal(p)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

func (s *Server) openCursor(tok string) (pageCursor, bool) {
	var c pageCursor
	if len(tok) > 512 {
		return c, false
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return c, false
	}
	p, err := s.unseal(b)
	if err != nil || json.Unmarshal(p, &c) != nil {
		return c, false
	}
	return c, true
}

// parseCreatedAt reads POST /v1/keys's created_at, an extension of the
// local Vault: a past time to date a new key from, so that key-age tests
// and demos need no sleeping. Empty is zero (now).
func parseCreatedAt(v string, now time.Time) (time.Time, *apiError) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, badRequest("created_at is not an RFC 3339 time")
	}
	if t.After(now) {
		return time.Time{}, badRequest("created_at is in the future")
	}
	return t.UTC().Truncate(time.Second), nil
}
