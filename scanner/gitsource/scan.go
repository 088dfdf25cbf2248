package gitsource

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/atomyx/atomyx-guard/scanner"
	"github.com/go-git/go-git/v5/plumbing"
)

// Options select what of the repository a scan covers. The zero value is a
// full-history scan: every object, every ref.
type Options struct {
	Reflog      bool   // add reflog entries to what is reachable
	Range       string // "A..B": only what commits in B and not in A introduce (PRs)
	Staged      bool   // what the index would commit, index vs HEAD
	IndexFile   string // GIT_INDEX_FILE (absolute or relative to the process cwd); "" = default
	SinceCommit string // only commits not reachable from this one (all refs)
	NoGitBinary bool   // force the pure go-git path (the fallback)
	// Exclude lists commits (or tags) whose history an earlier scan read:
	// only commits reachable from no excluded one are scanned, as with
	// SinceCommit, which it may join, or Range. Ids not in the repository
	// are ignored (exclude.go).
	Exclude []string
	// Alternates reads the object stores objects/info/alternates names
	// (a clone made with --shared or --reference). Off by default: they
	// lie outside the scanned repository; objects only they hold are
	// skipped, and a warning says so.
	Alternates bool
}

// ErrNothingReadable is returned by Scan, with its Result, when objects
// had to be skipped and none could be read: a scan that read nothing
// cannot say the repository is clean.
var ErrNothingReadable = errors.New("nothing in the repository could be read")

// Result says what a scan read and what it could not.
type Result struct {
	Commits, Blobs, Bytes int64
	// Partial is set when some history could not be read (a shallow clone,
	// corrupt objects); Warnings and Skipped say what.
	Partial  bool
	Warnings []string
	Skipped  []finding.Skip
}

// intro is one place a blob entered history: a path in a commit (or under
// a ref that names a tree or blob directly).
type intro struct {
	path   string
	commit *commitMeta
	tag    string
}

// scan is the state of one Scan call.
type scan struct {
	repo *Repo
	opts Options
	st   store
	alt  store // the go-git store, when st is the binary one
	res  Result
	mu   sync.Mutex // guards res.Skipped from concurrent readers

	resolved resolution
	// stagedFiles holds, for a staged scan, the work-tree file each staged
	// blob was staged from (worktree.go).
	stagedFiles map[plumbing.Hash]stagedFile

	hits  []finding.Hit
	near  []finding.NearMiss
	hitMu sync.Mutex

	// startSpool, when set, starts the history walk in the background at
	// the first blob hit; spool is that walk.
	startSpool func() *logSpool
	spool      *logSpool

	// refItems, when set, yields the ref names to scan with the first
	// objects (scans that cover every ref).
	refItems func() []scanner.Item
	// read counts the objects read, to tell a partial scan from one in
	// which nothing could be read.
	read int
}

// Hit and NearMiss collect what the engine finds until it is resolved.
func (s *scan) Hit(h finding.Hit) {
	s.hitMu.Lock()
	s.hits = append(s.hits, h)
	if s.startSpool != nil && s.spool == nil && h.Location.Kind == finding.KindBlob {
		s.spool = s.startSpool()
	}
	s.hitMu.Unlock()
}

// takeSpool returns the background walk, if one was started.
func (s *scan) takeSpool() *logSpool {
	s.hitMu.Lock()
	defer s.hitMu.Unlock()
	s.startSpool = nil
	return s.spool
}

func (s *scan) NearMiss(n finding.NearMiss) {
	s.hitMu.Lock()
	s.near = append(s.near, n)
	s.hitMu.Unlock()
}

// skip records what could not be read. Both texts may quote git or
// go-git, which quote ref names and paths: they are masked here.
func (s *scan) skip(where, reason string) {
	where, reason = patterns.RedactRuns(where), patterns.RedactRuns(reason)
	s.mu.Lock()
	s.res.Skipped = append(s.res.Skipped, finding.Skip{Where: where, Reason: reason})
	s.res.Partial = true
	s.mu.Unlock()
}

func (s *scan) warn(format string, args ...any) {
	s.mu.Lock()
	s.res.Warnings = append(s.res.Warnings, patterns.RedactRuns(fmt.Sprintf(format, args...)))
	s.mu.Unlock()
}

// sourceFunc adapts a function to scanner.Source.
type sourceFunc func(ctx context.Context, emit func(scanner.Item) error) error

func (f sourceFunc) Items(ctx context.Context, emit func(scanner.Item) error) error {
	return f(ctx, emit)
}

// Scan runs the selected objects through eng and reports every final
// location of every key to sink: for a blob, each (path, commit) where it
// entered history, or the blob id when nothing reachable holds it.
func (r *Repo) Scan(ctx context.Context, eng *scanner.Engine, opts Options, sink scanner.Sink) (Result, error) {
	if opts.Range != "" && opts.SinceCommit != "" {
		return Result{}, errors.New("range and since-commit exclude each other")
	}
	if opts.Staged && (opts.Range != "" || opts.SinceCommit != "" || len(opts.Exclude) > 0) {
		return Result{}, errors.New("staged excludes range, since-commit and exclude")
	}
	s := &scan{repo: r, opts: opts}
	for _, g := range r.guards {
		g.alternates = opts.Alternates
	}
	gg := &goGit{r: r, skip: s.skip}
	s.st = gg
	var refs *refInfo
	var refsOnce sync.Once
	getRefs := func() *refInfo {
		refsOnce.Do(func() { refs = r.readRefs(s.skip) })
		return refs
	}
	gg.refs = getRefs
	var shadow string
	defer func() {
		if shadow != "" {
			os.RemoveAll(shadow)
		}
	}()
	// useGit makes the git binary's store, when there is a binary and a
	// shadow directory can be written; s.st stays go-git's otherwise.
	useGit := func() store {
		if opts.NoGitBinary {
			return gg
		}
		p, err := exec.LookPath("git")
		if err != nil {
			return gg
		}
		dir, warns, err := r.newShadow(opts.Alternates, s.skip)
		if err != nil {
			s.warn("%v; reading with go-git instead", err)
			return gg
		}
		shadow = dir
		for _, w := range warns {
			s.warn("%s", w)
		}
		s.alt = gg
		return &gitBin{path: p, gitDir: shadow, realDir: r.CommonDir, large: r.large, skip: s.skip,
			timeout: gitTimeout(r), refs: getRefs, reflog: func() []plumbing.Hash { return r.reflogTips(s.skip) }, onGit: r.onGit,
			readers: readers(eng), minPart: r.minPart, roots: r.roots(), noPacks: r.noPacks}
	}
	if opts.Staged {
		// A pre-commit hook reads in-process what it can (staged.go):
		// no shadow directory and no git lookup until something needs
		// git.
		s.st = &lazyStore{make: useGit}
	} else {
		s.st = useGit()
	}
	if !opts.Staged {
		sh, err := r.shallow()
		if err != nil {
			s.skip("shallow", err.Error())
		}
		gg.shallow = sh
		if len(sh) > 0 {
			s.res.Partial = true
			s.warn("shallow clone: history before %s is missing; fetch with --unshallow / fetch-depth: 0", shallowList(sh))
		}
	}
	var err error
	switch {
	case opts.Staged:
		err = s.staged(ctx, eng)
	case opts.Range != "" || opts.SinceCommit != "" || len(opts.Exclude) > 0:
		err = s.limited(ctx, eng, getRefs)
	default:
		err = s.full(ctx, eng, getRefs)
	}
	if err != nil {
		return s.res, maskedError{err}
	}
	s.emit(sink)
	slices.SortFunc(s.res.Skipped, func(a, b finding.Skip) int { return strings.Compare(a.Where+a.Reason, b.Where+b.Reason) })
	if s.read == 0 && len(s.res.Skipped) > 0 {
		return s.res, ErrNothingReadable
	}
	return s.res, nil
}

// lazyStore is a store made on first use.
type lazyStore struct {
	make func() store
	once sync.Once
	st   store
}

func (l *lazyStore) get() store {
	l.once.Do(func() { l.st = l.make() })
	return l.st
}

func (l *lazyStore) all(ctx context.Context, fn func(storedObject) error) error {
	return l.get().all(ctx, fn)
}

func (l *lazyStore) read(ctx context.Context, ids []plumbing.Hash, fn func(storedObject) error) error {
	return l.get().read(ctx, ids, fn)
}

func (l *lazyStore) walk(ctx context.Context, spec walkSpec, fn func(c commitMeta, es []entry) error) error {
	return l.get().walk(ctx, spec, fn)
}

func (l *lazyStore) resolve(ctx context.Context, rev string) (plumbing.Hash, error) {
	return l.get().resolve(ctx, rev)
}

// gitBin is the git binary's store, if the scan has one (made now, when
// it was left to first use).
func (s *scan) gitBin() (*gitBin, bool) {
	st := s.st
	if l, ok := st.(*lazyStore); ok {
		st = l.get()
	}
	g, ok := st.(*gitBin)
	return g, ok
}

// readers is how many object readers a full scan runs: the engine's
// workers (--workers), GOMAXPROCS when unset.
func readers(eng *scanner.Engine) int {
	if eng != nil && eng.Workers > 0 {
		return eng.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// maskedError masks an error's text: it may quote git, go-git or a ref.
type maskedError struct{ err error }

func (e maskedError) Error() string { return patterns.RedactRuns(e.err.Error()) }
func (e maskedError) Unwrap() error { return e.err }

func shallowList(sh map[string]bool) string {
	ids := make([]string, 0, len(sh))
	for id := range sh {
		ids = append(ids, id[:12])
	}
	slices.Sort(ids)
	if len(ids) > 3 {
		ids = append(ids[:3], fmt.Sprintf("and %d more", len(ids)-3))
	}
	return strings.Join(ids, ", ")
}

// items turns objects into engine items: blobs as they are, commits and
// tags as their messages.
func (s *scan) item(o storedObject) (scanner.Item, bool) {
	switch o.typ {
	case plumbing.BlobObject:
		s.res.Blobs++
		s.res.Bytes += o.size
		it := scanner.Item{
			Loc:  finding.Location{Source: finding.SourceGit, Kind: finding.KindBlob, Blob: o.id.String()},
			Size: o.size, Data: o.data, Release: o.release,
		}
		if o.open != nil {
			it.Open = o.open
		}
		return it, true
	case plumbing.CommitObject:
		s.res.Commits++
		c := parseCommit(o.id.String(), o.data)
		it := scanner.Item{
			Loc: finding.Location{Source: finding.SourceGit, Kind: finding.KindCommitMessage,
				Commit: c.ID, Author: c.Author, Date: c.Date},
			Data: c.Message, Size: int64(len(c.Message)), Release: o.release,
		}
		s.res.Bytes += largeMessage(o, &it)
		return it, true
	case plumbing.TagObject:
		t := parseTag(o.data)
		loc := finding.Location{Source: finding.SourceGit, Kind: finding.KindTagMessage,
			Tag: t.Name, Author: t.Tagger, Date: t.Date,
			Blob: o.id.String()} // the tag object's id, until emit
		if t.Type == "commit" {
			loc.Commit = t.Object.String()
		}
		it := scanner.Item{Loc: loc, Data: t.Message, Size: int64(len(t.Message)), Release: o.release}
		s.res.Bytes += largeMessage(o, &it)
		return it, true
	}
	if o.release != nil {
		o.release()
	}
	return scanner.Item{}, false
}

// largeMessage makes the message item of a large commit or tag, whose
// data holds only the first bytes (maxHeaderPrefix), stream its message,
// and returns the message's size (that of the item as it was otherwise).
func largeMessage(o storedObject, it *scanner.Item) int64 {
	if o.open == nil {
		return it.Size
	}
	// The header's fields are strings of their own by now.
	if it.Release != nil {
		it.Release()
	}
	it.Data, it.Release = nil, nil
	it.Size = o.size
	if i := bytes.Index(o.data, []byte("\n\n")); i >= 0 {
		it.Size -= int64(i + 2)
	}
	it.Open = func() (io.ReadCloser, error) {
		rc, err := o.open()
		if err != nil {
			return nil, err
		}
		return struct {
			io.Reader
			io.Closer
		}{newMessageReader(rc), rc}, nil
	}
	return it.Size
}

// refItems turns every ref name into an item: a branch or tag named with
// a key leaks it to everyone who lists the refs. The location names the
// ref masked; the name itself is only scanned.
func refItems(ri *refInfo) []scanner.Item {
	out := make([]scanner.Item, 0, len(ri.names))
	for _, n := range ri.names {
		loc := finding.Location{Source: finding.SourceGit, Kind: finding.KindRef, Path: patterns.RedactRuns(n.name)}
		out = append(out, scanner.Item{Loc: loc, Data: []byte(n.name), Size: int64(len(n.name))})
	}
	return out
}

// run scans the objects produce yields, falling back to the go-git store
// when the git binary fails before anything was read.
func (s *scan) run(ctx context.Context, eng *scanner.Engine, produce func(ctx context.Context, st store, fn func(storedObject) error) error) error {
	read := 0
	src := sourceFunc(func(ctx context.Context, emit func(scanner.Item) error) error {
		if s.refItems != nil {
			items := s.refItems()
			s.refItems = nil
			for _, it := range items {
				if err := emit(it); err != nil {
					return err
				}
			}
		}
		fn := func(o storedObject) error {
			read++
			s.read++
			it, ok := s.item(o)
			if !ok {
				return nil
			}
			return emit(it)
		}
		err := produce(ctx, s.st, fn)
		if err != nil && ctx.Err() == nil && s.alt != nil && read == 0 {
			s.warn("git binary failed (%v); reading with go-git instead", err)
			s.st, s.alt = s.alt, nil
			err = produce(ctx, s.st, fn)
		}
		return err
	})
	_, err := eng.Run(ctx, src, s)
	if err != nil && ctx.Err() == nil && read > 0 {
		// Something was read: report the rest as skipped, not as failure.
		s.skip("objects", err.Error())
		return nil
	}
	return err
}

// walk runs a history walk, falling back to go-git if the binary fails.
func (s *scan) walk(ctx context.Context, spec walkSpec, fn func(commitMeta, []entry) error) error {
	err := s.st.walk(ctx, spec, fn)
	var fe errFn
	if err != nil && ctx.Err() == nil && !errors.As(err, &fe) && s.alt != nil {
		s.warn("git log failed (%v); walking history with go-git instead", err)
		err = s.alt.walk(ctx, spec, fn)
	}
	return err
}

// resolution holds where blobs entered and which commits and tags are
// reachable, for emit.
type resolution struct {
	intros    map[string][]intro // by blob id
	reachable map[string]bool    // commit ids; nil = all reachable
	tags      map[plumbing.Hash]plumbing.Hash
	limited   bool
}

// full scans every object, then resolves only the blobs and commits that
// had hits.
func (s *scan) full(ctx context.Context, eng *scanner.Engine, getRefs func() *refInfo) error {
	s.refItems = func() []scanner.Item { return refItems(getRefs()) }
	// Blobs with hits are traced to their commits by one walk of the whole
	// history; with the git binary it starts at the first blob hit and
	// runs beside the object scan.
	if gb, ok := s.st.(*gitBin); ok {
		s.startSpool = func() *logSpool {
			return gb.spoolLog(ctx, walkSpec{all: true, reflog: s.opts.Reflog, include: getRefs().stash})
		}
	}
	defer func() {
		if sp := s.takeSpool(); sp != nil {
			sp.close()
		}
	}()
	err := s.run(ctx, eng, func(ctx context.Context, st store, fn func(storedObject) error) error {
		return st.all(ctx, fn)
	})
	if err != nil {
		return err
	}
	wantBlobs := map[plumbing.Hash]bool{}
	wantCommits := map[string]bool{}
	for _, l := range s.locations() {
		switch l.Kind {
		case finding.KindBlob:
			if h, ok := parseHex(l.Blob); ok {
				wantBlobs[h] = true
			}
		case finding.KindCommitMessage:
			wantCommits[l.Commit] = true
		}
	}
	refs := getRefs()
	s.resolved = resolution{intros: map[string][]intro{}, reachable: map[string]bool{}, tags: refs.tags}
	if len(wantBlobs) == 0 && len(wantCommits) == 0 {
		return nil
	}
	spec := walkSpec{all: true, reflog: s.opts.Reflog, include: refs.stash, noDiff: len(wantBlobs) == 0}
	trace := func(c commitMeta, es []entry) error {
		if wantCommits[c.ID] {
			s.resolved.reachable[c.ID] = true
		}
		var meta *commitMeta
		for _, e := range es {
			if !wantBlobs[e.blob] {
				continue
			}
			if meta == nil {
				m := c
				meta = &m
			}
			id := e.blob.String()
			s.resolved.intros[id] = append(s.resolved.intros[id], intro{path: e.path, commit: meta})
		}
		return nil
	}
	err = errNoSpool
	if sp := s.takeSpool(); sp != nil && !spec.noDiff {
		if err = sp.walk(trace); err != nil && ctx.Err() == nil {
			// Walk again from the start, the ordinary way.
			s.resolved.intros, s.resolved.reachable = map[string][]intro{}, map[string]bool{}
		}
	}
	if err != nil && ctx.Err() == nil {
		err = s.walk(ctx, spec, trace)
	}
	if err != nil {
		return fmt.Errorf("walk history: %w", err)
	}
	if len(wantBlobs) > 0 {
		s.direct(refs, wantBlobs)
	}
	return nil
}

var errNoSpool = errors.New("no background walk")

// direct resolves blobs that a ref names directly, or through a tree.
func (s *scan) direct(refs *refInfo, want map[plumbing.Hash]bool) {
	gg := &goGit{r: s.repo, skip: s.skip}
	for _, d := range refs.direct {
		if d.typ == plumbing.BlobObject {
			if want[d.id] {
				s.resolved.intros[d.id.String()] = append(s.resolved.intros[d.id.String()], intro{tag: d.name})
			}
			continue
		}
		es, err := gg.diff(d.id, nil, "", nil)
		if err != nil {
			s.skip("ref "+d.name, err.Error())
		}
		for _, e := range es {
			if want[e.blob] {
				id := e.blob.String()
				s.resolved.intros[id] = append(s.resolved.intros[id], intro{path: e.path, tag: d.name})
			}
		}
	}
}

// limited scans what the commits of a range (or since a commit) introduce.
func (s *scan) limited(ctx context.Context, eng *scanner.Engine, getRefs func() *refInfo) error {
	var spec walkSpec
	if s.opts.Range != "" {
		a, b, ok := strings.Cut(s.opts.Range, "..")
		if !ok || strings.HasPrefix(b, ".") {
			return fmt.Errorf("range %q: want A..B", s.opts.Range)
		}
		if a == "" {
			a = "HEAD"
		}
		if b == "" {
			b = "HEAD"
		}
		ha, err := s.resolve(ctx, a)
		if err != nil {
			return err
		}
		hb, err := s.resolve(ctx, b)
		if err != nil {
			return err
		}
		spec = walkSpec{include: []plumbing.Hash{hb}, exclude: []plumbing.Hash{ha}}
	} else {
		s.refItems = func() []scanner.Item { return refItems(getRefs()) }
		spec = walkSpec{all: true, reflog: s.opts.Reflog, include: getRefs().stash}
		if s.opts.SinceCommit != "" {
			h, err := s.resolve(ctx, s.opts.SinceCommit)
			if err != nil {
				return err
			}
			spec.exclude = []plumbing.Hash{h}
		}
	}
	spec.exclude = append(spec.exclude, s.repo.excludeCommits(s.opts.Exclude)...)
	s.resolved = resolution{intros: map[string][]intro{}, limited: true}
	var ids []plumbing.Hash
	commits := map[plumbing.Hash]bool{}
	err := s.walk(ctx, spec, func(c commitMeta, es []entry) error {
		h, _ := parseHex(c.ID)
		if commits[h] {
			return nil
		}
		commits[h] = true
		ids = append(ids, h)
		m := c
		for _, e := range es {
			id := e.blob.String()
			if len(s.resolved.intros[id]) == 0 {
				ids = append(ids, e.blob)
			}
			s.resolved.intros[id] = append(s.resolved.intros[id], intro{path: e.path, commit: &m})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("walk history: %w", err)
	}
	refs := getRefs()
	var tags []plumbing.Hash
	for t, c := range refs.tags {
		if commits[c] {
			tags = append(tags, t)
		}
	}
	slices.SortFunc(tags, func(a, b plumbing.Hash) int { return strings.Compare(a.String(), b.String()) })
	ids = append(ids, tags...)
	return s.run(ctx, eng, func(ctx context.Context, st store, fn func(storedObject) error) error {
		return st.read(ctx, ids, fn)
	})
}

func (s *scan) resolve(ctx context.Context, rev string) (plumbing.Hash, error) {
	if strings.HasPrefix(rev, "-") {
		return plumbing.ZeroHash, fmt.Errorf("bad revision %q", rev)
	}
	h, err := s.st.resolve(ctx, rev)
	if err != nil && s.alt != nil {
		if h2, err2 := s.alt.resolve(ctx, rev); err2 == nil {
			return h2, nil
		}
	}
	return h, err
}

// locations lists the locations of everything found so far.
func (s *scan) locations() []finding.Location {
	out := make([]finding.Location, 0, len(s.hits)+len(s.near))
	for _, h := range s.hits {
		out = append(out, h.Location)
	}
	for _, n := range s.near {
		out = append(out, n.Location)
	}
	return out
}

// emit resolves every collected hit to its final locations and reports
// each location once.
func (s *scan) emit(sink scanner.Sink) {
	sent := map[string]bool{}
	once := func(v any) bool {
		b, _ := json.Marshal(v)
		if sent[string(b)] {
			return false
		}
		sent[string(b)] = true
		return true
	}
	for _, h := range s.hits {
		for _, l := range s.final(h.Location) {
			h := h
			h.Location = l
			if once(h) {
				sink.Hit(h)
			}
		}
	}
	for _, n := range s.near {
		for _, l := range s.final(n.Location) {
			n := n
			n.Location = l
			if once(n) {
				sink.NearMiss(n)
			}
		}
	}
}

// final turns a location found in an object into where it is in history.
func (s *scan) final(l finding.Location) []finding.Location {
	r := &s.resolved
	switch l.Kind {
	case finding.KindRef:
		return []finding.Location{l}
	case finding.KindCommitMessage:
		if r.reachable != nil && !r.limited && !r.reachable[l.Commit] {
			l.Unreachable = true
		}
		return []finding.Location{l}
	case finding.KindTagMessage:
		id, _ := parseHex(l.Blob)
		l.Blob = ""
		if r.tags != nil && !r.limited {
			if _, ok := r.tags[id]; !ok {
				l.Unreachable = true
			}
		}
		return []finding.Location{l}
	}
	ins := r.intros[l.Blob]
	if len(ins) == 0 {
		if !r.limited {
			l.Unreachable = true
		}
		return []finding.Location{l}
	}
	out := make([]finding.Location, 0, len(ins))
	for _, in := range ins {
		m := l
		m.Path = in.path + l.Path
		m.Tag = in.tag
		if in.commit != nil {
			m.Commit, m.Author, m.Date = in.commit.ID, in.commit.Author, in.commit.Date
		}
		out = append(out, m)
	}
	return out
}
