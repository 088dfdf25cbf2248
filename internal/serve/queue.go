package serve

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Job kinds: what a queued record asks the worker to do.
const (
	KindPush        = "push"
	KindPullRequest = "pull_request"
	KindRepository  = "repository" // created or publicized: a full scan
	KindReconcile   = "reconcile"  // catch up with whatever was missed
)

// Job is what the queue keeps of one accepted delivery: the fields the
// worker needs, never the payload (which may quote file contents).
type Job struct {
	Seq      uint64    `json:"seq"`
	Delivery string    `json:"delivery,omitempty"` // X-GitHub-Delivery; empty for reconcile
	Kind     string    `json:"kind"`
	Received time.Time `json:"received"`

	Repo          string `json:"repo"` // OWNER/NAME
	CloneURL      string `json:"clone_url"`
	DefaultBranch string `json:"default_branch,omitempty"`
	Private       bool   `json:"private"`
	// Installation is the GitHub App installation that sent it (0 for an
	// organisation webhook): whose token fetches and responds.
	Installation int64 `json:"installation,omitempty"`

	// Push: the ref and its ids before and after; Deleted for a deleted
	// ref.
	Ref     string `json:"ref,omitempty"`
	Before  string `json:"before,omitempty"`
	After   string `json:"after,omitempty"`
	Deleted bool   `json:"deleted,omitempty"`
	// Pull request: its number and range.
	Number int    `json:"number,omitempty"`
	Base   string `json:"base,omitempty"`
	Head   string `json:"head,omitempty"`
	// Publicized: the repository just became public.
	Publicized bool `json:"publicized,omitempty"`
}

// ErrFull is returned by Enqueue when the repository's or the whole
// queue's bound is reached: the caller answers 503 rather than hold more.
var ErrFull = errors.New("queue full")

// ErrDuplicate is returned by Enqueue for a delivery id accepted before.
var ErrDuplicate = errors.New("delivery already accepted")

var (
	bucketPending = []byte("pending") // repo \x00 seq → Job
	bucketSeen    = []byte("seen")    // delivery id → accepted at (unix seconds)
	bucketRepos   = []byte("repos")   // repo → RepoInfo, every repository ever heard of
)

// RepoInfo is what the queue remembers of a repository to reconcile it
// later: where to fetch it and how visible it is.
type RepoInfo struct {
	CloneURL      string `json:"clone_url"`
	DefaultBranch string `json:"default_branch,omitempty"`
	Private       bool   `json:"private"`
	Installation  int64  `json:"installation,omitempty"`
}

// Queue is the durable delivery queue: a bbolt file with fsync on every
// commit, so that a delivery acknowledged is a delivery on disk. One
// repository is handed to at most one worker at a time, with every record
// pending for it, in arrival order.
type Queue struct {
	db *bolt.DB
	// MaxPerRepo and MaxTotal bound the pending records.
	maxPerRepo, maxTotal int

	mu       sync.Mutex
	pending  map[string]int       // repo → pending records
	total    int                  // pending records
	inFlight map[string]bool      // repos held by a worker
	notAfter map[string]time.Time // repos waiting to retry
	wake     chan struct{}        // closed and replaced when something may be ready
	closed   bool
}

// QueueOptions bounds a queue.
type QueueOptions struct {
	MaxPerRepo, MaxTotal int
	// SeenFor is how long accepted delivery ids are remembered (30 days
	// when zero): GitHub lets an operator redeliver for about that long.
	SeenFor time.Duration
}

// OpenQueue opens (or creates) the queue at path and loads its counts. A
// second process on the same file gets an error after a few seconds.
func OpenQueue(path string, opts QueueOptions) (*Queue, error) {
	if opts.MaxPerRepo < 1 || opts.MaxTotal < 1 {
		return nil, errors.New("queue: bounds must be at least 1")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("queue %s: in use by another serve process", path)
	}
	if err != nil {
		return nil, fmt.Errorf("queue %s: %w", path, err)
	}
	q := &Queue{db: db, maxPerRepo: opts.MaxPerRepo, maxTotal: opts.MaxTotal,
		pending: map[string]int{}, inFlight: map[string]bool{}, notAfter: map[string]time.Time{},
		wake: make(chan struct{})}
	seenFor := opts.SeenFor
	if seenFor <= 0 {
		seenFor = 30 * 24 * time.Hour
	}
	cutoff := time.Now().Add(-seenFor).Unix()
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketPending, bucketSeen, bucketRepos} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		c := tx.Bucket(bucketPending).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			repo, _, ok := bytes.Cut(k, []byte{0})
			if ok {
				q.pending[string(repo)]++
				q.total++
			}
		}
		seen := tx.Bucket(bucketSeen)
		var old [][]byte
		_ = seen.ForEach(func(k, v []byte) error {
			if len(v) == 8 && int64(binary.BigEndian.Uint64(v)) < cutoff {
				old = append(old, slices.Clone(k))
			}
			return nil
		})
		for _, k := range old {
			if err := seen.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("queue %s: %w", path, err)
	}
	return q, nil
}

// Close closes the database; a worker's Next returns.
func (q *Queue) Close() error {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.wake)
	}
	q.mu.Unlock()
	return q.db.Close()
}

func pendingKey(repo string, seq uint64) []byte {
	k := make([]byte, 0, len(repo)+9)
	k = append(k, repo...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, seq)
}

// Enqueue records j durably and returns once it is on disk. A delivery id
// accepted before gives ErrDuplicate and records nothing; a full queue
// gives ErrFull. Reconcile jobs (no delivery id) are skipped when the
// repository already has work pending: that work catches up as well.
func (q *Queue) Enqueue(j Job) (Job, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return Job{}, errors.New("queue closed")
	}
	if j.Kind == KindReconcile && q.pending[j.Repo] > 0 {
		return Job{}, ErrDuplicate
	}
	if q.pending[j.Repo] >= q.maxPerRepo || q.total >= q.maxTotal {
		return Job{}, ErrFull
	}
	err := q.db.Update(func(tx *bolt.Tx) error {
		if j.Delivery != "" {
			seen := tx.Bucket(bucketSeen)
			if seen.Get([]byte(j.Delivery)) != nil {
				return ErrDuplicate
			}
			if err := seen.Put([]byte(j.Delivery), binary.BigEndian.AppendUint64(nil, uint64(time.Now().Unix()))); err != nil {
				return err
			}
		}
		p := tx.Bucket(bucketPending)
		seq, err := p.NextSequence()
		if err != nil {
			return err
		}
		j.Seq = seq
		b, err := json.Marshal(j)
		if err != nil {
			return err
		}
		if err := p.Put(pendingKey(j.Repo, seq), b); err != nil {
			return err
		}
		ri := RepoInfo{CloneURL: j.CloneURL, DefaultBranch: j.DefaultBranch, Private: j.Private, Installation: j.Installation}
		if ri.Installation == 0 {
			// A delivery without one (an organisation webhook beside
			// the App) does not make the App forget the repository's.
			var prev RepoInfo
			if b := tx.Bucket(bucketRepos).Get([]byte(j.Repo)); b != nil && json.Unmarshal(b, &prev) == nil {
				ri.Installation = prev.Installation
			}
		}
		info, err := json.Marshal(ri)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketRepos).Put([]byte(j.Repo), info)
	})
	if errors.Is(err, ErrDuplicate) {
		return Job{}, err
	}
	if err != nil {
		return Job{}, fmt.Errorf("queue: record delivery: %w", err)
	}
	q.pending[j.Repo]++
	q.total++
	q.signal()
	return j, nil
}

// signal wakes the workers waiting in Next; q.mu is held.
func (q *Queue) signal() {
	if q.closed {
		return
	}
	close(q.wake)
	q.wake = make(chan struct{})
}

// Depth is the number of pending records.
func (q *Queue) Depth() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.total
}

// Repos lists every repository the queue has heard of.
func (q *Queue) Repos() (map[string]RepoInfo, error) {
	out := map[string]RepoInfo{}
	err := q.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRepos).ForEach(func(k, v []byte) error {
			var ri RepoInfo
			if err := json.Unmarshal(v, &ri); err != nil {
				return err
			}
			out[string(k)] = ri
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	return out, nil
}

// Healthy reports whether the database answers.
func (q *Queue) Healthy() error {
	return q.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketPending) == nil {
			return errors.New("queue: no pending bucket")
		}
		return nil
	})
}

// Next waits for a repository with pending work that no worker holds and
// whose retry time has come, marks it held, and returns it with every
// record pending for it, oldest first. It returns ctx's error when ctx
// ends and an error when the queue is closed.
func (q *Queue) Next(ctx context.Context) (string, []Job, error) {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return "", nil, errors.New("queue closed")
		}
		repo, wait := q.pick(time.Now())
		wake := q.wake
		if repo != "" {
			q.inFlight[repo] = true
		}
		q.mu.Unlock()
		if repo != "" {
			jobs, err := q.jobs(repo)
			if err != nil {
				q.Release(repo, time.Second)
				return "", nil, err
			}
			return repo, jobs, nil
		}
		if wait <= 0 {
			wait = time.Hour
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", nil, ctx.Err()
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// pick chooses the ready repository whose oldest record is oldest, or
// says how long until a waiting one is ready; q.mu is held.
func (q *Queue) pick(now time.Time) (string, time.Duration) {
	var (
		best    string
		bestSeq uint64
		wait    time.Duration
	)
	for repo, n := range q.pending {
		if n == 0 || q.inFlight[repo] {
			continue
		}
		if t, ok := q.notAfter[repo]; ok && now.Before(t) {
			if d := t.Sub(now); wait == 0 || d < wait {
				wait = d
			}
			continue
		}
		seq := q.oldest(repo)
		if best == "" || seq < bestSeq {
			best, bestSeq = repo, seq
		}
	}
	return best, wait
}

// oldest is the sequence number of repo's oldest pending record.
func (q *Queue) oldest(repo string) uint64 {
	var seq uint64
	_ = q.db.View(func(tx *bolt.Tx) error {
		prefix := append([]byte(repo), 0)
		k, _ := tx.Bucket(bucketPending).Cursor().Seek(prefix)
		if k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8 {
			seq = binary.BigEndian.Uint64(k[len(prefix):])
		}
		return nil
	})
	return seq
}

func (q *Queue) jobs(repo string) ([]Job, error) {
	var out []Job
	err := q.db.View(func(tx *bolt.Tx) error {
		prefix := append([]byte(repo), 0)
		c := tx.Bucket(bucketPending).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var j Job
			if err := json.Unmarshal(v, &j); err != nil {
				return fmt.Errorf("record %x: %w", k, err)
			}
			out = append(out, j)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("queue: read %s: %w", repo, err)
	}
	return out, nil
}

// Done removes the records a worker finished (durably) and releases the
// repository.
func (q *Queue) Done(repo string, jobs []Job) error {
	err := q.db.Update(func(tx *bolt.Tx) error {
		p := tx.Bucket(bucketPending)
		for _, j := range jobs {
			if err := p.Delete(pendingKey(repo, j.Seq)); err != nil {
				return err
			}
		}
		return nil
	})
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.inFlight, repo)
	delete(q.notAfter, repo)
	if err != nil {
		q.signal()
		return fmt.Errorf("queue: remove done records of %s: %w", repo, err)
	}
	q.pending[repo] -= len(jobs)
	q.total -= len(jobs)
	if q.pending[repo] <= 0 {
		delete(q.pending, repo)
	}
	q.signal()
	return nil
}

// Release gives a repository back without removing its records; it is
// handed out again after delay (a failed fetch, a Vault outage).
func (q *Queue) Release(repo string, delay time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.inFlight, repo)
	if delay > 0 {
		q.notAfter[repo] = time.Now().Add(delay)
	}
	q.signal()
}
