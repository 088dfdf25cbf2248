package serve

import (
	"context"
	"errors"
	"time"
)

// reconcileLoop catches up on start and then every ReconcileInterval.
func (s *Server) reconcileLoop(ctx context.Context) {
	if s.cfg.ReconcileInterval < 0 {
		return
	}
	for {
		if err := s.Reconcile(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("reconcile", "err", err)
		}
		if s.cfg.ReconcileInterval == 0 {
			return
		}
		t := time.NewTimer(s.cfg.ReconcileInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Reconcile queues a catch-up job for every repository the queue has
// heard of and every one List returns. The worker compares the mirror's
// refs after a fetch with the state: an unchanged repository costs a
// fetch, a changed one is scanned from the tips it last scanned, and one
// never scanned is scanned whole. GitHub does not resend the deliveries
// missed while the service was down; this is what finds their commits.
func (s *Server) Reconcile(ctx context.Context) error {
	known, err := s.cfg.Queue.Repos()
	if err != nil {
		return err
	}
	var errs []error
	if s.cfg.List != nil {
		repos, err := s.cfg.List(ctx)
		if err != nil {
			errs = append(errs, err)
		}
		for _, r := range repos {
			if ValidRepoName(r.FullName) {
				known[r.FullName] = RepoInfo{CloneURL: r.CloneURL, DefaultBranch: r.DefaultBranch, Private: r.Private,
					Installation: known[r.FullName].Installation}
			}
		}
	}
	queued := 0
	for repo, ri := range known {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		_, err := s.cfg.Queue.Enqueue(Job{Kind: KindReconcile, Repo: repo, CloneURL: ri.CloneURL,
			DefaultBranch: ri.DefaultBranch, Private: ri.Private, Installation: ri.Installation, Received: s.now()})
		switch {
		case err == nil:
			queued++
		case errors.Is(err, ErrDuplicate): // work already pending catches up too
		default:
			errs = append(errs, err)
		}
	}
	s.log.Info("reconcile queued", "repositories", len(known), "queued", queued)
	return errors.Join(errs...)
}
