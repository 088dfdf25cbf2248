package ghapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/google/go-github/v60/github"
	"golang.org/x/crypto/nacl/box"
)

// Secret target kinds, as written in the configuration.
const (
	KindRepoSecret = "github-secret"
	KindEnvSecret  = "github-env-secret"
	KindOrgSecret  = "github-org-secret"
)

// SecretTarget is where a replacement key is delivered: an Actions secret
// of a repository, of a repository's environment, or of an organisation.
type SecretTarget struct {
	Kind  string
	Owner string // repository owner (repo and env secrets)
	Repo  string // repository name (repo and env secrets)
	Env   string // environment (env secrets)
	Org   string // organisation (org secrets)
	Name  string // secret name
}

// String is the target as the configuration writes it.
func (t SecretTarget) String() string {
	switch t.Kind {
	case KindRepoSecret:
		return fmt.Sprintf("%s:%s/%s:%s", t.Kind, t.Owner, t.Repo, t.Name)
	case KindEnvSecret:
		return fmt.Sprintf("%s:%s/%s:%s:%s", t.Kind, t.Owner, t.Repo, t.Env, t.Name)
	case KindOrgSecret:
		return fmt.Sprintf("%s:%s:%s", t.Kind, t.Org, t.Name)
	}
	return t.Kind + ":?"
}

// Validate checks the target's fields for its kind, by the same rules
// ParseSecretTarget applies: a target built in code (a journal entry, a
// test) is held to what a policy file may say.
func (t SecretTarget) Validate() error {
	switch t.Kind {
	case KindRepoSecret, KindEnvSecret:
		if !(Repo{Owner: t.Owner, Name: t.Repo}).Valid() {
			return fmt.Errorf("%s: want OWNER/REPO", t)
		}
		if t.Kind == KindEnvSecret && !validEnvName(t.Env) {
			return fmt.Errorf("%s: environment name: want 1 to 255 printable characters", t)
		}
	case KindOrgSecret:
		if !validOwner(t.Org) {
			return fmt.Errorf("%s: organisation: want letters, digits and single hyphens", t)
		}
	default:
		return fmt.Errorf("unknown secret kind %q", t.Kind)
	}
	if err := validSecretName(t.Name); err != nil {
		return fmt.Errorf("%s: %w", t, err)
	}
	return nil
}

const needsSecretsWrite = "Secrets: write"

// PutSecret seals value to the target's public key (a NaCl sealed box, as
// GitHub requires) and creates or updates the secret. The whole value
// exists only in memory and in the sealed box.
func (c *Client) PutSecret(ctx context.Context, t SecretTarget, value patterns.Secret) error {
	if err := t.Validate(); err != nil {
		return err
	}
	op := "deliver to " + t.String()
	var (
		pk  *github.PublicKey
		err error
		id  int64
	)
	switch t.Kind {
	case KindRepoSecret:
		pk, _, err = c.gh.Actions.GetRepoPublicKey(ctx, t.Owner, t.Repo)
	case KindEnvSecret:
		var v Visibility
		v, err = c.RepoVisibility(ctx, Repo{t.Owner, t.Repo})
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		id = v.ID
		pk, _, err = c.gh.Actions.GetEnvPublicKey(ctx, int(id), t.Env)
	case KindOrgSecret:
		pk, _, err = c.gh.Actions.GetOrgPublicKey(ctx, t.Org)
	}
	if err != nil {
		return classify(op+": get public key", needsSecretsWrite, err)
	}
	sealed, err := Seal(pk.GetKey(), []byte(value.Reveal()))
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	es := &github.EncryptedSecret{Name: t.Name, KeyID: pk.GetKeyID(), EncryptedValue: sealed}
	switch t.Kind {
	case KindRepoSecret:
		_, err = c.gh.Actions.CreateOrUpdateRepoSecret(ctx, t.Owner, t.Repo, es)
	case KindEnvSecret:
		_, err = c.gh.Actions.CreateOrUpdateEnvSecret(ctx, int(id), t.Env, es)
	case KindOrgSecret:
		es.Visibility = "private"
		_, err = c.gh.Actions.CreateOrUpdateOrgSecret(ctx, t.Org, es)
	}
	return classify(op, needsSecretsWrite, err)
}

// Seal encrypts msg to a base64 Curve25519 public key as a NaCl anonymous
// sealed box and returns it base64-encoded, as GitHub's secrets API wants.
func Seal(publicKeyB64 string, msg []byte) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(publicKeyB64)
	if err != nil || len(raw) != 32 {
		return "", fmt.Errorf("public key: want 32 bytes of base64")
	}
	var pk [32]byte
	copy(pk[:], raw)
	out, err := box.SealAnonymous(nil, msg, &pk, rand.Reader)
	if err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	return base64.StdEncoding.EncodeToString(out), nil
}
