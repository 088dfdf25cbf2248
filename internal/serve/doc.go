// Package serve is atomyx-guard as a long-running service: it hears GitHub
// webhooks for a whole organisation (push, pull_request, repository) and
// answers a pushed key in seconds instead of at the next nightly org scan.
//
// The path of a delivery is short on purpose. The handler checks the
// HMAC-SHA256 signature over the raw body in constant time before reading
// a byte of JSON, keeps only the few fields it needs, and records them in a
// bbolt queue (fsync on commit) before it answers 202: an acknowledged
// delivery survives SIGKILL. The queue remembers every X-GitHub-Delivery it
// accepted, so a redelivery is answered and dropped.
//
// Workers take one repository at a time, with every delivery pending for
// it: the pushes of a busy repository are coalesced into one fetch of the
// org mirror cache (the layout of `atomyx-guard org`, so that both share
// mirrors and state) and one scan of what none of the previously scanned
// ref tips reaches, which is the union of the pushed ranges plus anything a
// lost delivery hid. The policy is read from the default branch of the
// mirror, never from the pushed commits. Live keys go through the
// responder and its exactly-once journal, so a delivery processed again
// after a crash converges on the same single revocation, replacement and
// issue.
//
// GitHub does not resend a failed delivery by itself, so a reconcile loop
// compares every known repository's refs with the state database on start
// and at an interval, through the same queue.
package serve
