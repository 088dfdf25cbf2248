package rotate_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/vault"
)

// BenchmarkPlan10000 is `rotate --plan` over an org of 10,000 keys of
// every age against the local Vault over loopback HTTP: 100 pages of 100.
func BenchmarkPlan10000(b *testing.B) {
	w := newWorld(b)
	const n = 10000
	var wg sync.WaitGroup
	next := make(chan int)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vc := w.vault()
			for i := range next {
				req := vault.IssueRequest{Environment: []string{"production", "staging", "development"}[i%3],
					Owner:     &finding.Owner{Org: "acme", Team: []string{"payments", "search", "web", "data"}[i%4]},
					CreatedAt: w.clock.Now().Add(-time.Duration(i%200) * day).Format(time.RFC3339)}
				if _, err := vc.Issue(context.Background(), req, ""); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	r := w.rotator(b, policy(b, "[rotate]\nmax_age = \"90d\"\n[[rotate.keys]]\nteam = \"payments\"\ndeliver = [\"github-secret:acme/app:ATOMYX_API_KEY\"]\n"), openJournal(b, ""))
	b.ResetTimer()
	for b.Loop() {
		p, err := r.Plan(context.Background(), false)
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Items) != n {
			b.Fatalf("%d keys, want %d", len(p.Items), n)
		}
	}
}
