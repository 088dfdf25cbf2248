package ghapi

import (
	"context"
	"fmt"

	"github.com/google/go-github/v60/github"
)

// EditIssueBody replaces an issue's body. Scheduled rotation keeps one
// issue per due key current (its age grows) by rewriting it, which is
// idempotent where a comment per run would pile up.
func (c *Client) EditIssueBody(ctx context.Context, repo Repo, number int, body string) error {
	_, _, err := c.gh.Issues.Edit(ctx, repo.Owner, repo.Name, number, &github.IssueRequest{Body: &body})
	return classify(fmt.Sprintf("edit %s#%d", repo, number), needsIssuesWrite, err)
}
