package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/patterns"
)

func TestListPaginatesOver250Keys(t *testing.T) {
	v := startVault(t, "", Options{})
	want := map[string]bool{}
	for i := range 250 {
		team := "payments"
		if i%2 == 1 {
			team = "search"
		}
		k := v.issue(t, vault.IssueRequest{Environment: "production", Owner: &finding.Owner{Org: "acme", Team: team}})
		want[k.KeyID] = true
	}
	v.issue(t, vault.IssueRequest{Environment: "production", Owner: &finding.Owner{Org: "other"}})
	c := v.client(t, v.Admin)
	got := map[string]bool{}
	pages := 0
	token := ""
	for {
		page, err := c.ListPage(context.Background(), vault.ListQuery{Org: "acme", PageSize: 100}, token)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, k := range page.Keys {
			if got[k.KeyID] {
				t.Fatalf("key %s listed twice", k.KeyID)
			}
			got[k.KeyID] = true
		}
		if page.NextPageToken == "" {
			break
		}
		token = page.NextPageToken
	}
	if pages != 3 || len(got) != 250 {
		t.Fatalf("%d pages, %d keys; want 3 pages, 250 keys", pages, len(got))
	}
	for id := range want {
		if !got[id] {
			t.Fatalf("key %s missing from the listing", id)
		}
	}
	// The iterator, with the default page size, sees the same keys; a team
	// filter halves them.
	n := 0
	for k, err := range c.Keys(context.Background(), vault.ListQuery{Org: "acme"}) {
		if err != nil {
			t.Fatal(err)
		}
		if !want[k.KeyID] {
			t.Fatalf("unexpected key %s", k.KeyID)
		}
		n++
	}
	if n != 250 {
		t.Fatalf("iterator saw %d keys, want 250", n)
	}
	n = 0
	for k, err := range c.Keys(context.Background(), vault.ListQuery{Org: "acme", Team: "search", PageSize: 7}) {
		if err != nil {
			t.Fatal(err)
		}
		if k.Owner.Team != "search" {
			t.Fatalf("team filter let %s through", k.Owner.Team)
		}
		n++
	}
	if n != 125 {
		t.Fatalf("team filter: %d keys, want 125", n)
	}
}

func TestListFiltersAndCreatedAt(t *testing.T) {
	v := startVault(t, "", Options{})
	now := v.clock.Now()
	old := v.issue(t, vault.IssueRequest{Environment: "production", Owner: &finding.Owner{Org: "acme", Team: "a"},
		CreatedAt: now.Add(-200 * 24 * time.Hour).Format(time.RFC3339)})
	fresh := v.issue(t, vault.IssueRequest{Environment: "staging", Owner: &finding.Owner{Org: "acme", Team: "a"}})
	gone := v.issue(t, vault.IssueRequest{Environment: "production", Owner: &finding.Owner{Org: "acme", Team: "b"}})
	c := v.client(t, v.Admin)
	if _, err := c.Revoke(context.Background(), gone.KeyID, vault.RevokeRequest{Reason: "test"}, ""); err != nil {
		t.Fatal(err)
	}
	list := func(q vault.ListQuery) []string {
		t.Helper()
		var ids []string
		for k, err := range c.Keys(context.Background(), q) {
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, k.KeyID)
		}
		return ids
	}
	check := func(name string, got []string, want ...string) {
		t.Helper()
		slices.Sort(got)
		slices.Sort(want)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
	check("default status active", list(vault.ListQuery{Org: "acme"}), old.KeyID, fresh.KeyID)
	check("revoked", list(vault.ListQuery{Org: "acme", Status: "revoked"}), gone.KeyID)
	check("environment code", list(vault.ListQuery{Org: "acme", Environment: "prd"}), old.KeyID)
	check("created_before", list(vault.ListQuery{Org: "acme", CreatedBefore: now.Add(-90 * 24 * time.Hour)}), old.KeyID)
	check("team", list(vault.ListQuery{Org: "acme", Team: "b", Status: "revoked"}), gone.KeyID)

	info, err := c.Get(context.Background(), old.KeyID)
	if err != nil {
		t.Fatal(err)
	}
	if want := now.Add(-200 * 24 * time.Hour).UTC().Format(time.RFC3339); info.CreatedAt != want {
		t.Fatalf("created_at %s, want %s", info.CreatedAt, want)
	}
	// A future created_at is refused.
	_, err = c.Issue(context.Background(), vault.IssueRequest{Environment: "production", CreatedAt: now.Add(time.Hour).Format(time.RFC3339)}, "")
	if !errors.Is(err, vault.ErrBadRequest) {
		t.Fatalf("future created_at: %v, want bad request", err)
	}
}

func TestListNeverShowsKeysOrFingerprints(t *testing.T) {
	v := startVault(t, "", Options{})
	var keys []string
	for range 5 {
		k := v.issue(t, vault.IssueRequest{Environment: "development", Owner: &finding.Owner{Org: "acme"}})
		keys = append(keys, k.Key.Reveal())
	}
	status, _, body := v.raw(t, http.MethodGet, "/v1/keys?org=acme&page_size=2", v.Admin, "", "")
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	for _, k := range keys {
		if strings.Contains(string(body), k) || strings.Contains(string(body), strings.TrimPrefix(patterns.Fingerprint([]byte(k)), "sha256:")) {
			t.Fatal("a listing holds a key or a fingerprint")
		}
	}
	if strings.Contains(string(body), "fingerprint") {
		t.Fatal("a listing names a fingerprint field")
	}
	var resp vault.ListResponse
	if err := json.Unmarshal(body, &resp); err != nil || len(resp.Keys) != 2 || resp.NextPageToken == "" {
		t.Fatalf("page: %v %+v", err, resp)
	}
	// The token is opaque and bound to its query.
	q := url.Values{"org": {"acme"}, "team": {"x"}, "page_token": {resp.NextPageToken}}
	if status, _, _ := v.raw(t, http.MethodGet, "/v1/keys?"+q.Encode(), v.Admin, "", ""); status != http.StatusBadRequest {
		t.Fatalf("token reused for another query: %d, want 400", status)
	}
	forged := url.Values{"org": {"acme"}, "page_token": {resp.NextPageToken[:len(resp.NextPageToken)-2] + "AA"}}
	if status, _, _ := v.raw(t, http.MethodGet, "/v1/keys?"+forged.Encode(), v.Admin, "", ""); status != http.StatusBadRequest {
		t.Fatalf("forged token: %d, want 400", status)
	}
}

func TestListErrors(t *testing.T) {
	v := startVault(t, "", Options{})
	plain := v.issue(t, vault.IssueRequest{Environment: "production", Owner: &finding.Owner{Org: "acme"}})
	for _, tc := range []struct {
		query, bearer string
		status        int
	}{
		{"org=acme", "", http.StatusUnauthorized},
		{"org=acme", plain.Key.Reveal(), http.StatusForbidden}, // no keys:verify
		{"", v.Admin, http.StatusBadRequest},
		{"org=acme&page_size=101", v.Admin, http.StatusBadRequest},
		{"org=acme&page_size=0", v.Admin, http.StatusBadRequest},
		{"org=acme&status=unknown", v.Admin, http.StatusBadRequest},
		{"org=acme&environment=qa", v.Admin, http.StatusBadRequest},
		{"org=acme&created_before=yesterday", v.Admin, http.StatusBadRequest},
		{"org=acme&page_token=xyz", v.Admin, http.StatusBadRequest},
		{"org=acme&page_size=100", v.Admin, http.StatusOK},
	} {
		if status, _, body := v.raw(t, http.MethodGet, "/v1/keys?"+tc.query, tc.bearer, "", ""); status != tc.status {
			t.Errorf("%q: status %d, want %d: %s", tc.query, status, tc.status, body)
		}
	}
	c := v.client(t, v.Admin)
	if _, err := c.ListPage(context.Background(), vault.ListQuery{Org: "acme", PageSize: 101}, ""); err == nil {
		t.Fatal("the client sent a page size over 100")
	}
}

// FuzzList throws arbitrary query strings (filters, page sizes, page
// tokens) at GET /v1/keys: the answer is a 200 or a 400, never a 500, and
// a 200 never carries a fingerprint.
func FuzzList(f *testing.F) {
	dir := f.TempDir()
	srv, err := Open(dir, Options{NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	b, _ := os.ReadFile(filepath.Join(dir, AdminKeyFile))
	admin := strings.TrimSpace(string(b))
	bulkIssue(f, srv, 30, 4)
	h := srv.Handler()
	var first vault.ListResponse
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/v1/keys?org=load&page_size=5", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	h.ServeHTTP(rec, req)
	_ = json.Unmarshal(rec.Body.Bytes(), &first)
	f.Add("org=load&page_size=5&page_token=" + first.NextPageToken)
	f.Add("org=load&status=revoked&environment=prd&created_before=2030-01-01T00:00:00Z")
	f.Add("org=load&team=&page_size=100")
	f.Add("org=%00&page_token=%ff%fe")
	f.Fuzz(func(t *testing.T, query string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/v1/keys", nil)
		req.URL.RawQuery = query
		req.Header.Set("Authorization", "Bearer "+admin)
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
			if strings.Contains(rec.Body.String(), "sha256:") || strings.Contains(rec.Body.String(), "fingerprint") {
				t.Fatalf("a listing carries a fingerprint: %s", rec.Body.String())
			}
			var resp vault.ListResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || len(resp.Keys) > vault.MaxPageSize {
				t.Fatalf("bad listing: %v", err)
			}
		case http.StatusBadRequest:
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, query, rec.Body.String())
		}
	})
}
