package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"filippo.io/age"

	"github.com/atomyx/atomyx-guard/internal/org"
	"github.com/atomyx/atomyx-guard/responder"
	"github.com/atomyx/atomyx-guard/responder/journal"
	"github.com/atomyx/atomyx-guard/scanner"
)

// Config wires a Server. Vault, GitHub, Journal, Mirror, State and Queue
// are required.
type Config struct {
	// Secret is the webhook secret shared with GitHub.
	Secret []byte
	Queue  *Queue
	Mirror *org.Mirror
	State  *org.State
	// Engine is the template of every scan's engine (Detector, Workers,
	// Expanders, Limits).
	Engine      *scanner.Engine
	NoGitBinary bool

	Vault responder.Vault
	// GitHub is the responder's GitHub with a fixed token; or, with App
	// set, NewGitHub makes one per batch from its installation's token.
	GitHub    responder.GitHub
	App       TokenSource
	NewGitHub func(token string) (responder.GitHub, error)
	Journal   *journal.Journal
	// Recipient is the operator's age recipient when a repository's policy
	// names none.
	Recipient age.Recipient
	// OwnFingerprints are never acted on (the service's own key).
	OwnFingerprints []string
	// ServerURL is the GitHub web root for links.
	ServerURL string

	// Workers is how many repositories are processed at once (default 2).
	Workers int
	// ReconcileInterval is how often every known repository is caught up
	// (0: only on start; negative: never).
	ReconcileInterval time.Duration
	// List returns the repositories of the organisations to reconcile
	// besides those the queue has heard of; nil lists none.
	List func(ctx context.Context) ([]org.Repo, error)
	// RetryBase and MaxAttempts shape retries of a failed batch (1s, 8
	// when zero); after MaxAttempts the batch is dropped and the next
	// reconcile catches up, since its state was not advanced.
	RetryBase   time.Duration
	MaxAttempts int
	// ShutdownGrace is how long a shutdown waits for batches in progress
	// (10s when zero); unfinished ones stay queued for the next start.
	ShutdownGrace time.Duration

	Log     *slog.Logger
	Metrics *Metrics
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// TokenSource mints GitHub App installation tokens (ghapp.App).
type TokenSource interface {
	Token(ctx context.Context, installation int64) (string, error)
}

// Server is the webhook service. Create it with New, run it with Run or
// use Handler and Work separately (tests).
type Server struct {
	cfg Config
	log *slog.Logger
	m   *Metrics
	now func() time.Time

	mu       sync.Mutex
	attempts map[string]int
}

// New checks cfg.
func New(cfg Config) (*Server, error) {
	switch {
	case len(cfg.Secret) == 0:
		return nil, errors.New("serve: no webhook secret")
	case cfg.Queue == nil || cfg.Mirror == nil || cfg.State == nil:
		return nil, errors.New("serve: queue, mirror and state are required")
	case cfg.Vault == nil || cfg.Journal == nil:
		return nil, errors.New("serve: Vault and journal are required")
	case cfg.GitHub == nil && (cfg.App == nil || cfg.NewGitHub == nil):
		return nil, errors.New("serve: GitHub, or App and NewGitHub, are required")
	}
	if cfg.Workers < 1 {
		cfg.Workers = 2
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = time.Second
	}
	if cfg.MaxAttempts < 1 {
		cfg.MaxAttempts = 8
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 10 * time.Second
	}
	s := &Server{cfg: cfg, log: cfg.Log, m: cfg.Metrics, now: cfg.Now, attempts: map[string]int{}}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.m == nil {
		s.m = NewMetrics(cfg.Queue.Depth)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// Metrics returns the server's metrics.
func (s *Server) Metrics() *Metrics { return s.m }

// Handler routes POST /webhook, GET /healthz and GET /metrics.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhook", s.webhook)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", s.m.Handler())
	return mux
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	if err := s.cfg.Queue.Healthy(); err != nil {
		http.Error(w, "queue unusable", http.StatusServiceUnavailable)
		return
	}
	if _, _, err := s.cfg.State.Get("-/-"); err != nil {
		http.Error(w, "state unusable", http.StatusServiceUnavailable)
		return
	}
	io.WriteString(w, "ok\n")
}

// RetryAfter is what a 503 asks GitHub (or a proxy) to wait, in seconds.
const RetryAfter = 30

// webhook accepts one delivery. The order matters: the body is read
// (bounded), its signature checked, and only then is anything parsed;
// 202 goes out only once the job is on disk.
func (s *Server) webhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.reject(w, "too_large", http.StatusRequestEntityTooLarge, "body too large")
			return
		}
		s.reject(w, "read", http.StatusBadRequest, "cannot read body")
		return
	}
	if !ValidSignature(s.cfg.Secret, body, r.Header.Get(SignatureHeader)) {
		s.reject(w, "signature", http.StatusUnauthorized, "bad or missing "+SignatureHeader)
		return
	}
	event := r.Header.Get("X-GitHub-Event")
	delivery := r.Header.Get("X-GitHub-Delivery")
	if !ValidDeliveryID(delivery) {
		s.reject(w, "delivery_id", http.StatusBadRequest, "bad or missing X-GitHub-Delivery")
		return
	}
	log := s.log.With("delivery", delivery, "event", event)
	s.m.Received.WithLabelValues(eventLabel(event)).Inc()
	if event == "ping" {
		log.Info("ping")
		io.WriteString(w, "pong\n")
		return
	}
	job, err := ParseDelivery(event, body)
	if IsIgnored(err) {
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "ignored\n")
		return
	}
	if err != nil {
		log.Warn("malformed payload", "err", err)
		s.reject(w, "payload", http.StatusBadRequest, "malformed payload")
		return
	}
	job.Delivery = delivery
	job.Received = s.now()
	job, err = s.cfg.Queue.Enqueue(job)
	switch {
	case errors.Is(err, ErrDuplicate):
		log.Info("redelivery ignored")
		io.WriteString(w, "already accepted\n")
	case errors.Is(err, ErrFull):
		log.Warn("queue full", "repo", job.Repo)
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfter))
		s.reject(w, "queue_full", http.StatusServiceUnavailable, "queue full")
	case err != nil:
		log.Error("cannot queue", "err", err)
		s.reject(w, "queue_error", http.StatusInternalServerError, "cannot queue")
	default:
		log.Info("queued", "repo", job.Repo, "kind", job.Kind, "seq", job.Seq)
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "queued\n")
	}
}

func (s *Server) reject(w http.ResponseWriter, reason string, status int, msg string) {
	s.m.Rejected.WithLabelValues(reason).Inc()
	http.Error(w, msg, status)
}

// eventLabel keeps the event label a closed set.
func eventLabel(e string) string {
	switch e {
	case "push", "pull_request", "repository", "ping":
		return e
	}
	return "other"
}

// Work runs the workers until ctx ends, then waits for those in progress
// up to ShutdownGrace before cancelling them; what they did not finish
// stays queued.
func (s *Server) Work(ctx context.Context) {
	workCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	var wg sync.WaitGroup
	for range s.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				repo, jobs, err := s.cfg.Queue.Next(ctx)
				if err != nil {
					return
				}
				s.run(workCtx, repo, jobs)
			}
		}()
	}
	<-ctx.Done()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(s.cfg.ShutdownGrace):
		s.log.Warn("shutdown grace over; unfinished batches stay queued")
		cancel()
		// A fetch that ignores cancellation must not hold the exit: what
		// it did not finish is still queued on disk.
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
	}
}

// run processes one repository's batch and settles it with the queue.
func (s *Server) run(ctx context.Context, repo string, jobs []Job) {
	log := s.log.With("repo", repo, "deliveries", len(jobs))
	start := s.now()
	err := s.process(ctx, repo, jobs)
	if err == nil {
		s.mu.Lock()
		delete(s.attempts, repo)
		s.mu.Unlock()
		if derr := s.cfg.Queue.Done(repo, jobs); derr != nil {
			log.Error("cannot remove processed deliveries", "err", derr)
		}
		for _, j := range jobs {
			s.m.Processed.WithLabelValues(j.Kind, "done").Inc()
			if !j.Received.IsZero() {
				s.m.DeliveryToResponse.Observe(s.now().Sub(j.Received).Seconds())
			}
		}
		log.Info("processed", "duration_ms", s.now().Sub(start).Milliseconds())
		return
	}
	if ctx.Err() != nil {
		// Shutting down: the batch stays queued for the next start.
		s.cfg.Queue.Release(repo, 0)
		return
	}
	s.mu.Lock()
	s.attempts[repo]++
	n := s.attempts[repo]
	s.mu.Unlock()
	if n >= s.cfg.MaxAttempts {
		// The state was not advanced: the next reconcile scans it again.
		log.Error("giving up on batch until the next reconcile", "attempts", n, "err", err)
		s.mu.Lock()
		delete(s.attempts, repo)
		s.mu.Unlock()
		if derr := s.cfg.Queue.Done(repo, jobs); derr != nil {
			log.Error("cannot remove deliveries", "err", derr)
		}
		for _, j := range jobs {
			s.m.Processed.WithLabelValues(j.Kind, "gave_up").Inc()
		}
		return
	}
	delay := s.cfg.RetryBase << min(n-1, 8)
	log.Warn("batch failed; retrying", "attempt", n, "retry_in", delay.String(), "err", err)
	for _, j := range jobs {
		s.m.Processed.WithLabelValues(j.Kind, "failed").Inc()
	}
	s.cfg.Queue.Release(repo, delay)
}

// Serve listens on ln and runs the workers and the reconcile loop until
// ctx ends; then it stops accepting, lets requests in flight finish, and
// gives the workers ShutdownGrace.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.Work(ctx) }()
	go func() { defer wg.Done(); s.reconcileLoop(ctx) }()
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
		stop()
	}
	shCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer cancel()
	if err := hs.Shutdown(shCtx); err != nil {
		s.log.Warn("http shutdown", "err", err)
	}
	wg.Wait()
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", serveErr)
	}
	return nil
}
