package ghfake

import (
	"cmp"
	"net/http"
	"slices"
)

// UpdateRepo changes a repository under the server's lock (fork,
// archived, clone_url, default branch...). It reports whether the
// repository ("owner/name") exists.
func (s *Server) UpdateRepo(fullName string, f func(*Repo)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[fullName]
	if r == nil {
		return false
	}
	f(r)
	return true
}

func cloneURL(rp *Repo) string {
	return cmp.Or(rp.CloneURL, "https://github.com/"+rp.Owner+"/"+rp.Name+".git")
}

// listOrgRepos answers GET /orgs/{org}/repos: the repositories whose owner
// is the organisation, filtered by type (all, public, private, forks,
// sources; member is taken as all), sorted by sort (created, the default,
// updated, pushed: creation order here; full_name) and direction
// (default asc for full_name, else desc, as GitHub does), paginated. An
// organisation that neither AddOrg made nor owns a repository is a 404.
func (s *Server) listOrgRepos(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	org := r.PathValue("org")
	q := r.URL.Query()
	typ := cmp.Or(q.Get("type"), "all")
	var sel []*Repo
	known := s.orgs[org] != nil
	for _, rp := range s.repos {
		if rp.Owner != org {
			continue
		}
		known = true
		switch typ {
		case "public":
			if rp.Private {
				continue
			}
		case "private":
			if !rp.Private {
				continue
			}
		case "forks":
			if !rp.Fork {
				continue
			}
		case "sources":
			if rp.Fork {
				continue
			}
		}
		sel = append(sel, rp)
	}
	if !known {
		notFound(w)
		return
	}
	byName := q.Get("sort") == "full_name"
	slices.SortFunc(sel, func(a, b *Repo) int {
		if byName {
			return cmp.Compare(a.Owner+"/"+a.Name, b.Owner+"/"+b.Name)
		}
		return cmp.Compare(a.ID, b.ID)
	})
	dir := q.Get("direction")
	if dir == "desc" || dir == "" && !byName {
		slices.Reverse(sel)
	}
	page := paginate(w, r, sel)
	out := make([]map[string]any, len(page))
	for i, rp := range page {
		out[i] = repoJSON(rp)
	}
	writeJSON(w, http.StatusOK, out)
}
