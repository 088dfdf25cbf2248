package ghapp_test

import (
	"crypto/rand"
	"crypto/rsa"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/ghapp"
)

// FuzzVerifyJWT: whatever arrives as a bearer token never panics and is
// never accepted unless signed by the key.
func FuzzVerifyJWT(f *testing.F) {
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		f.Fatal(err)
	}
	good, err := (&ghapp.App{ID: 1, Key: k}).JWT()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	now := time.Now()
	f.Fuzz(func(t *testing.T, tok string) {
		if _, err := ghapp.VerifyJWT(tok, &k.PublicKey, now); err == nil && tok != good {
			t.Fatalf("accepted a token not made by the key: %q", tok)
		}
	})
}

// FuzzParseKey: a key file of any content never panics.
func FuzzParseKey(f *testing.F) {
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = ghapp.ParseKey(b) })
}
