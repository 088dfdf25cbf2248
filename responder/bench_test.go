package responder_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/internal/vault/server"
	"github.com/atomyx/atomyx-guard/patterns"
)

// BenchmarkRotate measures one whole rotation (re-verify, reissue, two
// deliveries, verify, revoke, issue), journal fsyncs included, against the
// local Vault and the fake GitHub on loopback.
func BenchmarkRotate(b *testing.B) {
	w := newWorld(b, server.Faults{})
	j := openJournal(b, filepath.Join(b.TempDir(), "journal.db"))
	defer j.Close()
	r := w.responder(b, j, &testkit.Buffer{}, nil)
	for b.Loop() {
		b.StopTimer()
		_, _, f := w.leak(b, patterns.Production)
		b.StartTimer()
		if _, err := r.Run(context.Background(), []finding.Finding{f}); err != nil {
			b.Fatal(err)
		}
	}
}
