package serve

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
)

// MaxBody bounds a delivery's body: GitHub caps payloads at 25 MB.
const MaxBody = 25 << 20

// SignatureHeader is where GitHub puts the HMAC-SHA256 of the body.
const SignatureHeader = "X-Hub-Signature-256"

// Sign is the X-Hub-Signature-256 value of body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// ValidSignature checks header against body in constant time. Only
// sha256 is accepted: GitHub's older X-Hub-Signature (sha1) is not a
// fallback, and an empty secret never validates anything.
func ValidSignature(secret, body []byte, header string) bool {
	if len(secret) == 0 || !strings.HasPrefix(header, "sha256=") {
		return false
	}
	return hmac.Equal([]byte(header), []byte(Sign(secret, body)))
}

// deliveryID is what GitHub sends as X-GitHub-Delivery (a GUID); anything
// else is refused before it becomes a database key or a log field.
var deliveryID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9-]{1,100}$`) })

// ValidDeliveryID reports whether id looks like a GitHub delivery id.
func ValidDeliveryID(id string) bool { return deliveryID().MatchString(id) }

// safePart is what GitHub allows in owner and repository names.
var safePart = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`) })

// ValidRepoName reports whether full is OWNER/NAME with parts GitHub
// allows, none of them "." or "..": it becomes a path in the cache.
func ValidRepoName(full string) bool {
	owner, name, ok := strings.Cut(full, "/")
	return ok && safePart().MatchString(owner) && safePart().MatchString(name) &&
		!strings.HasPrefix(owner, ".") && !strings.HasPrefix(name, ".")
}

func validSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// payload is the part of a push, pull_request or repository delivery the
// service reads.
type payload struct {
	Action  string `json:"action"`
	Ref     string `json:"ref"`
	Before  string `json:"before"`
	After   string `json:"after"`
	Deleted bool   `json:"deleted"`

	Repository *struct {
		FullName      string `json:"full_name"`
		CloneURL      string `json:"clone_url"`
		DefaultBranch string `json:"default_branch"`
		Private       bool   `json:"private"`
	} `json:"repository"`

	// Installation is the GitHub App installation the delivery is for
	// (absent for an organisation webhook).
	Installation *struct {
		ID int64 `json:"id"`
	} `json:"installation"`

	PullRequest *struct {
		Number int `json:"number"`
		Base   struct {
			SHA string `json:"sha"`
		} `json:"base"`
		Head struct {
			SHA string `json:"sha"`
		} `json:"head"`
	} `json:"pull_request"`
}

// errIgnored says a well-formed delivery asks for nothing.
var errIgnored = errors.New("ignored")

// ParseDelivery turns a verified delivery's body into a job. It returns
// errIgnored (test with IsIgnored) for events and actions the service does
// not act on, and an error for a payload it cannot trust (a missing
// repository, a malformed commit id or name). Only call it on a body whose
// signature was checked.
func ParseDelivery(event string, body []byte) (Job, error) {
	var kind string
	switch event {
	case "push":
		kind = KindPush
	case "pull_request":
		kind = KindPullRequest
	case "repository":
		kind = KindRepository
	default:
		return Job{}, errIgnored
	}
	var p payload
	if err := json.Unmarshal(body, &p); err != nil {
		return Job{}, fmt.Errorf("payload: %w", err)
	}
	r := p.Repository
	if r == nil {
		return Job{}, errors.New("payload: no repository")
	}
	if !ValidRepoName(r.FullName) {
		return Job{}, errors.New("payload: repository.full_name is not OWNER/NAME")
	}
	u, err := url.Parse(r.CloneURL)
	if err != nil || u.Host == "" || u.User != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return Job{}, errors.New("payload: repository.clone_url is not an http(s) URL without credentials")
	}
	if r.DefaultBranch != "" && (strings.HasPrefix(r.DefaultBranch, "-") || strings.ContainsAny(r.DefaultBranch, " \t\n\x00:~^?*[\\")) {
		return Job{}, errors.New("payload: repository.default_branch is not a branch name")
	}
	j := Job{Kind: kind, Repo: r.FullName, CloneURL: r.CloneURL, DefaultBranch: r.DefaultBranch, Private: r.Private}
	if p.Installation != nil {
		if p.Installation.ID < 0 {
			return Job{}, errors.New("payload: installation.id is negative")
		}
		j.Installation = p.Installation.ID
	}
	check := func(name, v string, required bool) error {
		if v == "" && !required {
			return nil
		}
		if !validSHA(v) {
			return fmt.Errorf("payload: %s is not a commit id", name)
		}
		return nil
	}
	switch kind {
	case KindPush:
		if err := errors.Join(check("before", p.Before, false), check("after", p.After, false)); err != nil {
			return Job{}, err
		}
		if !strings.HasPrefix(p.Ref, "refs/") {
			return Job{}, errors.New("payload: ref is not a full ref name")
		}
		j.Ref, j.Before, j.After, j.Deleted = p.Ref, p.Before, p.After, p.Deleted
	case KindPullRequest:
		if p.Action != "opened" && p.Action != "synchronize" && p.Action != "reopened" {
			return Job{}, errIgnored
		}
		pr := p.PullRequest
		if pr == nil || pr.Number < 1 {
			return Job{}, errors.New("payload: no pull_request")
		}
		if err := errors.Join(check("pull_request.base.sha", pr.Base.SHA, true), check("pull_request.head.sha", pr.Head.SHA, true)); err != nil {
			return Job{}, err
		}
		j.Number, j.Base, j.Head = pr.Number, pr.Base.SHA, pr.Head.SHA
	case KindRepository:
		switch p.Action {
		case "created":
		case "publicized":
			j.Publicized, j.Private = true, false
		default:
			return Job{}, errIgnored
		}
	}
	return j, nil
}

// IsIgnored reports whether ParseDelivery's error means "nothing to do".
func IsIgnored(err error) bool { return errors.Is(err, errIgnored) }
