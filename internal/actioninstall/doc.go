// Package actioninstall tests scripts/action-install.sh, the step of
// action.yml that puts the atomyx-guard binary in place: it downloads the
// release for the action's own version and runs nothing whose SHA-256 the
// release's checksums file does not vouch for, or builds from the action's
// source when no release matches. The tests serve releases from a local
// HTTP server; the package has no code of its own.
package actioninstall
