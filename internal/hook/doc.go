// Package hook puts atomyx-guard where a key is cheapest to stop: before it
// is committed. It installs a native git pre-commit hook that runs
// `atomyx-guard git --staged`, and words the message a blocked commit shows.
//
// The hook goes into the directory `git rev-parse --git-path hooks` names,
// so core.hooksPath, worktrees and Husky-style setups get it where git will
// look. An existing pre-commit hook is never overwritten: it is renamed to
// pre-commit.atomyx-guard-chained and run first by ours (so a formatter that
// restages files runs before the scan sees the index), and uninstalling puts
// it back. --force replaces a foreign hook instead of chaining it.
//
// The installed script finds the binary with `command -v atomyx-guard`, else
// at the path recorded at install time; when neither exists it blocks the
// commit and says how to go on, rather than letting commits through
// unchecked.
package hook
