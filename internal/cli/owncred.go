package cli

import (
	"strings"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/patterns"
)

// ownFingerprints is the fingerprint of the Atomyx key this process is
// configured with (ATOMYX_API_KEY), if it holds one. A scan can reach that
// key (a .env copy, a CI log, the process's own environment): the run must
// report it, never revoke or reissue it, or it would cut off its own
// access and open an issue about itself.
func ownFingerprints(sys *IO) []string {
	k := []byte(strings.TrimSpace(sys.env("ATOMYX_API_KEY")))
	if !patterns.Valid(k) {
		return nil
	}
	return []string{patterns.Fingerprint(k)}
}

// markOwnCredential sets OwnCredential on the findings of the run's own
// key, in place, and returns the warnings to show.
func markOwnCredential(sys *IO, fs []finding.Finding) []string {
	own := ownFingerprints(sys)
	if len(own) == 0 {
		return nil
	}
	var warnings []string
	for i := range fs {
		if fs[i].Fingerprint == own[0] {
			fs[i].OwnCredential = true
			warnings = append(warnings, "found "+fs[i].Redacted+", this run's own credential (ATOMYX_API_KEY): reported, never revoked or reissued automatically; rotate it by hand")
		}
	}
	return warnings
}
