// Package ghfake is an in-memory GitHub REST API for tests: a real HTTP
// server (httptest) that keeps repositories, issues, comments, labels and
// Actions secrets, so that code using package ghapi (or go-github directly)
// is tested over the wire, with no network and no GitHub.
//
// Organisations list their repositories (GET /orgs/{org}/repos, paginated
// with Link headers, with fork, archived and clone_url), so that an org
// scan can point clone_url at a git server of its own on loopback.
//
// It holds a real NaCl keypair per repository, environment and organisation
// and opens the sealed secrets it receives, so a test can assert the value
// that was delivered (SecretValue). It can be told to misbehave (Fail):
// 429 and 403 rate limits, 5xx, missing permissions.
//
// Extending it: add the state to Server (under mu), register the route in
// routes() with a Go 1.22 pattern ("GET /orgs/{org}/repos"), and write the
// handler with the helpers writeJSON, readJSON, notFound and paginate. Every
// route gets authentication, faults and the request log for free.
package ghfake
