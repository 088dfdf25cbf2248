package config

import (
	"errors"
	"fmt"
	"github.com/atomyx/atomyx-guard/internal/ghapi"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/atomyx/atomyx-guard/patterns"
)

// Defaults of [rotate]: Atomyx asks to "rotate them regularly" without a
// number; 90 days is the common compliance figure.
const (
	DefaultMaxAge     = 90 * Day
	DefaultWarnBefore = 14 * Day
	// DefaultRotateGrace is how long the old key keeps working after a
	// scheduled rotation: it is not an exposure, so deployments get time
	// to pick the replacement up.
	DefaultRotateGrace = time.Hour
)

// Day is 24 hours, the unit of key ages.
const Day = 24 * time.Hour

// RotateLimits are the key-age limits of one environment. Zero UnusedAfter
// proposes no revocation of unused keys.
type RotateLimits struct {
	MaxAge, WarnBefore, UnusedAfter time.Duration
}

// RotateKey names a key (by KeyID, or by Team and/or Environment) and says
// where its replacements go and how long the old key keeps working.
type RotateKey struct {
	KeyID       string
	Team        string
	Environment string
	Deliver     []ghapi.SecretTarget
	// RevokeOld is "immediately" (revoke as soon as the replacement is
	// verified) or a grace such as "1h"; Grace is it parsed.
	RevokeOld string
	Grace     time.Duration
}

// Matches reports whether the entry names the key.
func (k RotateKey) Matches(keyID, team, env string) bool {
	if k.KeyID != "" {
		return k.KeyID == keyID
	}
	return (k.Team == "" || k.Team == team) && (k.Environment == "" || k.Environment == env)
}

// RotatePolicy is [rotate]: the key-age policy of scheduled rotation.
type RotatePolicy struct {
	// Set is true when the file has a [rotate] table.
	Set bool
	RotateLimits
	// Environments override the limits per environment name.
	Environments map[string]RotateLimits
	// Keys are the [[rotate.keys]] entries, in file order.
	Keys []RotateKey
}

// Limits returns the limits of env.
func (p RotatePolicy) Limits(env string) RotateLimits {
	if l, ok := p.Environments[env]; ok {
		return l
	}
	return p.RotateLimits
}

// Key returns the first [[rotate.keys]] entry naming the key: an entry by
// key_id wins over a match on team and environment.
func (p RotatePolicy) Key(keyID, team, env string) (RotateKey, bool) {
	for _, k := range p.Keys {
		if k.KeyID != "" && k.KeyID == keyID {
			return k, true
		}
	}
	for _, k := range p.Keys {
		if k.KeyID == "" && k.Matches(keyID, team, env) {
			return k, true
		}
	}
	return RotateKey{}, false
}

func defaultRotate() RotatePolicy {
	return RotatePolicy{RotateLimits: RotateLimits{MaxAge: DefaultMaxAge, WarnBefore: DefaultWarnBefore}}
}

// The file's [rotate] table.
type (
	fileRotate struct {
		fileLimits
		Environments map[string]fileLimits `toml:"environments"`
		Keys         []fileRotateKey       `toml:"keys"`
	}
	fileLimits struct {
		MaxAge      *string `toml:"max_age"`
		WarnBefore  *string `toml:"warn_before"`
		UnusedAfter *string `toml:"unused_after"`
	}
	fileRotateKey struct {
		KeyID       *string  `toml:"key_id"`
		Team        *string  `toml:"team"`
		Environment *string  `toml:"environment"`
		Deliver     []string `toml:"deliver"`
		RevokeOld   *string  `toml:"revoke_old"`
	}
)

// values lists every string of the table, for the whole-key check.
func (fr *fileRotate) values() []string {
	if fr == nil {
		return nil
	}
	out := fr.fileLimits.values()
	for name, l := range fr.Environments {
		out = append(out, name)
		out = append(out, l.values()...)
	}
	for _, k := range fr.Keys {
		out = append(out, deref(k.KeyID), deref(k.Team), deref(k.Environment), deref(k.RevokeOld))
		out = append(out, k.Deliver...)
	}
	return out
}

func (fl fileLimits) values() []string {
	return []string{deref(fl.MaxAge), deref(fl.WarnBefore), deref(fl.UnusedAfter)}
}

func buildRotate(fr *fileRotate) (RotatePolicy, error) {
	p := defaultRotate()
	if fr == nil {
		return p, nil
	}
	p.Set = true
	var errs []error
	base, err := buildLimits(p.RotateLimits, fr.fileLimits)
	if err != nil {
		errs = append(errs, fmt.Errorf("rotate: %w", err))
	}
	p.RotateLimits = base
	names := make([]string, 0, len(fr.Environments))
	for name := range fr.Environments {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		at := "rotate.environments." + name
		if e, err := patterns.ParseEnvironment(name); err != nil || string(e) != name {
			errs = append(errs, fmt.Errorf("%s: unknown environment %q (want development, staging or production)", at, clip(name)))
			continue
		}
		l, err := buildLimits(base, fr.Environments[name])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", at, err))
			continue
		}
		if p.Environments == nil {
			p.Environments = map[string]RotateLimits{}
		}
		p.Environments[name] = l
	}
	for i, fk := range fr.Keys {
		k, err := buildRotateKey(fk)
		if err != nil {
			errs = append(errs, fmt.Errorf("rotate.keys[%d]: %w", i, err))
			continue
		}
		p.Keys = append(p.Keys, k)
	}
	return p, errors.Join(errs...)
}

func buildLimits(def RotateLimits, fl fileLimits) (RotateLimits, error) {
	l := def
	for _, f := range []struct {
		name string
		v    *string
		to   *time.Duration
	}{{"max_age", fl.MaxAge, &l.MaxAge}, {"warn_before", fl.WarnBefore, &l.WarnBefore}, {"unused_after", fl.UnusedAfter, &l.UnusedAfter}} {
		if f.v == nil {
			continue
		}
		d, err := ParseAge(*f.v)
		if err != nil {
			return l, fmt.Errorf("%s: %w", f.name, err)
		}
		if d == 0 && f.name == "max_age" {
			return l, errors.New(`max_age: must be more than 0`)
		}
		*f.to = d
	}
	if l.WarnBefore >= l.MaxAge {
		return l, fmt.Errorf("warn_before (%s) must be less than max_age (%s)", FormatAge(l.WarnBefore), FormatAge(l.MaxAge))
	}
	return l, nil
}

func buildRotateKey(fk fileRotateKey) (RotateKey, error) {
	var k RotateKey
	switch {
	case fk.KeyID != nil && (fk.Team != nil || fk.Environment != nil):
		return k, errors.New("name a key by key_id, or match on team and environment, not both")
	case fk.KeyID != nil:
		if !validKeyID(*fk.KeyID) {
			return k, fmt.Errorf("key_id %q: want key_ and letters or digits", clip(*fk.KeyID))
		}
		k.KeyID = *fk.KeyID
	case fk.Team == nil && fk.Environment == nil:
		return k, errors.New("name a key: key_id, or team and/or environment")
	}
	if fk.Team != nil {
		if t := *fk.Team; t == "" || len(t) > 200 || strings.ContainsFunc(t, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return k, errors.New("team: want 1 to 200 printable characters")
		}
		k.Team = *fk.Team
	}
	if fk.Environment != nil {
		e, err := patterns.ParseEnvironment(*fk.Environment)
		if err != nil {
			return k, fmt.Errorf("environment %q: want development, staging or production", clip(*fk.Environment))
		}
		k.Environment = string(e)
	}
	if len(fk.Deliver) == 0 {
		return k, errors.New(`deliver is required: where the replacement goes (e.g. "github-secret:OWNER/REPO:NAME")`)
	}
	for i, d := range fk.Deliver {
		s, err := ghapi.ParseSecretTarget(d)
		if err != nil {
			return k, fmt.Errorf("deliver[%d]: %w", i, err)
		}
		if slices.Contains(k.Deliver, s) {
			return k, fmt.Errorf("deliver[%d]: %s listed twice", i, s)
		}
		k.Deliver = append(k.Deliver, s)
	}
	k.RevokeOld, k.Grace = DefaultRotateGrace.String(), DefaultRotateGrace
	if fk.RevokeOld != nil {
		if *fk.RevokeOld == "" {
			return k, errors.New(`revoke_old: empty: want "immediately" or a grace period such as "1h"`)
		}
		g, err := vault.RevokeOld(*fk.RevokeOld).Grace()
		if err != nil {
			return k, fmt.Errorf("revoke_old: %w", err)
		}
		k.RevokeOld, k.Grace = *fk.RevokeOld, g
	}
	return k, nil
}

func validKeyID(id string) bool {
	if len(id) < 5 || len(id) > 64 || !strings.HasPrefix(id, "key_") {
		return false
	}
	for _, c := range []byte(id[4:]) {
		if !patterns.IsBase62(c) {
			return false
		}
	}
	return true
}

// ParseAge reads a key age: a whole number of days ("90d") or weeks
// ("2w"), or a Go duration ("36h"). "0" (or "0d") is zero: off.
func ParseAge(v string) (time.Duration, error) {
	s := strings.TrimSpace(v)
	bad := fmt.Errorf("%q: want days such as \"90d\", weeks such as \"2w\", or a duration such as \"36h\"", clip(v))
	if s == "" {
		return 0, bad
	}
	if s == "0" {
		return 0, nil
	}
	unit := time.Duration(0)
	switch s[len(s)-1] {
	case 'd':
		unit = Day
	case 'w':
		unit = 7 * Day
	}
	if unit != 0 {
		n, err := strconv.ParseUint(s[:len(s)-1], 10, 32)
		if err != nil || n > 36500 {
			return 0, bad
		}
		return time.Duration(n) * unit, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > 36500*Day {
		return 0, bad
	}
	return d, nil
}

// FormatAge writes an age the way ParseAge reads it: whole days as "90d".
func FormatAge(d time.Duration) string {
	if d%Day == 0 {
		return strconv.FormatInt(int64(d/Day), 10) + "d"
	}
	return d.String()
}
