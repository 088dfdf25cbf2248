package ghaction

import (
	"encoding/json"
	"fmt"
	"strings"
)

// MaxEventSize bounds the event payload read from GITHUB_EVENT_PATH.
const MaxEventSize = 64 << 20

// Event is the part of a workflow event payload the action reads.
type Event struct {
	Before  string `json:"before"`
	After   string `json:"after"`
	Ref     string `json:"ref"`
	Created bool   `json:"created"`
	Deleted bool   `json:"deleted"`
	Forced  bool   `json:"forced"`

	Repository *struct {
		FullName      string `json:"full_name"`
		DefaultBranch string `json:"default_branch"`
	} `json:"repository"`

	PullRequest *struct {
		Number int `json:"number"`
		Base   struct {
			SHA  string    `json:"sha"`
			Ref  string    `json:"ref"`
			Repo *repoInfo `json:"repo"`
		} `json:"base"`
		Head struct {
			SHA  string    `json:"sha"`
			Ref  string    `json:"ref"`
			Repo *repoInfo `json:"repo"`
		} `json:"head"`
	} `json:"pull_request"`

	MergeGroup *struct {
		BaseSHA string `json:"base_sha"`
		HeadSHA string `json:"head_sha"`
	} `json:"merge_group"`
}

type repoInfo struct {
	FullName string `json:"full_name"`
	Fork     bool   `json:"fork"`
}

// ParseEvent decodes an event payload. Commit ids it will use are checked
// for form (40 or 64 hex digits); anything it does not read is ignored.
func ParseEvent(data []byte) (*Event, error) {
	if len(data) > MaxEventSize {
		return nil, fmt.Errorf("event payload larger than %d MiB", MaxEventSize>>20)
	}
	var e Event
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("event payload: %w", err)
	}
	check := func(name, v string) error {
		if v != "" && !validSHA(v) {
			return fmt.Errorf("event payload: %s is not a commit id", name)
		}
		return nil
	}
	errs := []error{check("before", e.Before), check("after", e.After)}
	if pr := e.PullRequest; pr != nil {
		errs = append(errs, check("pull_request.base.sha", pr.Base.SHA), check("pull_request.head.sha", pr.Head.SHA))
	}
	if mg := e.MergeGroup; mg != nil {
		errs = append(errs, check("merge_group.base_sha", mg.BaseSHA), check("merge_group.head_sha", mg.HeadSHA))
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return &e, nil
}

// IsFork reports whether the event is a pull request from another
// repository, whose runs get no secrets.
func (e *Event) IsFork() bool {
	pr := e.PullRequest
	if pr == nil || pr.Head.Repo == nil {
		return false
	}
	if pr.Base.Repo != nil && pr.Head.Repo.FullName != "" {
		return !strings.EqualFold(pr.Head.Repo.FullName, pr.Base.Repo.FullName)
	}
	return pr.Head.Repo.Fork
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

func isZeroSHA(s string) bool { return s != "" && strings.Trim(s, "0") == "" }
