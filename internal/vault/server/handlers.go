package server

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/patterns"
)

// Products a key may be issued for.
var Products = []string{"manage", "submit", "prepare"}

// maxBody bounds a request body.
const maxBody = 64 << 10

// Handler is the API: every path of the contract, behind the faults.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/keys/verify", s.handleVerify)
	mux.HandleFunc("/v1/keys/{id}", s.handleGet)
	mux.HandleFunc("/v1/keys/{id}/revoke", s.handleRevoke)
	mux.HandleFunc("/v1/keys/{id}/reissue", s.handleReissue)
	mux.HandleFunc("/v1/keys", s.handleIssue)
	mux.HandleFunc("GET /v1/keys", s.handleList)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, vault.CodeNotFound, "no such endpoint", "")
	})
	return s.withFaults(mux)
}

// apiError is an error answer before it is written.
type apiError struct {
	status        int
	code, message string
	role          string
}

func badRequest(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: vault.CodeBadRequest, message: fmt.Sprintf(format, args...)}
}

func notFound() *apiError {
	return &apiError{status: http.StatusNotFound, code: vault.CodeNotFound, message: "no such key id"}
}

func (e *apiError) write(w http.ResponseWriter) { writeError(w, e.status, e.code, e.message, e.role) }

func writeError(w http.ResponseWriter, status int, code, msg, role string) {
	body, _ := json.Marshal(vault.ErrorBody{Error: vault.ErrorDetail{Code: code, Message: msg, Role: role}})
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
	_, _ = w.Write([]byte("\n"))
}

func writeValue(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, vault.CodeUnavailable, "encoding the response failed", "")
		return
	}
	writeJSON(w, status, body)
}

func allow(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method {
		return true
	}
	w.Header().Set("Allow", method)
	writeError(w, http.StatusMethodNotAllowed, vault.CodeBadRequest, "method not allowed; use "+method, "")
	return false
}

// authenticate finds the bearer key and checks it holds roles. It writes
// the error itself and returns nil when the request must stop.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, roles ...string) *keyRecord {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		writeError(w, http.StatusUnauthorized, vault.CodeUnauthenticated, "missing bearer key", "")
		return nil
	}
	now := s.now()
	var rec *keyRecord
	if patterns.Valid([]byte(tok)) {
		err := s.db.View(func(tx *bolt.Tx) error {
			var err error
			rec, err = getKeyByFingerprint(tx, patterns.Fingerprint([]byte(tok)))
			return err
		})
		if err != nil {
			s.internal(w, err)
			return nil
		}
	}
	// Missing, malformed, unknown, revoked and expired look alike.
	if rec == nil || rec.status(now) != vault.StatusActive {
		writeError(w, http.StatusUnauthorized, vault.CodeUnauthenticated, "unknown, revoked or expired bearer key", "")
		return nil
	}
	s.touch(rec, now)
	for _, role := range roles {
		if !rec.hasRole(role) {
			writeError(w, http.StatusForbidden, vault.CodeForbidden, "the bearer key lacks the role "+role, role)
			return nil
		}
	}
	return rec
}

// touch records that a key authenticated, at most once a second per key.
func (s *Server) touch(rec *keyRecord, now time.Time) {
	sec := now.Unix()
	s.lastUsedMu.Lock()
	seen := s.lastUsed[rec.ID] == sec
	s.lastUsed[rec.ID] = sec
	s.lastUsedMu.Unlock()
	if seen || rec.LastUsedAt.Unix() == sec {
		return
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		r, err := getKey(tx, rec.ID)
		if err != nil || r == nil {
			return err
		}
		r.LastUsedAt = now.UTC().Truncate(time.Second)
		return putKey(tx, r)
	})
	if err != nil {
		s.logf("last_used_at of %s: %v", rec.ID, err)
	}
}

func (s *Server) internal(w http.ResponseWriter, err error) {
	s.logf("internal error: %v", err)
	writeError(w, http.StatusInternalServerError, vault.CodeUnavailable, "internal error", "")
}

// decode reads one JSON value of at most maxBody bytes into v.
// post begins a POST handler: the method, a bearer key holding roles, and
// a JSON body of type T. When ok is false the answer has been written.
func post[T any](s *Server, w http.ResponseWriter, r *http.Request, roles ...string) (caller *keyRecord, req T, ok bool) {
	if !allow(w, r, http.MethodPost) {
		return nil, req, false
	}
	if caller = s.authenticate(w, r, roles...); caller == nil {
		return nil, req, false
	}
	if e := decode(r, &req); e != nil {
		e.write(w)
		return nil, req, false
	}
	return caller, req, true
}

func decode(r *http.Request, v any) *apiError {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody+1))
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return badRequest("empty body; want a JSON object")
		}
		return badRequest("malformed JSON body: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("malformed JSON body: more than one value, or too large")
	}
	return nil
}

// jsonProblem names a decoding error without quoting the input.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q wants %s, not %s", te.Field, te.Type, te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated (or larger than 64 KiB)"
	}
	return "not a JSON object"
}

func (s *Server) handleVerify(w http.ResponseWriter, r *http.Request) {
	_, req, ok := post[vault.VerifyRequest](s, w, r, vault.RoleVerify)
	if !ok {
		return
	}
	if e := checkFingerprints(req.Fingerprints); e != nil {
		e.write(w)
		return
	}
	now := s.now()
	resp := vault.VerifyResponse{Results: make([]vault.KeyInfo, len(req.Fingerprints))}
	err := s.db.View(func(tx *bolt.Tx) error {
		for i, fp := range req.Fingerprints {
			rec, err := getKeyByFingerprint(tx, fp)
			if err != nil {
				return err
			}
			if rec == nil {
				resp.Results[i] = vault.KeyInfo{Fingerprint: fp, Status: vault.StatusUnknown}
				continue
			}
			resp.Results[i] = rec.info(now)
		}
		return nil
	})
	if err != nil {
		s.internal(w, err)
		return
	}
	writeValue(w, http.StatusOK, resp)
}

func checkFingerprints(fps []string) *apiError {
	switch {
	case len(fps) == 0:
		return badRequest("no fingerprints")
	case len(fps) > vault.MaxVerifyBatch:
		return badRequest("%d fingerprints; at most %d a call", len(fps), vault.MaxVerifyBatch)
	}
	for i, fp := range fps {
		if !patterns.ValidFingerprint(fp) {
			// Not echoed: a malformed fingerprint may be a key.
			return badRequest("fingerprint %d is malformed (want sha256: and 64 lower-case hex digits)", i)
		}
	}
	return nil
}

// validID reports whether id has the form of the ids this server makes.
func validID(id string) bool {
	if len(id) < 5 || len(id) > 64 || !strings.HasPrefix(id, "key_") {
		return false
	}
	for _, c := range []byte(id[4:]) {
		if !patterns.IsBase62(c) {
			return false
		}
	}
	return true
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	if s.authenticate(w, r, vault.RoleVerify) == nil {
		return
	}
	id := r.PathValue("id")
	if !validID(id) {
		notFound().write(w)
		return
	}
	var rec *keyRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		rec, err = getKey(tx, id)
		return err
	})
	if err != nil {
		s.internal(w, err)
		return
	}
	if rec == nil {
		notFound().write(w)
		return
	}
	info := rec.info(s.now())
	info.Fingerprint = ""
	writeValue(w, http.StatusOK, info)
}

func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	caller, req, ok := post[vault.RevokeRequest](s, w, r, vault.RoleRevoke)
	if !ok {
		return
	}
	if e := checkText("reason", req.Reason, true); e != nil {
		e.write(w)
		return
	}
	if e := checkText("evidence", req.Evidence, false); e != nil {
		e.write(w)
		return
	}
	id := r.PathValue("id")
	s.idempotent(w, r, caller, idemRequired, req, func(tx *bolt.Tx, now time.Time) (int, any, *apiError) {
		rec, e := existingKey(tx, id)
		if e != nil {
			return 0, nil, e
		}
		if rec.status(now) == vault.StatusRevoked {
			return http.StatusOK, vault.RevokeResponse{KeyID: id, Status: vault.StatusRevoked,
				RevokedAt: rfc3339(rec.revokedAt()), AlreadyRevoked: true}, nil
		}
		rec.Revoked, rec.RevokedAt = true, now.UTC()
		rec.RevokeReason, rec.Evidence = req.Reason, req.Evidence
		if err := putKey(tx, rec); err != nil {
			return 0, nil, internalError(err)
		}
		s.logf("revoked %s (%s)", id, req.Reason)
		return http.StatusOK, vault.RevokeResponse{KeyID: id, Status: vault.StatusRevoked, RevokedAt: rfc3339(rec.RevokedAt)}, nil
	})
}

// existingKey is the key id names, or the API error that says why not.
func existingKey(tx *bolt.Tx, id string) (*keyRecord, *apiError) {
	if !validID(id) {
		return nil, notFound()
	}
	rec, err := getKey(tx, id)
	if err != nil {
		return nil, internalError(err)
	}
	if rec == nil {
		return nil, notFound()
	}
	return rec, nil
}

func (s *Server) handleReissue(w http.ResponseWriter, r *http.Request) {
	caller, req, ok := post[vault.ReissueRequest](s, w, r, vault.RoleIssue, vault.RoleRevoke)
	if !ok {
		return
	}
	if e := checkText("reason", req.Reason, true); e != nil {
		e.write(w)
		return
	}
	grace, err := req.RevokeOld.Grace()
	if err != nil {
		badRequest("revoke_old: %s", err.Error()).write(w)
		return
	}
	id := r.PathValue("id")
	s.idempotent(w, r, caller, idemReissue, req, func(tx *bolt.Tx, now time.Time) (int, any, *apiError) {
		old, e := existingKey(tx, id)
		if e != nil {
			return 0, nil, e
		}
		// Checked here, in the transaction and on every caller's own
		// request (idempotency records are per caller), so that no replay
		// or race hands a caller a key with a role it lacks.
		if role, ok := caller.holdsAll(old.Roles); !ok {
			return 0, nil, &apiError{status: http.StatusForbidden, code: vault.CodeForbidden, role: role,
				message: "the bearer key may only reissue keys whose roles it holds itself; the key holds " + role +
					" and the bearer key does not: an administrator must reissue it"}
		}
		var expires time.Time
		if !old.ExpiresAt.IsZero() && now.Before(old.ExpiresAt) {
			expires = old.ExpiresAt // a replacement lives no longer than the key it replaces
		}
		key, rec, err := newKey(tx, now, old.Environment, old.Products, old.Owner, old.Roles, caller.capExpiry(expires))
		if err != nil {
			return 0, nil, internalError(err)
		}
		rec.Replaces = old.ID
		if err := putKey(tx, rec); err != nil {
			return 0, nil, internalError(err)
		}
		// The old key stops now, at the end of its grace, or stays as it
		// is if it already stopped.
		var ends time.Time
		switch st := old.status(now); {
		case st == vault.StatusRevoked:
			ends = old.revokedAt()
		case st == vault.StatusExpired:
			ends = old.ExpiresAt
		case grace == 0:
			old.Revoked, old.RevokedAt, old.RevokeReason = true, now.UTC(), req.Reason
			ends = old.RevokedAt
		default:
			ends = now.UTC().Add(grace)
			if !old.GraceUntil.IsZero() && old.GraceUntil.Before(ends) {
				ends = old.GraceUntil
			}
			old.GraceUntil, old.RevokeReason = ends, req.Reason
		}
		old.ReplacedBy = rec.ID
		if err := putKey(tx, old); err != nil {
			return 0, nil, internalError(err)
		}
		s.logf("reissued %s as %s (%s)", old.ID, rec.ID, patterns.Redact([]byte(key)))
		return http.StatusCreated, vault.IssuedKeyBody{Key: key, IssuedKey: vault.IssuedKey{
			KeyID: rec.ID, Replaces: old.ID, Environment: rec.Environment, Products: rec.Products,
			Owner: rec.Owner, OldKeyExpiresAt: rfc3339(ends),
		}}, nil
	})
}

func (s *Server) handleIssue(w http.ResponseWriter, r *http.Request) {
	caller, req, ok := post[vault.IssueRequest](s, w, r, vault.RoleIssue)
	if !ok {
		return
	}
	env, err := patterns.ParseEnvironment(req.Environment)
	if err != nil {
		// Not echoed: whatever was sent is no environment.
		badRequest("unknown environment (want development, staging or production)").write(w)
		return
	}
	req.Environment = string(env)
	products, e := checkList("product", req.Products, Products)
	if e != nil {
		e.write(w)
		return
	}
	roles, e := checkList("role", req.Roles, []string{vault.RoleVerify, vault.RoleRevoke, vault.RoleIssue})
	if e != nil {
		e.write(w)
		return
	}
	if role, ok := caller.holdsAll(roles); !ok {
		writeError(w, http.StatusForbidden, vault.CodeForbidden, "the bearer key cannot grant a role it lacks: "+role, role)
		return
	}
	if e := checkOwner(req.Owner); e != nil {
		e.write(w)
		return
	}
	var expires time.Time
	if req.ExpiresAt != "" {
		if expires, err = time.Parse(time.RFC3339, req.ExpiresAt); err != nil {
			badRequest("expires_at is not an RFC 3339 time").write(w)
			return
		}
	}
	created, e := parseCreatedAt(req.CreatedAt, s.now())
	if e != nil {
		e.write(w)
		return
	}
	s.idempotent(w, r, caller, idemOptional, req, func(tx *bolt.Tx, now time.Time) (int, any, *apiError) {
		key, rec, err := newKey(tx, now, string(env), products, req.Owner, roles, caller.capExpiry(expires))
		if err != nil {
			return 0, nil, internalError(err)
		}
		if !created.IsZero() {
			rec.CreatedAt = created
		}
		if err := putKey(tx, rec); err != nil {
			return 0, nil, internalError(err)
		}
		s.logf("issued %s (%s, %s)", rec.ID, patterns.Redact([]byte(key)), env)
		return http.StatusCreated, vault.IssuedKeyBody{Key: key, IssuedKey: vault.IssuedKey{
			KeyID: rec.ID, Environment: rec.Environment, Products: rec.Products, Owner: rec.Owner,
		}}, nil
	})
}

// newKey makes a key and its record (not yet stored). The key is returned
// for the one response that carries it.
func newKey(tx *bolt.Tx, now time.Time, env string, products []string, owner *finding.Owner, roles []string, expires time.Time) (string, *keyRecord, error) {
	e, err := patterns.ParseEnvironment(env)
	if err != nil {
		return "", nil, err
	}
	for {
		key, err := patterns.Generate(e)
		if err != nil {
			return "", nil, err
		}
		fp := patterns.Fingerprint([]byte(key))
		if tx.Bucket(bucketFPs).Get([]byte(fp)) != nil {
			continue // astronomically unlikely; never reuse a fingerprint
		}
		id, err := newKeyID(now)
		if err != nil {
			return "", nil, err
		}
		return key, &keyRecord{
			ID: id, Fingerprint: fp, Environment: string(e),
			Products: slices.Clone(products), Owner: owner, Roles: slices.Clone(roles),
			CreatedAt: now.UTC().Truncate(time.Second), ExpiresAt: expires.UTC(),
		}, nil
	}
}

func internalError(err error) *apiError {
	return &apiError{status: http.StatusInternalServerError, code: vault.CodeUnavailable, message: "internal error: " + err.Error()}
}

// errRollback undoes a transaction whose handler answered with an error.
var errRollback = errors.New("rollback")

// idemMode says how a POST uses its Idempotency-Key.
type idemMode int

const (
	idemOptional idemMode = iota // without a key the call simply runs
	idemRequired                 // a missing key is a bad request
	// idemReissue is required too, and marks a reissue, whose first
	// answer the LoseReissueResponse fault drops after the commit.
	idemReissue
)

// idempotent runs fn in one transaction with the Idempotency-Key's record:
// a repeated key with the same request replays the stored answer; with
// another request it is a conflict. Answers are stored sealed, for
// idemTTL.
func (s *Server) idempotent(w http.ResponseWriter, r *http.Request, caller *keyRecord, mode idemMode, req any,
	fn func(tx *bolt.Tx, now time.Time) (int, any, *apiError)) {
	required, lose := mode != idemOptional, mode == idemReissue
	idem := r.Header.Get("Idempotency-Key")
	switch {
	case idem == "" && required:
		badRequest("the Idempotency-Key header is required").write(w)
		return
	case len(idem) > 255 || strings.ContainsFunc(idem, func(c rune) bool { return c < ' ' || c > '~' }):
		badRequest("the Idempotency-Key must be at most 255 printable ASCII characters").write(w)
		return
	}
	canon, err := json.Marshal(req)
	if err != nil {
		s.internal(w, err)
		return
	}
	sum := sha256.Sum256([]byte(r.Method + " " + r.URL.Path + "\n" + string(canon)))
	hash := hex.EncodeToString(sum[:])
	scope := []byte(caller.ID + "\x00" + idem)

	var (
		status int
		body   []byte
		replay bool
		aerr   *apiError
	)
	now := s.now()
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketIdem)
		if idem != "" {
			if v := b.Get(scope); v != nil {
				var rec idemRecord
				if err := json.Unmarshal(v, &rec); err != nil {
					return fmt.Errorf("%w: idempotency record: %v", errCorrupt, err)
				}
				if now.Sub(rec.Created) <= idemTTL {
					if rec.Hash != hash {
						aerr = &apiError{status: http.StatusConflict, code: vault.CodeConflict,
							message: "this Idempotency-Key was used with a different request"}
						return nil
					}
					p, err := s.unseal(rec.Sealed)
					if err != nil {
						return err
					}
					status, body, replay = rec.Status, p, true
					return nil
				}
			}
		}
		st, out, e := fn(tx, now)
		if e != nil {
			aerr = e
			return errRollback
		}
		p, err := json.Marshal(out)
		if err != nil {
			return err
		}
		status, body = st, p
		if idem == "" {
			return nil
		}
		sealed, err := s.seal(p)
		if err != nil {
			return err
		}
		v, err := json.Marshal(idemRecord{Hash: hash, Status: st, Sealed: sealed, Created: now.UTC()})
		if err != nil {
			return err
		}
		return b.Put(scope, v)
	})
	switch {
	case aerr != nil:
		if aerr.status >= 500 {
			s.logf("%s", aerr.message)
			aerr.message = "internal error"
		}
		aerr.write(w)
		return
	case err != nil:
		s.internal(w, err)
		return
	}
	if lose && !replay && s.faults.loseReissue {
		s.logf("fault: dropping the answer of a committed reissue")
		dropConnection(w)
		return
	}
	writeJSON(w, status, body)
}

func checkText(field, v string, required bool) *apiError {
	switch {
	case v == "" && required:
		return badRequest("%s is required", field)
	case len(v) > 1024:
		return badRequest("%s is longer than 1024 bytes", field)
	case strings.ContainsFunc(v, func(c rune) bool { return c < ' ' || c == 0x7f }):
		return badRequest("%s holds control characters", field)
	}
	return nil
}

func checkOwner(o *finding.Owner) *apiError {
	if o == nil {
		return nil
	}
	for _, f := range []struct{ name, v string }{{"owner.org", o.Org}, {"owner.team", o.Team}, {"owner.contact", o.Contact}} {
		if e := checkText(f.name, f.v, false); e != nil {
			return e
		}
		if len(f.v) > 200 {
			return badRequest("%s is longer than 200 bytes", f.name)
		}
	}
	return nil
}

// checkList deduplicates vs and checks each is in known.
func checkList(what string, vs, known []string) ([]string, *apiError) {
	var out []string
	for _, v := range vs {
		if !slices.Contains(known, v) {
			return nil, badRequest("unknown %s (want one of %s)", what, strings.Join(known, ", "))
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out, nil
}
