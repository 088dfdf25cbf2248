package ghaction

import (
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// Scope is what a run scans.
type Scope struct {
	// Base..Head is the range.
	Base, Head string
	// All scans everything in the repository (every ref, every object).
	All bool
	// Empty means there is nothing to scan (base equals head, a deleted
	// branch): the run passes cleanly.
	Empty bool
	// Describe says in words what is scanned and why.
	Describe string
	// Notes are warnings for the log and the summary (fallbacks taken).
	Notes []string
	// Partial is set when the checkout is shallow: what is there is
	// scanned, but history is missing.
	Partial bool
	// Untrusted is set when the checkout is the change being gated (pull
	// requests, merge queues): see Request.Untrusted.
	Untrusted bool
}

// ShallowAdvice is the error shown when a shallow checkout hides commits.
const ShallowAdvice = "The checkout is shallow: history is missing, so only what the checkout holds was scanned. " +
	"Check out with full history: actions/checkout with 'fetch-depth: 0'."

// Plan decides the scope of a run from the event and the checkout at dir.
func Plan(dir, eventName string, ev *Event) (Scope, error) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		return Scope{}, fmt.Errorf("open repository at %s: %w", dir, err)
	}
	shallow, err := repo.Storer.Shallow()
	if err != nil {
		return Scope{}, fmt.Errorf("read the shallow list: %w", err)
	}
	p := planner{repo: repo}
	sc, err := p.plan(eventName, ev)
	switch eventName {
	case "pull_request", "pull_request_target", "merge_group":
		sc.Untrusted = true
	}
	if len(shallow) == 0 || sc.Empty {
		return sc, err
	}
	// Shallow: never half-scan in silence. Scan what is there, marked
	// partial; a range whose commits are missing becomes everything.
	if err != nil {
		sc = Scope{All: true, Describe: fmt.Sprintf("%s: everything the shallow checkout holds", subject(eventName, ev)),
			Notes: []string{err.Error()}, Untrusted: sc.Untrusted}
	}
	sc.Partial = true
	return sc, nil
}

// subject names what the event is about in a scope line: the pull
// request by number, the pushed ref, or the event.
func subject(eventName string, ev *Event) string {
	switch {
	case ev == nil:
	case (eventName == "pull_request" || eventName == "pull_request_target") && ev.PullRequest != nil:
		return fmt.Sprintf("pull request #%d", ev.PullRequest.Number)
	case eventName == "push" && ev.Ref != "":
		return "push to " + ev.Ref
	case eventName == "merge_group":
		return "merge queue"
	}
	return eventName
}

// ShallowAdviceFor is ShallowAdvice for one event: exactly what fixes the
// checkout of that workflow. A pull_request_target job checks out the base
// branch unless told otherwise, so it needs the head commit too; every
// other event needs only the full history.
func ShallowAdviceFor(eventName string, ev *Event) string {
	fix := "add 'fetch-depth: 0' to its actions/checkout step"
	switch eventName {
	case "pull_request":
		fix = "add 'fetch-depth: 0' to its actions/checkout step; that is all a pull_request run needs"
	case "pull_request_target":
		fix = "give its actions/checkout step 'ref: ${{ github.event.pull_request.head.sha }}' and 'fetch-depth: 0'"
	}
	return fmt.Sprintf("The checkout is shallow: history is missing, so only what the checkout holds was scanned (%s). To scan all of it, %s.",
		subject(eventName, ev), fix)
}

type planner struct {
	repo *git.Repository
}

// has reports whether the object store holds sha. It asks the pack index
// only: decoding an object through go-git first maps every offset of the
// pack, seconds in a large repository.
func (p *planner) has(sha string) bool {
	return p.repo.Storer.HasEncodedObject(plumbing.NewHash(sha)) == nil
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// rangeScope is base..head, with head required and a missing base
// falling back to everything.
func (p *planner) rangeScope(what, base, head string) (Scope, error) {
	if base == "" || head == "" {
		return Scope{}, fmt.Errorf("%s: the event names no base or head commit", what)
	}
	if base == head {
		return Scope{Empty: true, Describe: fmt.Sprintf("%s: base and head are both %s, nothing to scan", what, short(head))}, nil
	}
	if !p.has(head) {
		return Scope{}, fmt.Errorf("%s: head commit %s is not in the checkout; check it out with actions/checkout "+
			"(ref: the head commit, fetch-depth: 0)", what, short(head))
	}
	if !p.has(base) {
		return Scope{All: true,
			Describe: fmt.Sprintf("%s: every commit and object in the repository", what),
			Notes: []string{fmt.Sprintf("Base commit %s is not in the checkout, so everything was scanned instead of %s..%s.",
				short(base), short(base), short(head))},
		}, nil
	}
	return Scope{Base: base, Head: head, Describe: fmt.Sprintf("%s: commits %s..%s", what, short(base), short(head))}, nil
}

func (p *planner) plan(eventName string, ev *Event) (Scope, error) {
	switch eventName {
	case "pull_request", "pull_request_target":
		if ev.PullRequest == nil {
			return Scope{}, fmt.Errorf("%s event without a pull_request payload", eventName)
		}
		pr := ev.PullRequest
		return p.rangeScope(fmt.Sprintf("pull request #%d", pr.Number), pr.Base.SHA, pr.Head.SHA)
	case "merge_group":
		if ev.MergeGroup == nil {
			return Scope{}, errors.New("merge_group event without a merge_group payload")
		}
		return p.rangeScope("merge queue", ev.MergeGroup.BaseSHA, ev.MergeGroup.HeadSHA)
	case "push":
		return p.push(ev)
	}
	return Scope{All: true, Describe: fmt.Sprintf("%s: every commit and object in the repository", eventName)}, nil
}

func (p *planner) push(ev *Event) (Scope, error) {
	what := "push to " + ev.Ref
	switch {
	case ev.After == "" || ev.Deleted || isZeroSHA(ev.After):
		return Scope{Empty: true, Describe: what + ": the ref was deleted, nothing to scan"}, nil
	case ev.Before == ev.After:
		return Scope{Empty: true, Describe: fmt.Sprintf("%s: before and after are both %s, nothing to scan", what, short(ev.After))}, nil
	case !p.has(ev.After):
		return Scope{}, fmt.Errorf("%s: pushed commit %s is not in the checkout", what, short(ev.After))
	case ev.Before != "" && !isZeroSHA(ev.Before) && p.has(ev.Before):
		return Scope{Base: ev.Before, Head: ev.After, Describe: fmt.Sprintf("%s: commits %s..%s", what, short(ev.Before), short(ev.After))}, nil
	}
	sc := p.newRef(what, ev)
	if ev.Before != "" && !isZeroSHA(ev.Before) {
		sc.Notes = append(sc.Notes, fmt.Sprintf("The commit before the push, %s, is not in the checkout (a force-push?): scanned %s instead.",
			short(ev.Before), sc.Describe))
	}
	return sc, nil
}

// newRef scopes a push that created a ref (or whose before is gone): what
// the default branch does not hold, or everything.
func (p *planner) newRef(what string, ev *Event) Scope {
	after := ev.After
	if ev.Repository != nil && ev.Repository.DefaultBranch != "" && ev.Ref != "refs/heads/"+ev.Repository.DefaultBranch {
		def := ev.Repository.DefaultBranch
		for _, name := range []string{"refs/remotes/origin/" + def, "refs/heads/" + def} {
			ref, err := p.repo.Reference(plumbing.ReferenceName(name), true)
			if err != nil {
				continue
			}
			base := ref.Hash().String()
			if base == after {
				return Scope{Empty: true, Describe: fmt.Sprintf("%s: %s holds nothing the default branch does not", what, short(after))}
			}
			return Scope{Base: base, Head: after,
				Describe: fmt.Sprintf("%s: commits of %s not on the default branch (%s..%s)", what, short(after), plumbing.ReferenceName(name).Short(), short(after))}
		}
	}
	return Scope{All: true, Describe: fmt.Sprintf("%s: every commit and object in the repository", what)}
}
