package ghapp_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/ghapi"
	"github.com/atomyx/atomyx-guard/internal/ghapi/ghfake"
	"github.com/atomyx/atomyx-guard/internal/ghapp"
)

func newKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestLoadKeyPKCS1AndPKCS8(t *testing.T) {
	k := newKey(t)
	dir := t.TempDir()
	p8, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	for name, blk := range map[string]*pem.Block{
		"pkcs1": {Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)},
		"pkcs8": {Type: "PRIVATE KEY", Bytes: p8},
	} {
		p := filepath.Join(dir, name+".pem")
		if err := os.WriteFile(p, pem.EncodeToMemory(blk), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := ghapp.LoadKey(p)
		if err != nil || !got.Equal(k) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if _, err := ghapp.ParseKey([]byte("not pem")); err == nil {
		t.Fatal("garbage parsed as a key")
	}
	if _, err := ghapp.ParseKey(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}})); err == nil {
		t.Fatal("a certificate parsed as a key")
	}
}

// Tokens are minted per installation with a JWT GitHub can verify,
// reused while they live, and minted again shortly before they expire;
// the installation token then works against the API.
func TestInstallationTokens(t *testing.T) {
	k := newKey(t)
	gh := ghfake.New()
	t.Cleanup(gh.Close)
	gh.Token = "static"
	gh.AddRepo("acme", "app", true)
	now := time.Now()
	gh.AppClock = func() time.Time { return now }
	gh.App(42, &k.PublicKey, time.Hour)
	app := &ghapp.App{ID: 42, Key: k, BaseURL: gh.URL(), Now: func() time.Time { return now }}
	ctx := context.Background()
	a1, err := app.Token(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := app.Token(ctx, 7); again != a1 || gh.Minted(7) != 1 {
		t.Fatalf("a live token was minted again (%d mints)", gh.Minted(7))
	}
	b1, err := app.Token(ctx, 8)
	if err != nil || b1 == a1 || gh.Minted(8) != 1 {
		t.Fatalf("installation 8: %v, %d mints", err, gh.Minted(8))
	}
	now = now.Add(56 * time.Minute) // within 5 minutes of the expiry
	a2, err := app.Token(ctx, 7)
	if err != nil || a2 == a1 || gh.Minted(7) != 2 {
		t.Fatalf("not refreshed before expiry: %v, %d mints", err, gh.Minted(7))
	}
	c, err := ghapi.New(ghapi.Config{Token: a2, BaseURL: gh.URL(), MutationSpacing: -1})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := c.RepoVisibility(ctx, ghapi.Repo{Owner: "acme", Name: "app"}); err != nil || !v.Private {
		t.Fatalf("API with an installation token: %v %+v", err, v)
	}

	// Another key, another app id: GitHub refuses the JWT.
	for name, bad := range map[string]*ghapp.App{
		"wrong key": {ID: 42, Key: newKey(t), BaseURL: gh.URL()},
		"wrong id":  {ID: 43, Key: k, BaseURL: gh.URL()},
	} {
		if _, err := bad.Token(ctx, 7); err == nil || !strings.Contains(err.Error(), "401") {
			t.Errorf("%s: %v, want a 401", name, err)
		}
	}
	if _, err := app.Token(ctx, 0); err == nil {
		t.Error("installation 0 minted")
	}
}

func TestVerifyJWTRejectsTampering(t *testing.T) {
	k := newKey(t)
	app := &ghapp.App{ID: 1, Key: k}
	jwt, err := app.JWT()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ghapp.VerifyJWT(jwt, &k.PublicKey, time.Now()); err != nil {
		t.Fatalf("valid JWT refused: %v", err)
	}
	parts := strings.Split(jwt, ".")
	for name, bad := range map[string]string{
		"alg none":  "eyJhbGciOiJub25lIn0." + parts[1] + ".",
		"claims":    parts[0] + "." + parts[0] + "." + parts[2],
		"truncated": parts[0] + "." + parts[1],
	} {
		if _, err := ghapp.VerifyJWT(bad, &k.PublicKey, time.Now()); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ghapp.VerifyJWT(jwt, &k.PublicKey, time.Now().Add(10*time.Minute)); err == nil {
		t.Error("expired JWT accepted")
	}
}
