package responder

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/atomyx/atomyx-guard/responder/journal"
)

// issueFooter ends every issue body; an incident file says it of itself.
const issueFooter = "This issue never shows a whole key. atomyx-guard updates it when it finds the key in more places.\n"

// whyNoIssue says why this run cannot open an issue.
func (r *Responder) whyNoIssue() string {
	if r.cfg.GitHub == nil {
		return "GITHUB_TOKEN is not set"
	}
	return "no issue repository: issue_repo or GITHUB_REPOSITORY"
}

// incidentPath is where an incident's file is (or goes): the journaled
// path once written, so that a rerun rewrites the same file whatever its
// --incident-dir.
func (r *Responder) incidentPath(in journal.Incident) string {
	if in.IncidentFile != "" {
		return in.IncidentFile
	}
	return filepath.Join(r.cfg.IncidentDir, in.ID+".md")
}

// incidentText is what the issue would have said, with a banner saying no
// issue was opened. It depends only on the journal, so that a rerun after
// a crash writes the same bytes.
func (r *Responder) incidentText(in journal.Incident) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", r.title(in))
	fmt.Fprintf(&b, "> **No GitHub issue was opened** (%s). This file is what the issue would have said: "+
		"tell the key's owner. A later `atomyx-guard` run with a GitHub token and an issue repository opens the issue once.\n\n", r.whyNoIssue())
	body := r.body(in)
	body = strings.Replace(body, issueFooter, "This file never shows a whole key. atomyx-guard rewrites it when it finds the key in more places.\n", 1)
	b.WriteString(body)
	return b.String()
}

// fileIncident writes the incident file in place of the issue and commits
// step with its path. Writing is repeatable: the same path, replaced whole.
func (r *Responder) fileIncident(in journal.Incident, step journal.Step) (journal.Incident, error) {
	path := r.incidentPath(in)
	if err := writePrivateFile(path, []byte(r.incidentText(in))); err != nil {
		return in, fmt.Errorf("incident file: %w", err)
	}
	locs := in.Locations
	in, err := r.cfg.Journal.Update(in.Fingerprint, step, func(cur *journal.Incident) error {
		cur.IncidentFile = path
		cur.FiledAt = r.now().UTC()
		cur.Locations = locs
		return nil
	})
	if err != nil {
		return in, err
	}
	r.logf(in, "warning: no GitHub issue was opened (%s): the incident is written to %s", r.whyNoIssue(), path)
	return in, nil
}

// writePrivateFile replaces path whole with data, mode 0600 in a
// directory created 0700: a crash leaves the old file or the new one.
func writePrivateFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".incident-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(data)
	if err := errors.Join(werr, tmp.Chmod(0o600), tmp.Sync(), tmp.Close()); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
