package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/patterns"
)

// FuzzHandler throws arbitrary bodies (and Idempotency-Keys) at every
// endpoint: the answer is always a JSON body of a contract status, never a
// 500, and never echoes a key the request carried.
func FuzzHandler(f *testing.F) {
	dir := f.TempDir()
	srv, err := Open(dir, Options{NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	b, _ := os.ReadFile(filepath.Join(dir, AdminKeyFile))
	admin := strings.TrimSpace(string(b))
	h := srv.Handler()
	// The target of revoke and reissue is another key, so that the admin
	// key the fuzzer needs stays.
	var id string
	for fp := range bulkIssue(f, srv, 1, 0) {
		_ = srv.db.View(func(tx *bolt.Tx) error {
			r, err := getKeyByFingerprint(tx, fp)
			if r != nil {
				id = r.ID
			}
			return err
		})
	}
	k, _ := patterns.Generate(patterns.Production)
	fp := patterns.Fingerprint([]byte(k))

	paths := []string{"/v1/keys/verify", "/v1/keys/" + id, "/v1/keys/" + id + "/revoke", "/v1/keys/" + id + "/reissue", "/v1/keys"}
	f.Add(uint8(0), "", `{"fingerprints":["`+fp+`"]}`)
	f.Add(uint8(0), "", `{"fingerprints":["`+k+`"]}`)
	f.Add(uint8(2), "i", `{"reason":"`+k+`"}`)
	f.Add(uint8(3), "j", `{"reason":"x","revoke_old":"`+k+`"}`)
	f.Add(uint8(4), "", `{"environment":"`+k+`","products":["manage"],"owner":{"org":"o"}}`)
	f.Add(uint8(4), "k", `{"environment":"dev","roles":["keys:verify"],"expires_at":"2030-01-01T00:00:00Z"}`)
	f.Add(uint8(1), "", ``)
	f.Fuzz(func(t *testing.T, which uint8, idem, body string) {
		path := paths[int(which)%len(paths)]
		method := http.MethodPost
		if which%uint8(len(paths)) == 1 {
			method = http.MethodGet
		}
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin)
		if idem != "" && !strings.ContainsAny(idem, "\r\n\x00") {
			req.Header.Set("Idempotency-Key", idem)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 201, 400, 403, 404, 409:
		default:
			t.Fatalf("%s %s %q: status %d: %s", method, path, body, rec.Code, rec.Body.Bytes())
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("not JSON: %q", rec.Body.Bytes())
		}
		in := []byte(body)
		patterns.Find(in, 0, true, func(c patterns.Candidate) {
			if c.Valid && bytes.Contains(rec.Body.Bytes(), in[c.Start:c.End]) {
				t.Fatalf("the answer echoes a key of the request")
			}
		})
		if bytes.Contains(rec.Body.Bytes(), []byte(admin)) {
			t.Fatal("the answer holds the admin key")
		}
		if rec.Code >= 400 {
			var eb vault.ErrorBody
			if json.Unmarshal(rec.Body.Bytes(), &eb) != nil || eb.Error.Code == "" {
				t.Fatalf("error without an error body: %q", rec.Body.Bytes())
			}
		}
	})
}
