// Package ghaction is the logic of atomyx-guard's GitHub Action: it reads
// the workflow's event, decides which commits a run must scan, and speaks
// the runner's protocols (annotations, step outputs, the job summary).
//
// The scope follows the event, so that a pull request pays for its own
// commits and not the repository's history:
//
//   - pull_request, pull_request_target: base.sha..head.sha of the pull
//     request (not the merge commit GITHUB_SHA names).
//   - push: before..after. A new branch or tag (before all zeros) scans what
//     the default branch does not hold (origin/<default>..after), or the
//     whole history of after when there is no such ref or the push is the
//     default branch itself. A force-push whose before commit is not in the
//     checkout falls back the same way, with a warning. A deleted branch
//     scans nothing.
//   - merge_group: base_sha..head_sha.
//   - schedule, workflow_dispatch and any other event: everything.
//
// A shallow checkout is never half-scanned in silence: what it holds is
// scanned (the range when both ends are there, else everything), the
// report is marked partial, an error annotation says to check out with
// fetch-depth: 0, and the step fails (exit 2) whatever was found.
//
// Fork pull requests get no secrets: verification and response are skipped
// with a notice and the scan still runs. No output, annotation or summary
// ever carries a whole key: keys appear by fingerprint and redacted form.
package ghaction
