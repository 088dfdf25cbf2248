package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/atomyx/atomyx-guard/internal/config"
	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/internal/vault/server"
)

func newVaultCmd(sys *IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vault",
		Short: "Run a local Atomyx Vault and issue keys from it",
		Long: `vault runs the local Vault: the project's own implementation of the Vault key
API (verify, revoke, reissue, issue), on loopback, with its keys kept as
fingerprints in a database on disk, so that you can issue a key, leak it,
scan, verify, revoke and reissue without an Atomyx account.`,
	}
	cmd.AddCommand(newVaultServeCmd(sys), newVaultIssueCmd(sys))
	return cmd
}

// vaultServeOptions is `atomyx-guard vault serve`.
type vaultServeOptions struct {
	Listen      string
	Data        string
	AllowRemote bool
	Faults      server.Faults
	NoSync      bool

	sys *IO
	// listening, when set, is told the URL once the server listens (tests).
	listening func(url string)
}

func newVaultServeCmd(sys *IO) *cobra.Command {
	o := &vaultServeOptions{sys: sys}
	cmd := &cobra.Command{
		Use:   "serve [--listen 127.0.0.1:8787] [--data DIR]",
		Short: "Run the local Vault until interrupted",
		Long: `serve runs the local Vault on loopback. On first start it creates an
administrator key with every role, writes it to DIR/admin.key (mode 0600)
and prints only its redacted form and that path.

The --fault-* flags make it misbehave, to try clients' retries and crash
safety: latency, 429 with Retry-After, 5xx, dropped connections, and a
reissue whose answer is lost after the new key is committed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context()) },
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Listen, "listen", "127.0.0.1:8787", "`ADDRESS` to listen on")
	fs.StringVar(&o.Data, "data", "", "data `DIR` (default: $XDG_DATA_HOME/atomyx-guard/vault, else ~/.local/share/atomyx-guard/vault)")
	fs.BoolVar(&o.AllowRemote, "allow-remote", false, "allow a non-loopback --listen address (the local Vault speaks plain http)")
	fs.DurationVar(&o.Faults.Latency, "fault-latency", 0, "delay every request by `DURATION`")
	fs.Float64Var(&o.Faults.RateLimit, "fault-429", 0, "answer 429 with this `PROBABILITY`")
	fs.DurationVar(&o.Faults.RetryAfter, "fault-retry-after", time.Second, "the Retry-After a 429 asks for (whole seconds)")
	fs.Float64Var(&o.Faults.ServerError, "fault-5xx", 0, "answer 503 with this `PROBABILITY`")
	fs.Float64Var(&o.Faults.Drop, "fault-drop", 0, "close the connection without an answer with this `PROBABILITY`")
	fs.BoolVar(&o.Faults.LoseReissueResponse, "fault-lose-reissue-response", false, "commit each reissue, then drop its first answer")
	fs.Uint64Var(&o.Faults.Seed, "fault-seed", 0, "seed of the fault draws, for a repeatable run (0: random)")
	return cmd
}

func (o *vaultServeOptions) run(ctx context.Context) error {
	host, _, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	if !o.AllowRemote && !vault.IsLoopback(host) {
		return fmt.Errorf("--listen %s is not a loopback address: the local Vault speaks plain http; pass --allow-remote to listen there anyway", o.Listen)
	}
	dir := o.Data
	if dir == "" {
		if dir, err = defaultVaultDir(o.sys); err != nil {
			return err
		}
	} else {
		dir = cliPath(o.sys, dir)
	}
	if o.Faults.Seed == 0 {
		o.Faults.Seed = uint64(time.Now().UnixNano())
	}
	srv, err := server.Open(dir, server.Options{
		Faults: o.Faults,
		NoSync: o.NoSync,
		Logf: func(format string, args ...any) {
			fmt.Fprintf(o.sys.Err, "%s %s\n", time.Now().Format(time.TimeOnly), fmt.Sprintf(format, args...))
		},
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	a := srv.Admin()
	out := o.sys.Out
	fmt.Fprintf(out, "local Vault listening on %s (data in %s)\n", url, dir)
	switch {
	case a.Created:
		fmt.Fprintf(out, "created the admin key %s (all roles), written to %s\n", a.Redacted, a.Path)
	case a.Redacted != "":
		fmt.Fprintf(out, "admin key %s in %s\n", a.Redacted, a.Path)
	default:
		fmt.Fprintf(out, "admin key %s (%s no longer holds it)\n", a.KeyID, a.Path)
	}
	if f := o.Faults; f.Latency > 0 || f.RateLimit > 0 || f.ServerError > 0 || f.Drop > 0 || f.LoseReissueResponse {
		fmt.Fprintf(out, "faults: latency %s, 429 %.2f (Retry-After %s), 5xx %.2f, drop %.2f, lose reissue response %v, seed %d\n",
			f.Latency, f.RateLimit, f.RetryAfter, f.ServerError, f.Drop, f.LoseReissueResponse, f.Seed)
	}
	fmt.Fprintf(out, "use it with: export ATOMYX_API_URL=%s ATOMYX_API_KEY=\"$(cat %s)\"\n", url, shellQuote(a.Path))
	if o.listening != nil {
		o.listening(url)
	}
	if err := srv.Serve(ctx, ln); err != nil {
		return err
	}
	fmt.Fprintln(o.sys.Err, "local Vault stopped")
	return nil
}

func defaultVaultDir(sys *IO) (string, error) {
	if d := sys.env("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "atomyx-guard", "vault"), nil
	}
	home := sys.env("HOME")
	if home == "" {
		return "", errors.New("neither XDG_DATA_HOME nor HOME is set: pass --data DIR")
	}
	return filepath.Join(home, ".local", "share", "atomyx-guard", "vault"), nil
}

func cliPath(sys *IO, p string) string {
	if filepath.IsAbs(p) || sys.Getwd == "" {
		return p
	}
	return filepath.Join(sys.Getwd, p)
}

func shellQuote(s string) string {
	if !strings.ContainsAny(s, " '\"$`\\!*?[]{}()<>|&;#~\t\n") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// vaultIssueOptions is `atomyx-guard vault issue`.
type vaultIssueOptions struct {
	APIURL       string
	AdminKeyFile string
	Env          string
	Products     []string
	Roles        []string
	Owner        finding.Owner
	// Age dates the key in the past (local Vault only), for key-age demos.
	Age string

	sys *IO
}

func newVaultIssueCmd(sys *IO) *cobra.Command {
	o := &vaultIssueOptions{sys: sys}
	cmd := &cobra.Command{
		Use:   "issue --env ENV [--products manage,submit]",
		Short: "Issue a key through the Vault API and print it once",
		Long: `issue asks the Vault (ATOMYX_API_URL or --api-url) for a new key, with the
bearer key of ATOMYX_API_KEY or --admin-key-file (role keys:issue), and
prints it: the only time the whole key is shown. Store it at once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context()) },
	}
	fs := cmd.Flags()
	fs.StringVar(&o.APIURL, "api-url", "", "Vault base `URL` (default: ATOMYX_API_URL, else "+vault.DefaultBaseURL+")")
	fs.StringVar(&o.AdminKeyFile, "admin-key-file", "", "read the bearer key from `FILE` (default: ATOMYX_API_KEY)")
	fs.StringVar(&o.Env, "env", "", "environment: development, staging or production")
	fs.StringSliceVar(&o.Products, "products", nil, "`PRODUCTS` the key is for: manage, submit, prepare")
	fs.StringSliceVar(&o.Roles, "roles", nil, "key-management `ROLES` for the key (keys:verify, keys:revoke, keys:issue), only roles the bearer key holds; none by default")
	fs.StringVar(&o.Owner.Org, "owner-org", "", "owning organisation")
	fs.StringVar(&o.Owner.Team, "owner-team", "", "owning team")
	fs.StringVar(&o.Owner.Contact, "owner-contact", "", "owner's contact address")
	fs.StringVar(&o.Age, "age", "", "local Vault only: date the key `AGE` in the past (\"120d\"), to try `rotate`")
	cmd.MarkFlagRequired("env")
	return cmd
}

func (o *vaultIssueOptions) run(ctx context.Context) error {
	cfg := vault.Config{BaseURL: o.APIURL, APIKey: o.sys.env("ATOMYX_API_KEY")}
	if cfg.BaseURL == "" {
		cfg.BaseURL = o.sys.env("ATOMYX_API_URL")
	}
	if o.AdminKeyFile != "" {
		b, err := os.ReadFile(cliPath(o.sys, o.AdminKeyFile))
		if err != nil {
			return fmt.Errorf("--admin-key-file: %w", err)
		}
		cfg.APIKey = strings.TrimSpace(string(b))
	}
	if cfg.APIKey == "" {
		return errors.New("no bearer key: set ATOMYX_API_KEY or pass --admin-key-file (the local Vault writes DIR/admin.key)")
	}
	c, err := vault.New(cfg)
	if err != nil {
		return err
	}
	req := vault.IssueRequest{Environment: o.Env, Products: o.Products, Roles: o.Roles}
	if o.Age != "" {
		age, err := config.ParseAge(o.Age)
		if err != nil {
			return fmt.Errorf("--age: %w", err)
		}
		req.CreatedAt = time.Now().Add(-age).UTC().Format(time.RFC3339)
	}
	if o.Owner != (finding.Owner{}) {
		owner := o.Owner
		req.Owner = &owner
	}
	k, err := c.Issue(ctx, req, "")
	if err != nil {
		return err
	}
	out := o.sys.Out
	// The one whole-key output of the program, on request.
	fmt.Fprintf(out, "key:         %s\n", k.Key.Reveal())
	fmt.Fprintf(out, "key_id:      %s\n", k.KeyID)
	fmt.Fprintf(out, "fingerprint: %s\n", k.Key.Fingerprint())
	fmt.Fprintf(out, "environment: %s\n", k.Environment)
	if len(k.Products) > 0 {
		fmt.Fprintf(out, "products:    %s\n", strings.Join(k.Products, ", "))
	}
	fmt.Fprintln(o.sys.Err, "This is the only time the key is shown: store it in a secret store now.")
	return nil
}
