package ghfake

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/atomyx/atomyx-guard/internal/ghapp"
)

// App makes the server play a GitHub App's side: POST
// /app/installations/{id}/access_tokens takes a JWT that must verify with
// pub and name appID as its issuer, and answers a fresh installation
// token valid for ttl; those tokens are then accepted as bearer tokens
// (besides Token) until they expire.
func (s *Server) App(appID int64, pub *rsa.PublicKey, ttl time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appID, s.appKey, s.appTTL = appID, pub, ttl
	if s.installTokens == nil {
		s.installTokens = map[string]installToken{}
	}
}

// clock is AppClock, or time.Now.
func (s *Server) clock() time.Time {
	if s.AppClock != nil {
		return s.AppClock()
	}
	return time.Now()
}

type installToken struct {
	installation int64
	expires      time.Time
}

// Minted is how many installation tokens were minted for installation.
func (s *Server) Minted(installation int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.installTokens {
		if t.installation == installation {
			n++
		}
	}
	return n
}

// tokenOK reports whether auth carries Token or a live installation token.
func (s *Server) tokenOK(auth string) bool {
	if auth == "Bearer "+s.Token {
		return true
	}
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.installTokens[tok]
	return ok && s.clock().Before(t.expires)
}

// accessTokens answers POST /app/installations/{id}/access_tokens; it
// reports whether the request was one.
func (s *Server) accessTokens(w http.ResponseWriter, r *http.Request) bool {
	rest, ok := strings.CutPrefix(r.URL.Path, "/app/installations/")
	if !ok || r.Method != http.MethodPost {
		return false
	}
	idText, ok := strings.CutSuffix(rest, "/access_tokens")
	if !ok {
		return false
	}
	s.mu.Lock()
	pub, appID, ttl := s.appKey, s.appID, s.appTTL
	s.mu.Unlock()
	id, err := strconv.ParseInt(idText, 10, 64)
	if pub == nil || err != nil || id <= 0 {
		writeError(w, http.StatusNotFound, "Not Found")
		return true
	}
	jwt, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	claims, err := ghapp.VerifyJWT(jwt, pub, s.clock())
	if err != nil || claims["iss"] != strconv.FormatInt(appID, 10) {
		writeError(w, http.StatusUnauthorized, "A JSON web token could not be decoded")
		return true
	}
	b := make([]byte, 20)
	rand.Read(b)
	tok := "ghs_" + hex.EncodeToString(b)
	exp := s.clock().Add(ttl).UTC().Truncate(time.Second)
	s.mu.Lock()
	s.installTokens[tok] = installToken{installation: id, expires: exp}
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"token": tok, "expires_at": exp.Format(time.RFC3339)})
	return true
}
