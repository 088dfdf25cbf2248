// Package ghapi is the one place that talks to GitHub's REST API, on
// go-github v60, with the manners GitHub asks of integrations: primary and
// secondary rate limits waited out and retried (bounded), transient 5xx on
// safe methods retried, mutating calls made one at a time and spaced, and
// errors that name the permission a token lacks.
//
// It exposes only what atomyx-guard needs (issues, comments, repository
// visibility, Actions secrets sealed to the target's public key), so that
// the responder depends on a small interface and tests run against the fake
// in ghapi/ghfake.
package ghapi
