package ghfake

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /repos/{owner}/{repo}", s.getRepo)
	m.HandleFunc("GET /repos/{owner}/{repo}/issues", s.listIssues)
	m.HandleFunc("POST /repos/{owner}/{repo}/issues", s.createIssue)
	m.HandleFunc("PATCH /repos/{owner}/{repo}/issues/{number}", s.editIssue)
	m.HandleFunc("GET /repos/{owner}/{repo}/issues/{number}/comments", s.listComments)
	m.HandleFunc("POST /repos/{owner}/{repo}/issues/{number}/comments", s.createComment)
	m.HandleFunc("GET /repos/{owner}/{repo}/actions/secrets/public-key", s.inStore(s.repoStore, publicKey))
	m.HandleFunc("PUT /repos/{owner}/{repo}/actions/secrets/{name}", s.inStore(s.repoStore, putSecret))
	m.HandleFunc("GET /repositories/{id}/environments/{env}/secrets/public-key", s.inStore(s.envStore, publicKey))
	m.HandleFunc("PUT /repositories/{id}/environments/{env}/secrets/{name}", s.inStore(s.envStore, putSecret))
	m.HandleFunc("GET /orgs/{org}/actions/secrets/public-key", s.inStore(s.orgStore, publicKey))
	m.HandleFunc("PUT /orgs/{org}/actions/secrets/{name}", s.inStore(s.orgStore, putSecret))
	m.HandleFunc("GET /orgs/{org}/repos", s.listOrgRepos) // orgrepos.go
}

// repo finds the path's repository; the caller holds s.mu.
func (s *Server) repo(r *http.Request) *Repo {
	return s.repos[r.PathValue("owner")+"/"+r.PathValue("repo")]
}

func (s *Server) getRepo(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repo(r)
	if rp == nil {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, repoJSON(rp))
}

func repoJSON(rp *Repo) map[string]any {
	vis := "public"
	if rp.Private {
		vis = "private"
	}
	return map[string]any{
		"id": rp.ID, "name": rp.Name, "full_name": rp.Owner + "/" + rp.Name,
		"private": rp.Private, "visibility": vis, "default_branch": rp.DefaultBranch,
		"owner": map[string]any{"login": rp.Owner},
		"fork":  rp.Fork, "archived": rp.Archived, "clone_url": cloneURL(rp),
	}
}

func (s *Server) issueJSON(r *http.Request, rp *Repo, is *Issue) map[string]any {
	labels := make([]map[string]string, len(is.Labels))
	for i, l := range is.Labels {
		labels[i] = map[string]string{"name": l}
	}
	m := map[string]any{
		"number": is.Number, "title": is.Title, "body": is.Body, "state": is.State,
		"labels": labels, "comments": len(is.Comments),
		"html_url":   fmt.Sprintf("https://github.com/%s/%s/issues/%d", rp.Owner, rp.Name, is.Number),
		"created_at": is.CreatedAt.UTC().Format(time.RFC3339),
	}
	if is.StateReason != "" {
		m["state_reason"] = is.StateReason
	}
	return m
}

func (s *Server) listIssues(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repo(r)
	if rp == nil {
		notFound(w)
		return
	}
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	var want []string
	if l := q.Get("labels"); l != "" {
		want = strings.Split(l, ",")
	}
	var sel []*Issue
	for _, is := range rp.issues {
		if state != "all" && is.State != state {
			continue
		}
		ok := true
		for _, l := range want {
			ok = ok && slices.Contains(is.Labels, l)
		}
		if ok {
			sel = append(sel, is)
		}
	}
	if q.Get("direction") != "asc" { // GitHub's default is newest first
		slices.Reverse(sel)
	}
	page := paginate(w, r, sel)
	out := make([]map[string]any, len(page))
	for i, is := range page {
		out[i] = s.issueJSON(r, rp, is)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createIssue(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Title  string   `json:"title"`
		Body   string   `json:"body"`
		Labels []string `json:"labels"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repo(r)
	if rp == nil {
		notFound(w)
		return
	}
	if body.Title == "" {
		writeError(w, http.StatusUnprocessableEntity, "Validation Failed: title")
		return
	}
	is := &Issue{Number: len(rp.issues) + 1, Title: body.Title, Body: body.Body, State: "open", CreatedAt: time.Now()}
	for _, l := range body.Labels {
		rp.labels[l] = true // GitHub creates missing labels
		if !slices.Contains(is.Labels, l) {
			is.Labels = append(is.Labels, l)
		}
	}
	rp.issues = append(rp.issues, is)
	writeJSON(w, http.StatusCreated, s.issueJSON(r, rp, is))
}

// issue finds the path's issue; the caller holds s.mu.
func (s *Server) issue(r *http.Request) (*Repo, *Issue) {
	rp := s.repo(r)
	if rp == nil {
		return nil, nil
	}
	n, err := strconv.Atoi(r.PathValue("number"))
	if err != nil || n < 1 || n > len(rp.issues) {
		return rp, nil
	}
	return rp, rp.issues[n-1]
}

func (s *Server) editIssue(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Title       *string   `json:"title"`
		Body        *string   `json:"body"`
		State       *string   `json:"state"`
		StateReason *string   `json:"state_reason"`
		Labels      *[]string `json:"labels"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rp, is := s.issue(r)
	if is == nil {
		notFound(w)
		return
	}
	if body.Title != nil {
		is.Title = *body.Title
	}
	if body.Body != nil {
		is.Body = *body.Body
	}
	if body.State != nil {
		if *body.State != "open" && *body.State != "closed" {
			writeError(w, http.StatusUnprocessableEntity, "Validation Failed: state")
			return
		}
		is.State = *body.State
	}
	if body.StateReason != nil {
		is.StateReason = *body.StateReason
	}
	if body.Labels != nil {
		is.Labels = slices.Clone(*body.Labels)
		for _, l := range is.Labels {
			rp.labels[l] = true
		}
	}
	writeJSON(w, http.StatusOK, s.issueJSON(r, rp, is))
}

func (s *Server) listComments(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, is := s.issue(r)
	if is == nil {
		notFound(w)
		return
	}
	type comment struct {
		ID   int    `json:"id"`
		Body string `json:"body"`
	}
	all := make([]comment, len(is.Comments))
	for i, c := range is.Comments {
		all[i] = comment{ID: i + 1, Body: c}
	}
	writeJSON(w, http.StatusOK, paginate(w, r, all))
}

func (s *Server) createComment(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Body string `json:"body"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, is := s.issue(r)
	if is == nil {
		notFound(w)
		return
	}
	is.Comments = append(is.Comments, body.Body)
	writeJSON(w, http.StatusCreated, map[string]any{"id": len(is.Comments), "body": body.Body})
}

func publicKeyJSON(kp keyPair) map[string]string {
	return map[string]string{"key_id": kp.id, "key": base64.StdEncoding.EncodeToString(kp.pub[:])}
}

// repoStore, envStore and orgStore find the secret store the path names,
// or nil; the caller holds s.mu.
func (s *Server) repoStore(r *http.Request) *secretStore {
	if rp := s.repo(r); rp != nil {
		return &rp.store
	}
	return nil
}

func (s *Server) envStore(r *http.Request) *secretStore {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if rp := s.byID[id]; rp != nil && rp.envs[r.PathValue("env")] != nil {
		return &rp.envs[r.PathValue("env")].store
	}
	return nil
}

func (s *Server) orgStore(r *http.Request) *secretStore {
	if o := s.orgs[r.PathValue("org")]; o != nil {
		return &o.store
	}
	return nil
}

// inStore answers with fn on the secret store find names, under s.mu, or
// with 404 when there is none.
func (s *Server) inStore(find func(*http.Request) *secretStore, fn func(http.ResponseWriter, *http.Request, *secretStore)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		st := find(r)
		if st == nil {
			notFound(w)
			return
		}
		fn(w, r, st)
	}
}

// publicKey answers with the key that the store's secrets are sealed to.
func publicKey(w http.ResponseWriter, _ *http.Request, st *secretStore) {
	writeJSON(w, http.StatusOK, publicKeyJSON(st.keys))
}

// putSecret stores a sealed value after checking that it was sealed to
// the store's key: GitHub rejects a value it cannot open, and so does the
// fake.
func putSecret(w http.ResponseWriter, r *http.Request, st *secretStore) {
	var body struct {
		KeyID          string `json:"key_id"`
		EncryptedValue string `json:"encrypted_value"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	if body.KeyID != st.keys.id {
		writeError(w, http.StatusUnprocessableEntity, "Validation Failed: key_id")
		return
	}
	if _, ok := open(body.EncryptedValue, st.keys); !ok {
		writeError(w, http.StatusUnprocessableEntity, "Validation Failed: encrypted_value")
		return
	}
	name := r.PathValue("name")
	_, existed := st.secrets[name]
	st.secrets[name] = body.EncryptedValue
	if existed {
		w.WriteHeader(http.StatusNoContent)
	} else {
		w.WriteHeader(http.StatusCreated)
	}
}
