package vault

import (
	"errors"
	"time"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/patterns"
)

// The wire types of ../shared/atomyx/vault-api.md, shared by the client and
// the local server so that both speak one contract.

// Key statuses, as the API spells them.
const (
	StatusActive  = "active"
	StatusRevoked = "revoked"
	StatusExpired = "expired"
	StatusUnknown = "unknown"
)

// Roles a bearer key may hold.
const (
	RoleVerify = "keys:verify"
	RoleRevoke = "keys:revoke"
	RoleIssue  = "keys:issue"
)

// MaxVerifyBatch is the most fingerprints one verify call may carry.
const MaxVerifyBatch = 100

// VerifyRequest is the body of POST /v1/keys/verify.
type VerifyRequest struct {
	Fingerprints []string `json:"fingerprints"`
}

// VerifyResponse is its 200 body: one result per fingerprint, same order.
type VerifyResponse struct {
	Results []KeyInfo `json:"results"`
}

// KeyInfo is what the Vault knows of a key. GET /v1/keys/{id} returns it
// without the fingerprint.
type KeyInfo struct {
	Fingerprint string         `json:"fingerprint,omitempty"`
	Status      string         `json:"status"`
	KeyID       string         `json:"key_id,omitempty"`
	Environment string         `json:"environment,omitempty"`
	Products    []string       `json:"products,omitempty"`
	Owner       *finding.Owner `json:"owner,omitempty"`
	CreatedAt   string         `json:"created_at,omitempty"`
	LastUsedAt  string         `json:"last_used_at,omitempty"`
}

// RevokeRequest is the body of POST /v1/keys/{id}/revoke.
type RevokeRequest struct {
	Reason   string `json:"reason"`
	Evidence string `json:"evidence,omitempty"`
}

// RevokeResponse is its 200 body.
type RevokeResponse struct {
	KeyID          string `json:"key_id"`
	Status         string `json:"status"`
	RevokedAt      string `json:"revoked_at"`
	AlreadyRevoked bool   `json:"already_revoked"`
}

// ReissueRequest is the body of POST /v1/keys/{id}/reissue.
type ReissueRequest struct {
	Reason    string    `json:"reason"`
	RevokeOld RevokeOld `json:"revoke_old"`
}

// RevokeOld is what a reissue does with the old key: Immediately, or a
// grace period such as "15m" (at most MaxGrace) during which it keeps
// working while the replacement is deployed. It is a term of the Vault
// contract, so this package owns it: the policy file, the responder, its
// journal and the local Vault all use this type and its one parser.
type RevokeOld string

// Immediately ends the old key at once. Empty means the same.
const Immediately RevokeOld = "immediately"

// MaxGrace is the longest grace period a reissue may give the old key.
const MaxGrace = 24 * time.Hour

var errGrace = errors.New(`want "immediately" or a grace period of more than 0 and at most 24h, such as "15m"`)

// Grace is how long the old key keeps working: zero for Immediately (or
// empty). The error never quotes r, which may come from an untrusted body.
func (r RevokeOld) Grace() (time.Duration, error) {
	if r == "" || r == Immediately {
		return 0, nil
	}
	d, err := time.ParseDuration(string(r))
	if err != nil || d <= 0 || d > MaxGrace {
		return 0, errGrace
	}
	return d, nil
}

// IssueRequest is the body of POST /v1/keys.
type IssueRequest struct {
	Environment string         `json:"environment"`
	Products    []string       `json:"products,omitempty"`
	Owner       *finding.Owner `json:"owner,omitempty"`
	// Roles and ExpiresAt are extensions of the local Vault: the key-
	// management roles the new key holds (none by default) and when it
	// expires (RFC 3339; never by default), so that demos and tests can
	// make a responder key and an expired key.
	Roles     []string `json:"roles,omitempty"`
	ExpiresAt string   `json:"expires_at,omitempty"`
	// CreatedAt is a local-Vault extension too: an RFC 3339 time in the
	// past to date the key from, so that demos and tests of key-age
	// policies make old keys without waiting. A real Vault ignores it.
	CreatedAt string `json:"created_at,omitempty"`
}

// IssuedKey is the 201 body of reissue and issue: the only response that
// carries a whole key. Key is a patterns.Secret, so the struct prints and
// marshals redacted; the client decodes the wire form into it.
type IssuedKey struct {
	Key             patterns.Secret `json:"-"`
	KeyID           string          `json:"key_id"`
	Replaces        string          `json:"replaces,omitempty"`
	Environment     string          `json:"environment"`
	Products        []string        `json:"products,omitempty"`
	Owner           *finding.Owner  `json:"owner,omitempty"`
	OldKeyExpiresAt string          `json:"old_key_expires_at,omitempty"`
}

// IssuedKeyBody is the wire form of IssuedKey, with the whole key. Only the
// client's decoder and the server's encoder use it; nothing keeps it.
type IssuedKeyBody struct {
	Key string `json:"key"`
	IssuedKey
}

// ErrorBody is the body of every non-2xx response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail carries the error code and message.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Role names the role a 403 found missing (an extension: clients
	// that ignore it still read the message).
	Role string `json:"role,omitempty"`
}

// Error codes.
const (
	CodeBadRequest      = "bad_request"
	CodeUnauthenticated = "unauthenticated"
	CodeForbidden       = "forbidden"
	CodeNotFound        = "not_found"
	CodeConflict        = "conflict"
	CodeRateLimited     = "rate_limited"
	CodeUnavailable     = "unavailable"
)
