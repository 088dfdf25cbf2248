package cli

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/atomyx/atomyx-guard/internal/ghapi"
	"github.com/atomyx/atomyx-guard/internal/ghapp"
	"github.com/atomyx/atomyx-guard/internal/org"
	"github.com/atomyx/atomyx-guard/internal/serve"
	"github.com/atomyx/atomyx-guard/responder"
	"github.com/atomyx/atomyx-guard/responder/journal"
	"github.com/atomyx/atomyx-guard/scanner"
)

// serveOptions is `atomyx-guard serve`.
type serveOptions struct {
	Listen            string
	Cache             string
	SecretFile        string
	Workers           int
	ScanWorkers       int
	ReconcileInterval time.Duration
	Orgs              []string
	Journal           string
	APIURL            string
	GitHubAPIURL      string
	LogFormat         string
	QueueMax          int
	QueuePerRepo      int
	ShutdownGrace     time.Duration
	NoGitBinary       bool
	AppID             int64
	AppKeyFile        string

	sys *IO
}

func newServeCmd(sys *IO) *cobra.Command {
	o := &serveOptions{sys: sys}
	cmd := &cobra.Command{
		Use:   "serve --listen ADDR --cache DIR --webhook-secret-file FILE",
		Short: "Receive GitHub webhooks and revoke pushed keys within seconds, for a whole organisation",
		Long: `serve receives GitHub webhook deliveries (an organisation webhook or a GitHub
App) at POST /webhook and answers each pushed key in seconds: the delivery's
HMAC-SHA256 signature is checked before anything is parsed, the delivery is
recorded on disk before it is acknowledged, and workers fetch the repository
into the org mirror cache (--cache, shared with "atomyx-guard org"), scan only
what the push brought, verify with the Atomyx Vault and respond through the
journal, with the policy of the repository's default branch.

Events: push, pull_request (opened, synchronize, reopened), repository
(created, publicized: a full scan; public means every grace is immediate),
ping. On start and every --reconcile-interval, every known repository (and
those of --org) is fetched and whatever was missed is scanned.

GET /healthz and GET /metrics (Prometheus) are served on the same address.
Needs GITHUB_TOKEN (contents: read, issues: write, secrets: write), or
GitHub App credentials (--app-id, --app-key-file: installation tokens minted
per installation from the delivery's installation.id, kept in memory and
refreshed before they expire),
ATOMYX_API_KEY (keys:verify, keys:revoke, keys:issue); GITHUB_API_URL and
ATOMYX_API_URL where not the defaults. The webhook secret is read from
--webhook-secret-file, never from the command line.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context()) },
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Listen, "listen", "127.0.0.1:8080", "`ADDR` to listen on (host:port)")
	fs.StringVar(&o.Cache, "cache", "", "`DIR` of the mirrors, the state, the queue and (by default) the journal")
	fs.StringVar(&o.SecretFile, "webhook-secret-file", "", "`FILE` holding the webhook secret")
	fs.IntVar(&o.Workers, "workers", 2, "repositories processed at once")
	fs.IntVar(&o.ScanWorkers, "scan-workers", max(1, runtime.NumCPU()/2), "scanner workers per repository")
	fs.DurationVar(&o.ReconcileInterval, "reconcile-interval", time.Hour, "how often every repository is caught up (0: only on start)")
	fs.StringArrayVar(&o.Orgs, "org", nil, "also reconcile every repository of `ORG` (repeatable)")
	fs.StringVar(&o.Journal, "journal", "", "the responder's journal `PATH` (default: CACHE/journal.db)")
	fs.StringVar(&o.APIURL, "api-url", "", "Atomyx Vault base `URL` (default: ATOMYX_API_URL)")
	fs.StringVar(&o.GitHubAPIURL, "github-api-url", "", "GitHub REST API `URL` (default: GITHUB_API_URL, else "+ghapi.DefaultBaseURL+")")
	fs.StringVar(&o.LogFormat, "log-format", "text", "log format: text or json")
	fs.IntVar(&o.QueueMax, "queue-max", 10000, "deliveries held at most before answering 503")
	fs.IntVar(&o.QueuePerRepo, "queue-per-repo", 1000, "deliveries held at most for one repository before answering 503")
	fs.DurationVar(&o.ShutdownGrace, "shutdown-grace", 10*time.Second, "on SIGTERM, how long batches in progress may finish (the rest stays queued)")
	fs.BoolVar(&o.NoGitBinary, "no-git-binary", false, "read objects with go-git only")
	fs.Int64Var(&o.AppID, "app-id", 0, "authenticate as the GitHub App `ID` (with --app-key-file) instead of GITHUB_TOKEN")
	fs.StringVar(&o.AppKeyFile, "app-key-file", "", "the GitHub App's private key, a PEM `FILE` (never on the command line)")
	cmd.MarkFlagRequired("cache")
	cmd.MarkFlagRequired("webhook-secret-file")
	return cmd
}

func (o *serveOptions) run(ctx context.Context) error {
	switch {
	case o.Workers < 1 || o.ScanWorkers < 1:
		return fmt.Errorf("--workers and --scan-workers must be at least 1")
	case o.QueueMax < 1 || o.QueuePerRepo < 1:
		return fmt.Errorf("--queue-max and --queue-per-repo must be at least 1")
	case o.ReconcileInterval < 0:
		return fmt.Errorf("--reconcile-interval must not be negative")
	case o.LogFormat != "text" && o.LogFormat != "json":
		return fmt.Errorf("--log-format: want text or json")
	}
	var h slog.Handler = slog.NewTextHandler(o.sys.Err, nil)
	if o.LogFormat == "json" {
		h = slog.NewJSONHandler(o.sys.Err, nil)
	}
	log := slog.New(serve.MaskedHandler(h))

	secret, err := os.ReadFile(o.path(o.SecretFile))
	if err != nil {
		return fmt.Errorf("--webhook-secret-file: %w", err)
	}
	secret = bytes.TrimRight(secret, "\r\n")
	if len(secret) == 0 {
		return fmt.Errorf("--webhook-secret-file %s: empty", o.SecretFile)
	}
	vc, err := newVaultClient(o.sys, o.APIURL, "the keys:verify, keys:revoke and keys:issue roles")
	if err != nil {
		return err
	}
	ghCfg := ghapi.ConfigFromEnv(o.sys.env)
	if o.GitHubAPIURL != "" {
		ghCfg.BaseURL = o.GitHubAPIURL
	}
	if ghCfg.BaseURL == "" {
		ghCfg.BaseURL = ghapi.DefaultBaseURL
	}
	var app *ghapp.App
	switch {
	case (o.AppID != 0) != (o.AppKeyFile != ""):
		return fmt.Errorf("--app-id and --app-key-file go together")
	case o.AppID < 0:
		return fmt.Errorf("--app-id must be positive")
	case o.AppID > 0:
		key, err := ghapp.LoadKey(o.path(o.AppKeyFile))
		if err != nil {
			return fmt.Errorf("--app-key-file: %w", err)
		}
		app = &ghapp.App{ID: o.AppID, Key: key, BaseURL: ghCfg.BaseURL}
	case ghCfg.Token == "":
		return fmt.Errorf("GITHUB_TOKEN is not set (contents: read; issues: write; secrets: write), and no --app-id")
	}
	if len(o.Orgs) > 0 && ghCfg.Token == "" {
		return fmt.Errorf("--org lists repositories with GITHUB_TOKEN, which is not set (with an App, reconcile covers the repositories it delivered for)")
	}
	var gh *ghapi.Client
	if ghCfg.Token != "" {
		if gh, err = ghapi.New(ghCfg); err != nil {
			return err
		}
	}
	cache := o.path(o.Cache)
	if err := os.MkdirAll(cache, 0o700); err != nil {
		return fmt.Errorf("--cache: %w", err)
	}
	q, err := serve.OpenQueue(filepath.Join(cache, "serve-queue.db"), serve.QueueOptions{MaxPerRepo: o.QueuePerRepo, MaxTotal: o.QueueMax})
	if err != nil {
		return err
	}
	defer q.Close()
	state, err := org.OpenState(filepath.Join(cache, "state.db"))
	if err != nil {
		return err
	}
	defer state.Close()
	jpath := o.Journal
	if jpath == "" {
		jpath = filepath.Join(cache, "journal.db")
	}
	j, err := journal.Open(o.path(jpath), journal.Options{Timeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer j.Close()

	exp, lim := (&expandOptions{}).engineExpansion(nil, 0)
	cfg := serve.Config{
		Secret: secret, Queue: q, State: state,
		Mirror:      &org.Mirror{Dir: filepath.Join(cache, "repos"), Token: ghCfg.Token, TokenHosts: org.TokenHosts(ghCfg.BaseURL)},
		Engine:      &scanner.Engine{Detector: &scanner.Detector{}, Workers: o.ScanWorkers, Expanders: exp, Limits: lim},
		NoGitBinary: o.NoGitBinary,
		Vault:       vc, Journal: j,
		OwnFingerprints:   ownFingerprints(o.sys),
		ServerURL:         o.sys.env("GITHUB_SERVER_URL"),
		Workers:           o.Workers,
		ReconcileInterval: o.ReconcileInterval,
		ShutdownGrace:     o.ShutdownGrace,
		Log:               log,
	}
	if app != nil {
		// The App's installation tokens; GITHUB_TOKEN, if also set, only
		// lists --org.
		cfg.App = app
		cfg.Mirror.Token = ""
		cfg.NewGitHub = func(token string) (responder.GitHub, error) {
			c := ghCfg
			c.Token = token
			return ghapi.New(c)
		}
	} else {
		cfg.GitHub = gh
	}
	if len(o.Orgs) > 0 {
		orgs := o.Orgs
		cfg.List = func(ctx context.Context) ([]org.Repo, error) {
			var out []org.Repo
			for _, name := range orgs {
				rs, err := org.List(ctx, gh.GitHub(), name)
				if err != nil {
					return out, err
				}
				for _, r := range rs {
					if (org.Filter{}).Keep(r) {
						out = append(out, r)
					}
				}
			}
			return out, nil
		}
	}
	srv, err := serve.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	log.Info("listening", "addr", ln.Addr().String(), "cache", cache, "workers", o.Workers, "pending", q.Depth())
	err = srv.Serve(ctx, ln)
	log.Info("stopped", "pending", q.Depth())
	if err != nil {
		return err
	}
	return nil
}

func (o *serveOptions) path(p string) string {
	if filepath.IsAbs(p) || o.sys.Getwd == "" {
		return p
	}
	return filepath.Join(o.sys.Getwd, p)
}
