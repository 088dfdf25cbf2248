package ghapi

import (
	"context"
	"fmt"

	"github.com/google/go-github/v60/github"
)

// Issue is the part of a GitHub issue the responder reads.
type Issue struct {
	Number int
	Title  string
	Body   string
	State  string // "open" or "closed"
	URL    string
	Labels []string
}

func fromIssue(i *github.Issue) Issue {
	out := Issue{Number: i.GetNumber(), Title: i.GetTitle(), Body: i.GetBody(), State: i.GetState(), URL: i.GetHTMLURL()}
	for _, l := range i.Labels {
		out.Labels = append(out.Labels, l.GetName())
	}
	return out
}

const (
	needsIssuesRead  = "Issues: read"
	needsIssuesWrite = "Issues: write"
)

// ListIssues returns every issue (open and closed, all pages) of repo that
// carries label, oldest first. Pull requests are left out. It lists rather
// than searches: GitHub's search index lags, a list does not.
func (c *Client) ListIssues(ctx context.Context, repo Repo, label string) ([]Issue, error) {
	opts := &github.IssueListByRepoOptions{
		State: "all", Sort: "created", Direction: "asc",
		ListOptions: github.ListOptions{PerPage: 100},
	}
	if label != "" {
		opts.Labels = []string{label}
	}
	var out []Issue
	for {
		page, resp, err := c.gh.Issues.ListByRepo(ctx, repo.Owner, repo.Name, opts)
		if err != nil {
			return nil, classify("list issues of "+repo.String(), needsIssuesRead, err)
		}
		for _, i := range page {
			if i.IsPullRequest() {
				continue
			}
			out = append(out, fromIssue(i))
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// CreateIssue opens an issue. GitHub creates labels that do not exist yet.
func (c *Client) CreateIssue(ctx context.Context, repo Repo, title, body string, labels []string) (Issue, error) {
	req := &github.IssueRequest{Title: &title, Body: &body}
	if len(labels) > 0 {
		req.Labels = &labels
	}
	i, _, err := c.gh.Issues.Create(ctx, repo.Owner, repo.Name, req)
	if err != nil {
		return Issue{}, classify("create issue in "+repo.String(), needsIssuesWrite, err)
	}
	return fromIssue(i), nil
}

// Comments returns the bodies of every comment on an issue, oldest first.
func (c *Client) Comments(ctx context.Context, repo Repo, number int) ([]string, error) {
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	var out []string
	for {
		page, resp, err := c.gh.Issues.ListComments(ctx, repo.Owner, repo.Name, number, opts)
		if err != nil {
			return nil, classify(fmt.Sprintf("list comments of %s#%d", repo, number), needsIssuesRead, err)
		}
		for _, cm := range page {
			out = append(out, cm.GetBody())
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// Comment adds a comment to an issue.
func (c *Client) Comment(ctx context.Context, repo Repo, number int, body string) error {
	_, _, err := c.gh.Issues.CreateComment(ctx, repo.Owner, repo.Name, number, &github.IssueComment{Body: &body})
	return classify(fmt.Sprintf("comment on %s#%d", repo, number), needsIssuesWrite, err)
}

// CloseIssue closes an issue; reason is "completed" or "not_planned".
func (c *Client) CloseIssue(ctx context.Context, repo Repo, number int, reason string) error {
	state := "closed"
	req := &github.IssueRequest{State: &state}
	if reason != "" {
		req.StateReason = &reason
	}
	_, _, err := c.gh.Issues.Edit(ctx, repo.Owner, repo.Name, number, req)
	return classify(fmt.Sprintf("close %s#%d", repo, number), needsIssuesWrite, err)
}

// Visibility is what GitHub says of a repository.
type Visibility struct {
	ID      int64
	Private bool // private or internal
}

// RepoVisibility looks a repository up.
func (c *Client) RepoVisibility(ctx context.Context, repo Repo) (Visibility, error) {
	r, _, err := c.gh.Repositories.Get(ctx, repo.Owner, repo.Name)
	if err != nil {
		return Visibility{}, classify("get repository "+repo.String(), "Metadata: read", err)
	}
	private := r.GetPrivate() || r.GetVisibility() == "private" || r.GetVisibility() == "internal"
	return Visibility{ID: r.GetID(), Private: private}, nil
}
