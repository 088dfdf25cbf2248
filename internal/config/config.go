package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"filippo.io/age"
	"github.com/BurntSushi/toml"

	"github.com/atomyx/atomyx-guard/internal/ghapi"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/responder"
	"github.com/atomyx/atomyx-guard/responder/journal"
)

// FileName is the configuration file at a repository's root.
const FileName = ".atomyx-guard.toml"

// MaxSize bounds the file: a policy is a few lines.
const MaxSize = 1 << 20

// AllowedKey allows one key, by fingerprint, for a stated reason.
type AllowedKey struct {
	Fingerprint string
	Reason      string
}

// Config is a parsed .atomyx-guard.toml, defaults filled in.
type Config struct {
	// AllowPaths are the path globs whose locations are allowed.
	AllowPaths []string
	// AllowKeys are keys allowed wherever they appear.
	AllowKeys []AllowedKey
	// IssueRepo is "owner/repo" for issues; empty means the scanned
	// repository (GITHUB_REPOSITORY in Actions).
	IssueRepo string
	Labels    []string
	// Recipient is the operator's age X25519 recipient, if any.
	Recipient string
	// Environments holds the policy of each environment by name. A grace
	// period (RevokeOld) is for private repositories only: the responder
	// checks that, the file cannot.
	Environments map[string]responder.Policy
	// Rotate is [rotate]: the key-age policy of scheduled rotation.
	Rotate RotatePolicy
	// FailOnEnvironmentMismatch is [hygiene] fail_on_environment_mismatch.
	FailOnEnvironmentMismatch bool

	globs   []glob
	allowFP map[string]string
}

// Default returns the configuration used without a file.
func Default() *Config {
	c := &Config{
		Labels:       []string{"security"},
		Environments: map[string]responder.Policy{},
		allowFP:      map[string]string{},
		Rotate:       defaultRotate(),
	}
	for _, e := range []patterns.Environment{patterns.Production, patterns.Staging, patterns.Development} {
		c.Environments[string(e)] = responder.DefaultPolicy(string(e))
	}
	return c
}

// Policy returns the policy for env, a name or code ("production", "prd");
// an unknown environment is only reported.
func (c *Config) Policy(env string) responder.Policy {
	e, err := patterns.ParseEnvironment(env)
	if err != nil {
		return responder.Policy{Action: journal.Report, RevokeOld: vault.Immediately}
	}
	p, ok := c.Environments[string(e)]
	if !ok {
		return Default().Environments[string(e)]
	}
	return p
}

// IssueRepository returns where issues go: IssueRepo, or else
// GITHUB_REPOSITORY as getenv reports it ("" when neither is set).
func (c *Config) IssueRepository(getenv func(string) string) string {
	if c.IssueRepo != "" || getenv == nil {
		return c.IssueRepo
	}
	return getenv("GITHUB_REPOSITORY")
}

// Load reads the file at path, one the operator named (--config): a
// symbolic link is followed wherever it points, as the operator chose it,
// but only a regular file is read, and at most MaxSize bytes of it, so that
// a FIFO, a device or /proc/self/fd/N can neither hang the scan nor feed it
// without end. A missing file gives the defaults.
func Load(path string) (*Config, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Default(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return read(path, path, fi)
}

// LoadRoot reads root's own FileName: the file of a scanned repository or
// directory, which is not the operator's. Beyond Load's rules, a symbolic
// link is followed only when it resolves to a file inside root: a link out
// of the tree would make the repository's policy a file it does not own
// (or a terminal, a pipe, /proc). A missing file gives the defaults.
func LoadRoot(root string) (*Config, error) {
	p := filepath.Join(root, FileName)
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return Default(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	target := p
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, err = resolveInside(root, p)
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", p, err)
		}
		if fi, err = os.Lstat(target); err != nil {
			return nil, fmt.Errorf("config %s: %w", p, err)
		}
	}
	return read(p, target, fi)
}

// resolveInside resolves the link p and returns its target when that is
// inside root.
func resolveInside(root, p string) (string, error) {
	refuse := func(why string) error {
		return fmt.Errorf("a symbolic link that does not resolve to a file inside %s (%s): refused; "+
			"make it a regular file, or pass --config", root, why)
	}
	resolved, err := filepath.EvalSymlinks(p)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return "", refuse(pe.Err.Error())
		}
		return "", refuse(err.Error())
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", root, err)
	}
	rel, err := filepath.Rel(realRoot, resolved)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", refuse("it points to " + patterns.RedactRuns(resolved))
	}
	return resolved, nil
}

// read reads the regular file at target (fi its stat), named name in
// errors. Anything else is refused before it is opened; the open itself
// does not block (a FIFO swapped in after the check) and the opened file
// must be the one checked.
func read(name, target string, fi fs.FileInfo) (*Config, error) {
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("config %s: not a regular file (%s): refused", name, fi.Mode().Type())
	}
	if fi.Size() > MaxSize {
		return nil, fmt.Errorf("%s: config: larger than %d KiB", name, MaxSize>>10)
	}
	f, err := os.OpenFile(target, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	if got, err := f.Stat(); err != nil || !got.Mode().IsRegular() || !os.SameFile(fi, got) {
		return nil, fmt.Errorf("config %s: not a regular file (it changed while it was opened): refused", name)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", name, err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

// The file's shape. Every field is a pointer or a slice so that "set" and
// "unset" differ.
type (
	fileConfig struct {
		Allow   *fileAllow   `toml:"allow"`
		Respond *fileRespond `toml:"respond"`
		Rotate  *fileRotate  `toml:"rotate"`
		Hygiene *fileHygiene `toml:"hygiene"`
	}
	fileAllow struct {
		Paths        []string      `toml:"paths"`
		Fingerprints []fileAllowFP `toml:"fingerprints"`
	}
	fileAllowFP struct {
		Fingerprint *string `toml:"fingerprint"`
		Reason      *string `toml:"reason"`
	}
	fileRespond struct {
		IssueRepo    *string            `toml:"issue_repo"`
		Labels       []string           `toml:"labels"`
		Recipient    *string            `toml:"recipient"`
		Environments map[string]fileEnv `toml:"environments"`
	}
	fileEnv struct {
		Action    *string  `toml:"action"`
		RevokeOld *string  `toml:"revoke_old"`
		Deliver   []string `toml:"deliver"`
	}
)

// Parse parses the contents of a configuration file.
func Parse(data []byte) (*Config, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("config: larger than %d KiB", MaxSize>>10)
	}
	// Refuse key-shaped text before the TOML parser sees it, so that no
	// parse error can quote it.
	if err := refuseKey(data); err != nil {
		return nil, err
	}
	var fc fileConfig
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&fc)
	if err != nil {
		return nil, safeErr(fmt.Errorf("config: %w", err))
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, safeErr(fmt.Errorf("config: unknown key %s", strings.Join(keys, ", ")))
	}
	// TOML escapes ("\u005f") could spell a key the raw check missed.
	if err := refuseKeyInValues(&fc); err != nil {
		return nil, err
	}
	c, err := build(&fc)
	if err != nil {
		return nil, safeErr(fmt.Errorf("config: %w", err))
	}
	return c, nil
}

func build(fc *fileConfig) (*Config, error) {
	c := Default()
	var errs []error
	if a := fc.Allow; a != nil {
		for i, p := range a.Paths {
			g, err := compileGlob(p)
			if err != nil {
				errs = append(errs, fmt.Errorf("allow.paths[%d]: %w", i, err))
				continue
			}
			c.AllowPaths = append(c.AllowPaths, p)
			c.globs = append(c.globs, g)
		}
		for i, e := range a.Fingerprints {
			at := fmt.Sprintf("allow.fingerprints[%d]", i)
			switch {
			case e.Fingerprint == nil:
				errs = append(errs, fmt.Errorf("%s: fingerprint is required", at))
			case !patterns.ValidFingerprint(*e.Fingerprint):
				errs = append(errs, fmt.Errorf("%s: fingerprint %q: want \"sha256:\" and 64 lower-case hex digits", at, clip(*e.Fingerprint)))
			case e.Reason == nil || strings.TrimSpace(*e.Reason) == "":
				errs = append(errs, fmt.Errorf("%s: a reason is required (why may this key stay?)", at))
			default:
				if _, dup := c.allowFP[*e.Fingerprint]; dup {
					errs = append(errs, fmt.Errorf("%s: fingerprint listed twice", at))
					continue
				}
				c.allowFP[*e.Fingerprint] = *e.Reason
				c.AllowKeys = append(c.AllowKeys, AllowedKey{Fingerprint: *e.Fingerprint, Reason: *e.Reason})
			}
		}
	}
	if r := fc.Respond; r != nil {
		if r.IssueRepo != nil {
			if rp, err := ghapi.ParseRepo(*r.IssueRepo); err != nil || !rp.Valid() {
				errs = append(errs, fmt.Errorf("respond.issue_repo %q: want \"owner/repo\"", clip(*r.IssueRepo)))
			} else {
				c.IssueRepo = *r.IssueRepo
			}
		}
		if r.Labels != nil {
			c.Labels = nil
			for i, l := range r.Labels {
				if l = strings.TrimSpace(l); l == "" || len(l) > 50 || strings.ContainsAny(l, ",\n\r") {
					errs = append(errs, fmt.Errorf("respond.labels[%d]: want 1 to 50 characters, no comma or newline", i))
					continue
				}
				if !slices.Contains(c.Labels, l) {
					c.Labels = append(c.Labels, l)
				}
			}
		}
		if r.Recipient != nil {
			if _, err := age.ParseX25519Recipient(*r.Recipient); err != nil {
				errs = append(errs, fmt.Errorf("respond.recipient: not an age X25519 recipient (age1…): %w", err))
			} else {
				c.Recipient = *r.Recipient
			}
		}
		names := make([]string, 0, len(r.Environments))
		for name := range r.Environments {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			at := "respond.environments." + name
			e, err := patterns.ParseEnvironment(name)
			if err != nil || string(e) != name {
				errs = append(errs, fmt.Errorf("%s: unknown environment %q (want development, staging or production)", at, clip(name)))
				continue
			}
			p, err := buildPolicy(c.Environments[name], r.Environments[name])
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", at, err))
				continue
			}
			c.Environments[name] = p
		}
	}
	rot, err := buildRotate(fc.Rotate)
	if err != nil {
		errs = append(errs, err)
	}
	c.Rotate = rot
	buildHygiene(c, fc.Hygiene)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// buildPolicy reads one environment's policy with the parsers of the
// packages that own its terms (journal.Action, vault.RevokeOld,
// ghapi.SecretTarget). The file's strings are decoded here rather than by
// the TOML decoder so that every mistake is reported, with its position.
func buildPolicy(def responder.Policy, fe fileEnv) (responder.Policy, error) {
	p := def
	if fe.Action != nil {
		if err := p.Action.UnmarshalText([]byte(*fe.Action)); err != nil {
			return p, err
		}
		p.RevokeOld, p.Deliver = vault.Immediately, nil
	}
	if fe.RevokeOld != nil {
		if p.Action != journal.Rotate {
			return p, fmt.Errorf("revoke_old applies to action \"rotate\" only (action is %q)", p.Action)
		}
		ro := vault.RevokeOld(*fe.RevokeOld)
		if ro == "" {
			// Empty means immediately on the wire; in the file it is a slip.
			return p, fmt.Errorf("revoke_old: empty: want \"immediately\" or a grace period such as \"15m\"")
		}
		if _, err := ro.Grace(); err != nil {
			return p, fmt.Errorf("revoke_old %q: %w", clip(*fe.RevokeOld), err)
		}
		p.RevokeOld = ro
	}
	if fe.Deliver != nil {
		if p.Action != journal.Rotate {
			return p, fmt.Errorf("deliver applies to action \"rotate\" only (action is %q)", p.Action)
		}
		p.Deliver = nil
		for i, d := range fe.Deliver {
			s, err := ghapi.ParseSecretTarget(d)
			if err != nil {
				return p, fmt.Errorf("deliver[%d]: %w", i, err)
			}
			if slices.Contains(p.Deliver, s) {
				return p, fmt.Errorf("deliver[%d]: %s listed twice", i, s)
			}
			p.Deliver = append(p.Deliver, s)
		}
	}
	return p, nil
}

// refuseKey rejects data holding anything shaped like a key.
func refuseKey(data []byte) error {
	s := string(data)
	i := patterns.IndexKeyShape(s)
	if i < 0 {
		return nil
	}
	line := strings.Count(s[:i], "\n") + 1
	return fmt.Errorf("config: line %d holds what looks like a whole Atomyx key (%s); "+
		"never put a key in the file: allow it by fingerprint (sha256:…) with a reason", line, patterns.Redact([]byte(s[i:i+patterns.KeyLen])))
}

func refuseKeyInValues(fc *fileConfig) error {
	var all []string
	if a := fc.Allow; a != nil {
		all = append(all, a.Paths...)
		for _, e := range a.Fingerprints {
			all = append(all, deref(e.Fingerprint), deref(e.Reason))
		}
	}
	if r := fc.Respond; r != nil {
		all = append(all, deref(r.IssueRepo), deref(r.Recipient))
		all = append(all, r.Labels...)
		for name, e := range r.Environments {
			all = append(all, name, deref(e.Action), deref(e.RevokeOld))
			all = append(all, e.Deliver...)
		}
	}
	all = append(all, fc.Rotate.values()...)
	for _, v := range all {
		if i := patterns.IndexKeyShape(v); i >= 0 {
			return fmt.Errorf("config: a value holds what looks like a whole Atomyx key (%s); "+
				"never put a key in the file: allow it by fingerprint (sha256:…) with a reason", patterns.Redact([]byte(v[i:i+patterns.KeyLen])))
		}
	}
	return nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// safeErr masks key-shaped text in an error's message. It drops the error
// chain on purpose: a wrapped error could still print the original text.
func safeErr(err error) error {
	msg := err.Error()
	if m := patterns.Scrub(msg); m != msg {
		return errors.New(m)
	}
	return err
}

// clip shortens a value quoted in an error.
func clip(v string) string {
	v = patterns.Scrub(v)
	if len(v) > 80 {
		v = v[:80] + "…"
	}
	return v
}
