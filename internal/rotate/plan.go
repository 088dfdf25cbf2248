// Package rotate is scheduled rotation: it inventories an owner org's keys
// through the Vault's listing, decides which are due under the [rotate]
// policy, and rotates the due keys whose delivery targets are known, with
// the responder's crash-safe journal and idempotency keys, so that a run
// killed half-way, or two runs at once, still make one replacement per
// key. A due key with no known target gets one GitHub issue instead, and
// keys nobody used for too long are proposed for revocation.
//
// A scheduled rotation is not an exposure: the old key keeps working for
// its grace while the replacement is delivered and tested (Atomyx's
// order: create, deploy, test, revoke).
package rotate

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/atomyx/atomyx-guard/internal/config"
	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/ghapi"
	"github.com/atomyx/atomyx-guard/internal/vault"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/responder/journal"
)

// Vault is what rotation needs of the Vault client.
type Vault interface {
	Keys(ctx context.Context, q vault.ListQuery) iter.Seq2[vault.ListedKey, error]
	Get(ctx context.Context, keyID string) (vault.KeyInfo, error)
	Revoke(ctx context.Context, keyID string, req vault.RevokeRequest, idempotencyKey string) (vault.RevokeResponse, error)
	Reissue(ctx context.Context, keyID string, req vault.ReissueRequest, idempotencyKey string) (vault.IssuedKey, error)
}

// GitHub is what rotation needs of GitHub (ghapi.Client).
type GitHub interface {
	ListIssues(ctx context.Context, repo ghapi.Repo, label string) ([]ghapi.Issue, error)
	CreateIssue(ctx context.Context, repo ghapi.Repo, title, body string, labels []string) (ghapi.Issue, error)
	EditIssueBody(ctx context.Context, repo ghapi.Repo, number int, body string) error
	Comment(ctx context.Context, repo ghapi.Repo, number int, body string) error
	CloseIssue(ctx context.Context, repo ghapi.Repo, number int, reason string) error
	PutSecret(ctx context.Context, t ghapi.SecretTarget, value patterns.Secret) error
}

// Key states in a plan.
const (
	// StateOK is a key within its age.
	StateOK = "ok"
	// StateWarn is a key that will be due within warn_before.
	StateWarn = "warn"
	// StateDue is a key at or past max_age.
	StateDue = "due"
	// StateRotated is an old key that no longer lists as active, whose
	// rotation the journal has not yet seen end.
	StateRotated = "rotated"
)

// Actions a plan proposes for a key.
const (
	ActionNone = "none"
	// ActionRotate reissues, delivers, verifies, and lets the old key end.
	ActionRotate = "rotate"
	// ActionReport opens (or updates) the key's issue: due, no known sink.
	ActionReport = "report"
	// ActionRevokeUnused revokes a key unused for longer than
	// unused_after (only with --revoke-unused).
	ActionRevokeUnused = "revoke-unused"
	// ActionWait is a key already rotated whose grace has not ended.
	ActionWait = "wait-grace"
)

// Item is one key of the inventory and what the policy says of it.
type Item struct {
	KeyID       string         `json:"key_id"`
	Environment string         `json:"environment"`
	Owner       *finding.Owner `json:"owner,omitempty"`
	Products    []string       `json:"products,omitempty"`
	CreatedAt   string         `json:"created_at,omitempty"`
	LastUsedAt  string         `json:"last_used_at,omitempty"`
	AgeDays     int            `json:"age_days"`
	MaxAge      string         `json:"max_age"`
	DueAt       string         `json:"due_at,omitempty"`
	State       string         `json:"state"`
	// Unused is set when the key was not used for unused_after.
	Unused     bool `json:"unused,omitempty"`
	UnusedDays int  `json:"unused_days,omitempty"`
	// Sinks are where the key's replacement goes; SinkSource says how
	// they are known: "policy" ([[rotate.keys]]) or "journal" (an earlier
	// replacement atomyx-guard delivered).
	Sinks      []string `json:"sinks,omitempty"`
	SinkSource string   `json:"sink_source,omitempty"`
	RevokeOld  string   `json:"revoke_old,omitempty"`
	Action     string   `json:"action"`
	// Result is what --apply did: done, unchanged, failed, skipped.
	Result string `json:"result,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Replacement is the redacted replacement and its key id.
	Replacement   string `json:"replacement,omitempty"`
	ReplacementID string `json:"replacement_id,omitempty"`
	Issue         string `json:"issue,omitempty"`

	sinks   []ghapi.SecretTarget
	grace   time.Duration
	created time.Time
}

// Plan is an inventory and its decisions.
type Plan struct {
	Org         string    `json:"org"`
	GeneratedAt time.Time `json:"generated_at"`
	Applied     bool      `json:"applied"`
	Items       []Item    `json:"keys"`
}

// Count returns how many items have the action.
func (p *Plan) Count(action string) int {
	n := 0
	for _, it := range p.Items {
		if it.Action == action {
			n++
		}
	}
	return n
}

// CountUnused returns how many keys are unused.
func (p *Plan) CountUnused() int {
	n := 0
	for _, it := range p.Items {
		if it.Unused {
			n++
		}
	}
	return n
}

// Options configure a Rotator.
type Options struct {
	Org    string
	Policy config.RotatePolicy
	Vault  Vault
	// GitHub may be nil for a plan.
	GitHub GitHub
	// Journal is the responder's journal: where earlier replacements
	// were delivered, and the rotations' own records. May be nil for a
	// plan (no history known).
	Journal *journal.Journal
	// IssueRepo is OWNER/NAME of the due keys' issues.
	IssueRepo string
	Labels    []string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logf, when set, is told each step (never a whole key).
	Logf func(format string, args ...any)
	// Team and Environment narrow the inventory.
	Team, Environment string
}

// Rotator plans and applies scheduled rotations.
type Rotator struct {
	o Options
}

// New checks o and returns a Rotator.
func New(o Options) (*Rotator, error) {
	if o.Org == "" {
		return nil, fmt.Errorf("rotate: an owner org is required")
	}
	if o.Vault == nil {
		return nil, fmt.Errorf("rotate: no Vault client")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Environment != "" {
		e, err := patterns.ParseEnvironment(o.Environment)
		if err != nil {
			return nil, fmt.Errorf("rotate: environment: %w", err)
		}
		o.Environment = string(e)
	}
	if o.Policy.MaxAge == 0 {
		return nil, fmt.Errorf("rotate: the policy has no max_age")
	}
	return &Rotator{o: o}, nil
}

// history is what the journal says about keys: where each key's
// replacement was delivered, and the rotations under way.
type history struct {
	sinks     map[string][]ghapi.SecretTarget // key id → sinks it was delivered to
	rotations map[string]journal.Rotation     // old key id → its rotation
}

func (r *Rotator) history() (history, error) {
	h := history{sinks: map[string][]ghapi.SecretTarget{}, rotations: map[string]journal.Rotation{}}
	if r.o.Journal == nil {
		return h, nil
	}
	incidents, err := r.o.Journal.List()
	if err != nil {
		return h, err
	}
	for _, in := range incidents {
		if in.Reissued == nil {
			continue
		}
		for _, s := range in.Sinks {
			if _, ok := in.Delivered[s.String()]; ok {
				h.sinks[in.Reissued.KeyID] = appendSink(h.sinks[in.Reissued.KeyID], s)
			}
		}
	}
	rots, err := r.o.Journal.Rotations()
	if err != nil {
		return h, err
	}
	for _, rot := range rots {
		h.rotations[rot.KeyID] = rot
		if rot.Reissued == nil {
			continue
		}
		for _, s := range rot.Sinks {
			if _, ok := rot.Delivered[s.String()]; ok {
				h.sinks[rot.Reissued.KeyID] = appendSink(h.sinks[rot.Reissued.KeyID], s)
			}
		}
	}
	return h, nil
}

func appendSink(ss []ghapi.SecretTarget, s ghapi.SecretTarget) []ghapi.SecretTarget {
	if slices.Contains(ss, s) {
		return ss
	}
	return append(ss, s)
}

// Plan lists the org's active keys and decides, for each, what the policy
// asks. It changes nothing.
func (r *Rotator) Plan(ctx context.Context, revokeUnused bool) (*Plan, error) {
	now := r.o.Now().UTC()
	h, err := r.history()
	if err != nil {
		return nil, err
	}
	p := &Plan{Org: r.o.Org, GeneratedAt: now}
	q := vault.ListQuery{Org: r.o.Org, Team: r.o.Team, Environment: r.o.Environment, Status: vault.StatusActive, PageSize: vault.MaxPageSize}
	for k, err := range r.o.Vault.Keys(ctx, q) {
		if err != nil {
			return nil, fmt.Errorf("inventory of %s: %w", r.o.Org, err)
		}
		p.Items = append(p.Items, r.decide(k, now, h, revokeUnused))
	}
	// Rotations whose old key no longer lists as active still want their
	// end recorded.
	listed := map[string]bool{}
	for _, it := range p.Items {
		listed[it.KeyID] = true
	}
	for id, rot := range h.rotations {
		if listed[id] || rot.Reissued == nil || !rot.RevokedAt.IsZero() || rot.Owner == nil || rot.Owner.Org != r.o.Org ||
			(r.o.Team != "" && rot.Owner.Team != r.o.Team) || (r.o.Environment != "" && rot.Environment != r.o.Environment) {
			continue
		}
		it := Item{KeyID: id, Environment: rot.Environment, Owner: rot.Owner, CreatedAt: rot.CreatedAt,
			State: StateRotated, Action: ActionWait, RevokeOld: rot.RevokeOld, sinks: rot.Sinks}
		for _, s := range rot.Sinks {
			it.Sinks = append(it.Sinks, s.String())
		}
		if !rot.Replaced() || rot.RevokeOld == string(vault.Immediately) {
			// Half done when the old key ended (its grace ran out while a
			// sink failed): finish delivering and verifying.
			it.Action, it.Detail = ActionRotate, "resume: reissued "+rot.Reissued.Redacted
		}
		p.Items = append(p.Items, it)
	}
	slices.SortFunc(p.Items, func(a, b Item) int {
		if c := b.AgeDays - a.AgeDays; c != 0 {
			return c
		}
		return strings.Compare(a.KeyID, b.KeyID)
	})
	return p, nil
}

func (r *Rotator) decide(k vault.ListedKey, now time.Time, h history, revokeUnused bool) Item {
	lim := r.o.Policy.Limits(k.Environment)
	it := Item{KeyID: k.KeyID, Environment: k.Environment, Owner: k.Owner, Products: k.Products,
		CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, MaxAge: config.FormatAge(lim.MaxAge),
		State: StateOK, Action: ActionNone}
	created, err := time.Parse(time.RFC3339, k.CreatedAt)
	if err != nil {
		// No age known: treat as due, so that it is looked at.
		it.State, it.Detail = StateDue, "the Vault gave no creation time"
		created = time.Time{}
	} else {
		it.created = created
		age := now.Sub(created)
		it.AgeDays = int(age / config.Day)
		due := created.Add(lim.MaxAge)
		it.DueAt = due.Format(time.RFC3339)
		switch {
		case !now.Before(due):
			it.State = StateDue
		case !now.Before(due.Add(-lim.WarnBefore)):
			it.State = StateWarn
		}
	}
	if lim.UnusedAfter > 0 {
		last := created
		if t, err := time.Parse(time.RFC3339, k.LastUsedAt); err == nil && t.After(last) {
			last = t
		}
		if !last.IsZero() && now.Sub(last) >= lim.UnusedAfter {
			it.Unused, it.UnusedDays = true, int(now.Sub(last)/config.Day)
		}
	}
	team := ""
	if k.Owner != nil {
		team = k.Owner.Team
	}
	it.grace = config.DefaultRotateGrace
	it.RevokeOld = config.DefaultRotateGrace.String()
	if pk, ok := r.o.Policy.Key(k.KeyID, team, k.Environment); ok {
		for _, s := range pk.Deliver {
			it.sinks = append(it.sinks, ghapi.SecretTarget{Kind: s.Kind, Owner: s.Owner, Repo: s.Repo, Env: s.Env, Org: s.Org, Name: s.Name})
		}
		it.SinkSource, it.grace, it.RevokeOld = "policy", pk.Grace, pk.RevokeOld
	} else if ss := h.sinks[k.KeyID]; len(ss) > 0 {
		it.sinks, it.SinkSource = slices.Clone(ss), "journal"
	}
	for _, s := range it.sinks {
		it.Sinks = append(it.Sinks, s.String())
	}
	rot, rotating := h.rotations[k.KeyID]
	switch {
	case rotating && rot.Replaced() && (rot.RevokeOld != string(vault.Immediately) || !rot.RevokedAt.IsZero()):
		// Rotated already; the old key waits for the end of its grace.
		it.Action, it.Sinks, it.sinks = ActionWait, nil, rot.Sinks
		for _, s := range rot.Sinks {
			it.Sinks = append(it.Sinks, s.String())
		}
		it.ReplacementID, it.Replacement = rot.Reissued.KeyID, rot.Reissued.Redacted
		it.RevokeOld = rot.RevokeOld
		if rot.Reissued.OldKeyExpiresAt != "" {
			it.Detail = "the old key works until " + rot.Reissued.OldKeyExpiresAt
		}
	case rotating && rot.Reissued != nil:
		// Half done: resume with what the journal recorded.
		it.Action, it.sinks, it.RevokeOld = ActionRotate, rot.Sinks, rot.RevokeOld
		it.Sinks = nil
		for _, s := range rot.Sinks {
			it.Sinks = append(it.Sinks, s.String())
		}
		it.Detail = "resume: reissued " + rot.Reissued.Redacted
	case it.Unused && revokeUnused:
		it.Action = ActionRevokeUnused
	case it.State == StateDue && len(it.sinks) > 0:
		it.Action = ActionRotate
	case it.State == StateDue:
		it.Action = ActionReport
	case it.Unused:
		it.Action = ActionRevokeUnused
	}
	return it
}
