package vault

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/atomyx/atomyx-guard/internal/finding"
)

// MaxPageSize is the most keys one page of GET /v1/keys holds.
const MaxPageSize = 100

// ListQuery filters GET /v1/keys. Org is required; empty fields do not
// filter, except Status, which the Vault defaults to active.
type ListQuery struct {
	Org         string
	Team        string
	Environment string
	Status      string
	// CreatedBefore keeps keys created strictly before it (zero: all).
	CreatedBefore time.Time
	// PageSize is at most MaxPageSize; zero takes the Vault's default.
	PageSize int
}

// ListedKey is one key of a listing. It has no fingerprint field on
// purpose: a listing never carries a key or a fingerprint, so an inventory
// cannot be turned into a list of things to search for.
type ListedKey struct {
	KeyID       string         `json:"key_id"`
	Status      string         `json:"status"`
	Environment string         `json:"environment"`
	Products    []string       `json:"products,omitempty"`
	Owner       *finding.Owner `json:"owner,omitempty"`
	CreatedAt   string         `json:"created_at,omitempty"`
	LastUsedAt  string         `json:"last_used_at,omitempty"`
	ExpiresAt   *string        `json:"expires_at"`
}

// ListResponse is the 200 body of GET /v1/keys.
type ListResponse struct {
	Keys          []ListedKey `json:"keys"`
	NextPageToken string      `json:"next_page_token,omitempty"`
}

// Values is the query string of the request, without page_token.
func (q ListQuery) Values() url.Values {
	v := url.Values{}
	v.Set("org", q.Org)
	for _, kv := range [][2]string{{"team", q.Team}, {"environment", q.Environment}, {"status", q.Status}} {
		if kv[1] != "" {
			v.Set(kv[0], kv[1])
		}
	}
	if !q.CreatedBefore.IsZero() {
		v.Set("created_before", q.CreatedBefore.UTC().Format(time.RFC3339))
	}
	if q.PageSize > 0 {
		v.Set("page_size", strconv.Itoa(q.PageSize))
	}
	return v
}

// ListPage fetches one page of keys. pageToken is "" for the first page,
// then the previous page's NextPageToken.
func (c *Client) ListPage(ctx context.Context, q ListQuery, pageToken string) (ListResponse, error) {
	if q.Org == "" {
		return ListResponse{}, errors.New("vault: list: an owner org is required")
	}
	if q.PageSize > MaxPageSize {
		return ListResponse{}, fmt.Errorf("vault: list: page size %d: at most %d", q.PageSize, MaxPageSize)
	}
	v := q.Values()
	if pageToken != "" {
		v.Set("page_token", pageToken)
	}
	var resp ListResponse
	err := c.do(ctx, call{op: "list", method: http.MethodGet, path: "/v1/keys?" + v.Encode(), role: RoleVerify, out: &resp})
	if err != nil {
		return ListResponse{}, err
	}
	if q.PageSize > 0 && len(resp.Keys) > q.PageSize {
		return ListResponse{}, fmt.Errorf("vault: list: the Vault answered %d keys for a page of %d", len(resp.Keys), q.PageSize)
	}
	for i, k := range resp.Keys {
		if err := checkKeyID("list", k.KeyID); err != nil {
			return ListResponse{}, fmt.Errorf("vault: list: key %d has a malformed key id", i)
		}
		switch k.Status {
		case StatusActive, StatusRevoked, StatusExpired:
		default:
			return ListResponse{}, fmt.Errorf("vault: list: key %s has an unknown status", k.KeyID)
		}
	}
	return resp, nil
}

// Keys iterates over every key the query matches, page after page. It
// stops at the first error, which it yields last. A Vault that hands back
// a page token it already gave is an error, not an endless loop.
func (c *Client) Keys(ctx context.Context, q ListQuery) iter.Seq2[ListedKey, error] {
	return func(yield func(ListedKey, error) bool) {
		seen := map[string]bool{}
		token := ""
		for {
			page, err := c.ListPage(ctx, q, token)
			if err != nil {
				yield(ListedKey{}, err)
				return
			}
			for _, k := range page.Keys {
				if !yield(k, nil) {
					return
				}
			}
			if page.NextPageToken == "" {
				return
			}
			if seen[page.NextPageToken] {
				yield(ListedKey{}, errors.New("vault: list: the Vault repeated a page token"))
				return
			}
			seen[page.NextPageToken] = true
			token = page.NextPageToken
		}
	}
}
