package gitsource

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/atomyx/atomyx-guard/patterns"
	"github.com/go-git/go-git/v5/plumbing"
)

// gitBin is the store that drives the git binary: one cat-file process
// streams every object, one log process walks history. It runs in a
// shadow git directory (sandbox.go), never in the scanned repository.
type gitBin struct {
	path   string // the git executable
	gitDir string // the shadow git directory
	// realDir is the repository's (common) git directory, named in
	// errors instead of the shadow.
	realDir string
	large   int64
	skip    skipFunc
	// timeout bounds each git child (gitTimeout).
	timeout time.Duration
	// refs and reflog name the walk's tips: git never lists the
	// repository's refs itself (--all, --reflog), so that every ref is
	// read once, by go-git, through guardFS.
	refs   func() *refInfo
	reflog func() []plumbing.Hash
	// onGit is Repo.onGit.
	onGit func(sub string)
	// readers is how many cat-file processes read objects at once in a
	// full scan (the engine's workers).
	readers int
	// minPart, when set, overrides defaultMinPart.
	minPart int64
	// roots are the directories the repository's files may resolve into
	// (Repo.roots); noPacks keeps the packs from being read in-process
	// (tests compare both ways).
	roots   []string
	noPacks bool
}

// safeArgs keep settings that could run code, reach the network or change
// what objects say from applying, whatever config git reads (the shadow's
// own, and the user's global config, which is trusted but not needed).
var safeArgs = []string{
	"-c", "core.fsmonitor=",
	"-c", "core.hooksPath=/dev/null",
	"-c", "core.sshCommand=false",
	"-c", "core.askPass=false",
	"-c", "credential.helper=",
	"-c", "protocol.allow=never",
	"-c", "log.showSignature=false",
	"-c", "safe.directory=*",
	"-c", "core.pager=cat",
	"-c", "log.mailmap=false",
	"-c", "core.commitGraph=false",
	"--no-replace-objects",
}

// safeEnv is the process environment without any GIT_* variable (a hook's
// GIT_DIR or GIT_INDEX_FILE, injected config), plus the settings that keep
// git from prompting, locking, paging, running a transport or fetching a
// missing object. GIT_ALLOW_PROTOCOL names no real protocol, so every
// transport is refused; GIT_NO_LAZY_FETCH only exists from git 2.45, hence
// the shadow directory, which has no remote to fetch from anyway.
func safeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GIT_") || strings.HasPrefix(kv, "PAGER=") || strings.HasPrefix(kv, "SSH_ASKPASS=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_OPTIONAL_LOCKS=0",
		"GIT_NO_REPLACE_OBJECTS=1",
		"GIT_ALLOW_PROTOCOL=none",
		"GIT_NO_LAZY_FETCH=1",
		"GIT_SSH_COMMAND=false", "GIT_SSH=false",
		"GIT_ASKPASS=false", "SSH_ASKPASS=false",
		"GIT_PROXY_COMMAND=false",
		"GIT_PAGER=cat", "PAGER=cat",
		"LC_ALL=C",
	)
}

// command is a git child in the shadow directory, with stdin from
// /dev/null (unless the caller sets one) and a deadline: a child that
// hangs (a FIFO in the repository) is killed. stop must be called once the
// child is done; it returns errDeadline's error when the deadline killed
// the child.
func (g *gitBin) command(ctx context.Context, args ...string) (cmd *exec.Cmd, stop func() error) {
	full := append(append(append([]string{}, safeArgs...), "--git-dir="+g.gitDir), args...)
	if g.onGit != nil {
		g.onGit(args[0])
	}
	ctx, cancel := context.WithTimeoutCause(ctx, g.timeout, deadlineError{what: "git " + args[0], after: g.timeout})
	cmd = exec.CommandContext(ctx, g.path, full...)
	cmd.Env = safeEnv()
	cmd.Dir = g.gitDir
	cmd.WaitDelay = 5 * time.Second
	return cmd, func() error {
		cause := context.Cause(ctx)
		cancel()
		var de deadlineError
		if errors.As(cause, &de) {
			return de
		}
		return nil
	}
}

// deadlineError says a git child was killed at its deadline.
type deadlineError struct {
	what  string
	after time.Duration
}

func (e deadlineError) Error() string {
	return fmt.Sprintf("%s ran longer than %s and was stopped", e.what, e.after)
}

// gitTimeout is the deadline of one git child: a minute, plus a second
// per MiB of the object store, so that it scales with what git may have
// to read (the largest repositories read far faster than 1 MiB/s).
func gitTimeout(r *Repo) time.Duration {
	if r.gitTimeout > 0 {
		return r.gitTimeout
	}
	var size int64
	des, _ := os.ReadDir(r.commonPath("objects", "pack"))
	for _, de := range des {
		if fi, err := de.Info(); err == nil && fi.Mode().IsRegular() {
			size += fi.Size()
		}
	}
	return time.Minute + time.Duration(size>>20)*time.Second
}

// stderrTail keeps the last bytes a process wrote to stderr, for errors.
// Paths into the shadow directory are told as the repository's.
type stderrTail struct {
	bytes.Buffer
	shadow, real string
}

// tail is a stderrTail for one of g's children.
func (g *gitBin) tail() *stderrTail {
	return &stderrTail{shadow: g.gitDir, real: g.realDir}
}

func (s *stderrTail) Write(p []byte) (int, error) {
	s.Buffer.Write(p)
	if s.Len() > 4096 {
		b := s.Bytes()
		s.Reset()
		s.Write(b[len(b)-2048:])
	}
	return len(p), nil
}

// msg is git's last line on stderr, masked: git quotes ref names and
// paths, which may hold a key.
func (s *stderrTail) msg() string {
	lines := strings.Split(strings.TrimSpace(s.String()), "\n")
	msg := strings.TrimSpace(lines[len(lines)-1])
	if s.shadow != "" {
		msg = strings.ReplaceAll(msg, s.shadow, s.real)
	}
	return patterns.RedactRuns(msg)
}

// resolve names a revision's commit with rev-parse.
func (g *gitBin) resolve(ctx context.Context, rev string) (plumbing.Hash, error) {
	errb := g.tail()
	cmd, stop := g.command(ctx, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	defer stop()
	cmd.Stderr = errb
	out, err := cmd.Output()
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("unknown revision %q", rev)
	}
	h, ok := parseHex(bytes.TrimSpace(out))
	if !ok {
		return plumbing.ZeroHash, fmt.Errorf("unknown revision %q", rev)
	}
	return h, nil
}

// batchHeader parses a cat-file --batch header line without its newline:
// "<id> <type> <size>" or "<id> missing".
func parseBatchHeader(line []byte) (id plumbing.Hash, typ plumbing.ObjectType, size int64, err error) {
	f := bytes.Fields(line)
	if len(f) >= 1 {
		var ok bool
		if id, ok = parseHex(f[0]); !ok {
			return id, 0, 0, fmt.Errorf("bad cat-file header %.60q", line)
		}
	}
	if len(f) == 2 && (string(f[1]) == "missing" || string(f[1]) == "ambiguous") {
		return id, plumbing.InvalidObject, 0, nil
	}
	if len(f) != 3 {
		return id, 0, 0, fmt.Errorf("bad cat-file header %.60q", line)
	}
	typ, err = plumbing.ParseObjectType(string(f[1]))
	if err != nil {
		return id, 0, 0, fmt.Errorf("bad cat-file header %.60q", line)
	}
	size, err = strconv.ParseInt(string(f[2]), 10, 64)
	if err != nil || size < 0 {
		return id, 0, 0, fmt.Errorf("bad cat-file header %.60q", line)
	}
	return id, typ, size, nil
}

// errFn wraps an error returned by the caller's fn, so that it ends the
// scan instead of being taken for a broken stream.
type errFn struct{ err error }

func (e errFn) Error() string { return e.err.Error() }
func (e errFn) Unwrap() error { return e.err }

// readBatch reads cat-file --batch output until EOF. current is set to the
// object being read, so that when the stream breaks the caller knows which
// object broke it. done is called for each object fully read. Large blobs
// are streamed later, under life (see readFor).
func (g *gitBin) readBatch(ctx, life context.Context, br *bufio.Reader, current *plumbing.Hash, done func(plumbing.Hash), fn func(storedObject) error) error {
	for {
		*current = plumbing.ZeroHash
		line, err := br.ReadSlice('\n')
		if errors.Is(err, io.EOF) && len(line) == 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read cat-file output: %w", err)
		}
		id, typ, size, err := parseBatchHeader(line[:len(line)-1])
		if err != nil {
			return err
		}
		*current = id
		if typ == plumbing.InvalidObject {
			g.skip("object "+id.String(), "corrupt or unreadable object")
			done(id)
			continue
		}
		o := storedObject{id: id, typ: typ, size: size}
		switch {
		case typ == plumbing.BlobObject && size > g.large:
			o.open = func() (io.ReadCloser, error) { return g.openObject(life, typ, id) }
			if err := discard(br, size+1); err != nil {
				return err
			}
		case (typ == plumbing.CommitObject || typ == plumbing.TagObject) && size > g.large:
			// Its header from here, its message streamed (see largeMessage).
			o.open = func() (io.ReadCloser, error) { return g.openObject(life, typ, id) }
			head := min(size, maxHeaderPrefix)
			o.data, o.release = getBuf(int(head))
			if _, err := io.ReadFull(br, o.data); err != nil {
				o.release()
				return fmt.Errorf("read object %s: %w", id, err)
			}
			if err := discard(br, size-head+1); err != nil {
				o.release()
				return err
			}
		case typ == plumbing.BlobObject || typ == plumbing.CommitObject || typ == plumbing.TagObject:
			o.data, o.release = getBuf(int(size))
			if _, err := io.ReadFull(br, o.data); err != nil {
				o.release()
				return fmt.Errorf("read object %s: %w", id, err)
			}
			if _, err := br.Discard(1); err != nil {
				o.release()
				return fmt.Errorf("read object %s: %w", id, err)
			}
		default:
			if err := discard(br, size+1); err != nil {
				return err
			}
		}
		done(id)
		if o.data == nil && o.open == nil {
			continue // a tree
		}
		if err := ctx.Err(); err != nil {
			if o.release != nil {
				o.release()
			}
			return errFn{err}
		}
		if err := fn(o); err != nil {
			return errFn{err}
		}
	}
}

func discard(br *bufio.Reader, n int64) error {
	for n > 0 {
		step := int(min(n, 1<<30))
		m, err := br.Discard(step)
		n -= int64(m)
		if err != nil {
			return fmt.Errorf("read cat-file output: %w", err)
		}
	}
	return nil
}

// openObject streams one large object from its own cat-file process, so
// that it can be read in bounded memory (and more than once).
func (g *gitBin) openObject(ctx context.Context, typ plumbing.ObjectType, id plumbing.Hash) (io.ReadCloser, error) {
	cmd, stop := g.command(ctx, "cat-file", typ.String(), id.String())
	errb := g.tail()
	cmd.Stderr = errb
	out, err := cmd.StdoutPipe()
	if err != nil {
		stop()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		stop()
		return nil, fmt.Errorf("start git: %w", err)
	}
	return &cmdReader{r: out, cmd: cmd, errb: errb, stop: stop}, nil
}

type cmdReader struct {
	r    io.Reader
	cmd  *exec.Cmd
	errb *stderrTail
	stop func() error
	once sync.Once
	err  error
}

func (c *cmdReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if errors.Is(err, io.EOF) {
		if werr := c.wait(); werr != nil {
			return n, werr
		}
	}
	return n, err
}

func (c *cmdReader) wait() error {
	c.once.Do(func() {
		err := c.cmd.Wait()
		if de := c.stop(); de != nil {
			c.err = de
		} else if err != nil {
			c.err = fmt.Errorf("git cat-file: %s: %w", c.errb.msg(), err)
		}
	})
	return c.err
}

func (c *cmdReader) Close() error {
	if c.cmd.ProcessState == nil && c.cmd.Process != nil {
		_ = c.cmd.Process.Kill()
	}
	_ = c.wait()
	return nil
}

// all reads every object but trees: the packs in-process when they can
// be (allFromPacks). Otherwise one cat-file lists the store's
// objects with their types, sizes and delta bases (headers only, no
// inflating), and readers more read the blobs, commits and tags by id.
// Each reader gets whole delta families (an object, its base, its base's
// base...), in pack order: the inflating, which one git process does on
// one core, runs on every core the scan may use, and no reader inflates a
// base another reader also inflates, so that the readers together cost no
// more CPU than one. Trees hold no text a key could hide in and are most
// of a history's objects, so leaving them unread makes the whole scan
// cheaper than reading every object once (cat-file --batch-all-objects
// --batch). A corrupt object is skipped by read, which goes on with the
// rest.
func (g *gitBin) all(ctx context.Context, fn func(storedObject) error) error {
	if !g.noPacks {
		if pr, err := openPacks(filepath.Join(g.gitDir, "objects"), g.roots); err == nil {
			defer pr.close()
			return g.allFromPacks(ctx, pr, fn)
		}
	}
	objs, err := g.listScannable(ctx)
	if err != nil {
		return err
	}
	least := int64(defaultMinPart)
	if g.minPart > 0 {
		least = g.minPart
	}
	parts := objs.split(g.readers, least)
	if len(parts) <= 1 {
		return g.read(ctx, objs.scannable(), fn)
	}
	life := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex // fn is called by one reader at a time
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	locked := func(o storedObject) error {
		mu.Lock()
		defer mu.Unlock()
		return fn(o)
	}
	for _, part := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := g.readFor(ctx, life, part, locked); err != nil {
				errMu.Lock()
				if first == nil {
					first = err
				}
				errMu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	return first
}

// defaultMinPart is the least content, in bytes, worth a reader of its own: a
// git process costs a few milliseconds to start.
const defaultMinPart = 8 << 20

// objectList is the store's listing, in pack order, each object once.
type objectList struct {
	ids   []plumbing.Hash
	sizes []int64
	trees []bool
	// family is, for each object, the index of its delta family's root
	// (union-find over delta bases, path-halved).
	family []int32
}

func (l *objectList) root(i int32) int32 {
	for l.family[i] != i {
		l.family[i] = l.family[l.family[i]]
		i = l.family[i]
	}
	return i
}

// scannable is every object but the trees, in pack order.
func (l *objectList) scannable() []plumbing.Hash {
	out := make([]plumbing.Hash, 0, len(l.ids))
	for i, id := range l.ids {
		if !l.trees[i] {
			out = append(out, id)
		}
	}
	return out
}

// split deals the scannable objects to at most n readers, whole delta
// families at a time, each to the least loaded reader when the family is
// first met, keeping pack order within each reader. Fewer readers when
// the content is small (minPart bytes each); one list when n <= 1.
func (l *objectList) split(n int, minPart int64) [][]plumbing.Hash {
	var total int64
	famSize := make(map[int32]int64)
	for i := range l.ids {
		if !l.trees[i] {
			total += l.sizes[i]
			famSize[l.root(int32(i))] += l.sizes[i]
		}
	}
	if k := int(total / minPart); n > k {
		n = k
	}
	if n <= 1 {
		return [][]plumbing.Hash{l.scannable()}
	}
	out := make([][]plumbing.Hash, n)
	load := make([]int64, n)
	owner := make(map[int32]int, len(famSize))
	for i, id := range l.ids {
		if l.trees[i] {
			continue
		}
		r := l.root(int32(i))
		k, ok := owner[r]
		if !ok {
			k = 0
			for j := range load {
				if load[j] < load[k] {
					k = j
				}
			}
			owner[r] = k
			load[k] += famSize[r]
		}
		out[k] = append(out[k], id)
	}
	return out
}

// listScannable lists every object in the store once (the first pack
// that holds it wins), in pack order, with its type, size and delta
// family.
func (g *gitBin) listScannable(ctx context.Context) (*objectList, error) {
	l := &objectList{}
	index := map[plumbing.Hash]int32{}
	var bases []plumbing.Hash
	err := g.batch(ctx, []string{"cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objecttype) %(objectsize) %(deltabase)", "--unordered"}, nil, func(br *bufio.Reader) error {
		for {
			line, err := br.ReadSlice('\n')
			if errors.Is(err, io.EOF) && len(line) == 0 {
				return nil
			}
			if err != nil {
				return err
			}
			id, typ, size, base, ok := parseCheckLine(bytes.TrimSpace(line))
			if !ok {
				// "<id> missing": listed but unreadable (a corrupt loose
				// object). A reader asks for it all the same, so that it
				// is reported as skipped rather than silently left out.
				name, _, _ := bytes.Cut(bytes.TrimSpace(line), []byte{' '})
				if id, ok = parseHex(name); !ok {
					continue
				}
				typ, size, base = plumbing.InvalidObject, 0, plumbing.ZeroHash
			}
			if _, dup := index[id]; dup {
				continue // in more than one pack
			}
			if len(l.ids) >= math.MaxInt32 {
				return fmt.Errorf("more than %d objects", math.MaxInt32)
			}
			index[id] = int32(len(l.ids))
			l.ids = append(l.ids, id)
			l.sizes = append(l.sizes, size)
			l.trees = append(l.trees, typ == plumbing.TreeObject)
			bases = append(bases, base)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("list objects: %w", err)
	}
	l.family = make([]int32, len(l.ids))
	for i := range l.family {
		l.family[i] = int32(i)
	}
	for i, b := range bases {
		if b.IsZero() {
			continue
		}
		if j, ok := index[b]; ok {
			if ra, rb := l.root(int32(i)), l.root(j); ra != rb {
				l.family[ra] = rb
			}
		}
	}
	return l, nil
}

// parseCheckLine reads "<id> <type> <size> <delta base>" of cat-file
// --batch-check (the base all zeros when the object is no delta).
func parseCheckLine(line []byte) (id plumbing.Hash, typ plumbing.ObjectType, size int64, base plumbing.Hash, ok bool) {
	k := bytes.LastIndexByte(line, ' ')
	if k < 0 {
		return id, typ, size, base, false
	}
	if base, ok = parseHex(line[k+1:]); !ok {
		return id, typ, size, base, false
	}
	id, typ, size, err := parseBatchHeader(line[:k])
	if err != nil || typ == plumbing.InvalidObject {
		return id, typ, size, base, false
	}
	return id, typ, size, base, true
}

// read reads objects by id with cat-file --batch. When a corrupt object
// makes git die, that object is skipped and a new process reads the rest.
func (g *gitBin) read(ctx context.Context, ids []plumbing.Hash, fn func(storedObject) error) error {
	return g.readFor(ctx, ctx, ids, fn)
}

// readFor is read for one of several readers, whose ctx is cancelled as
// soon as they are done or one fails: the large blobs it hands on are
// opened when the scan gets to them, which may be later, so they are
// opened under life, the scan's own context.
func (g *gitBin) readFor(ctx, life context.Context, ids []plumbing.Hash, fn func(storedObject) error) error {
	for restarts := 0; len(ids) > 0; restarts++ {
		if restarts > 1000 {
			return fmt.Errorf("git cat-file keeps failing; %d objects left unread", len(ids))
		}
		next := 0 // index of the object being read
		var current plumbing.Hash
		todo := ids
		err := g.batch(ctx, []string{"cat-file", "--batch", "--buffer"}, func(w io.Writer) error {
			bw := bufio.NewWriter(w)
			for _, id := range todo {
				bw.WriteString(id.String())
				bw.WriteByte('\n')
			}
			return bw.Flush()
		}, func(br *bufio.Reader) error {
			return g.readBatch(ctx, life, br, &current, func(plumbing.Hash) { next++ }, fn)
		})
		if err == nil {
			return nil
		}
		var fe errFn
		if errors.As(err, &fe) || ctx.Err() != nil {
			return err
		}
		if next >= len(ids) {
			return err
		}
		g.skip("object "+ids[next].String(), err.Error())
		ids = ids[next+1:]
	}
	return nil
}

// batch runs one git process, feeding its stdin with in (when set) while
// out reads its stdout. The error is out's, or git's exit status.
func (g *gitBin) batch(ctx context.Context, args []string, in func(io.Writer) error, out func(*bufio.Reader) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd, stop := g.command(ctx, args...)
	defer stop()
	errb := g.tail()
	cmd.Stderr = errb
	stdout, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer stdout.Close()
	growPipe(w)
	cmd.Stdout = w
	var stdin io.WriteCloser
	if in != nil {
		if stdin, err = cmd.StdinPipe(); err != nil {
			return err
		}
	}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return fmt.Errorf("start git: %w", err)
	}
	var wg sync.WaitGroup
	if in != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = in(stdin) // a write error means git died; its exit says why
			stdin.Close()
		}()
	}
	outErr := out(bufio.NewReaderSize(stdout, 1<<20))
	var fe errFn
	if errors.As(outErr, &fe) {
		cancel() // the caller stops: stop git, unblock the writer
	}
	_, _ = io.Copy(io.Discard, stdout)
	waitErr := cmd.Wait()
	wg.Wait()
	deadline := stop()
	switch {
	case errors.As(outErr, &fe):
		return outErr
	case deadline != nil:
		return deadline
	case waitErr != nil && errb.msg() != "":
		return fmt.Errorf("git %s: %s", args[0], errb.msg())
	case outErr != nil:
		return outErr
	case waitErr != nil:
		return fmt.Errorf("git %s: %w", args[0], waitErr)
	}
	return nil
}

// walk runs one git log over the selected history, --raw with combined
// diffs for merges, and hands each commit's introduced entries to fn.
func (g *gitBin) walk(ctx context.Context, spec walkSpec, fn func(commitMeta, []entry) error) error {
	return g.log(ctx, spec, func(br *bufio.Reader) error { return parseWalk(br, fn) })
}

// parseWalk parses git log output for walk.
func parseWalk(br *bufio.Reader, fn func(commitMeta, []entry) error) error {
	if err := parseLog(br, fn); err != nil {
		var fe errFn
		if errors.As(err, &fe) {
			return err
		}
		return fmt.Errorf("git log output: %w", err)
	}
	return nil
}

// log runs the git log that walk parses, handing its output to out.
func (g *gitBin) log(ctx context.Context, spec walkSpec, out func(*bufio.Reader) error) error {
	args := []string{"log", "-z", "--no-color", "--no-notes", "--date=raw",
		"--format=%x01%H%x00%ad%x00%an <%ae>"}
	if !spec.noDiff {
		args = append(args, "--raw", "-c", "--root", "--no-renames", "--no-abbrev", "--no-ext-diff", "--no-textconv")
	}
	// Tips are named on stdin, never by --all or --reflog: the refs and
	// reflogs are read once, by go-git through guardFS.
	include := spec.include
	if spec.all {
		include = append(append([]plumbing.Hash{}, include...), g.refs().commits...)
	}
	if spec.reflog {
		include = append(append([]plumbing.Hash{}, include...), g.reflog()...)
	}
	// A reflog may name commits gc has since removed: skip those.
	args = append(args, "--ignore-missing", "--stdin", "--end-of-options")
	if len(include) == 0 {
		return nil
	}
	return g.batch(ctx, args, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		for _, h := range include {
			bw.WriteString(h.String() + "\n")
		}
		for _, h := range spec.exclude {
			bw.WriteString("^" + h.String() + "\n")
		}
		return bw.Flush()
	}, out)
}

// logSpool is a git log running in the background into an unlinked
// temporary file, so that tracing keys to their commits overlaps the
// object scan instead of following it.
type logSpool struct {
	f      *os.File
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// spoolLog starts the log walk would run and returns at once.
func (g *gitBin) spoolLog(ctx context.Context, spec walkSpec) *logSpool {
	ctx, cancel := context.WithCancel(ctx)
	sp := &logSpool{cancel: cancel, done: make(chan struct{})}
	f, err := os.CreateTemp("", "atomyx-guard-log-*")
	if err != nil {
		sp.err = err
		close(sp.done)
		return sp
	}
	sp.f = f
	go func() {
		defer close(sp.done)
		sp.err = g.log(ctx, spec, func(br *bufio.Reader) error {
			_, err := io.Copy(f, br)
			return err
		})
	}()
	return sp
}

// walk waits for the spooled log and parses it as walk does.
func (sp *logSpool) walk(fn func(commitMeta, []entry) error) error {
	<-sp.done
	if sp.err != nil {
		return sp.err
	}
	if _, err := sp.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	return parseWalk(bufio.NewReaderSize(sp.f, 1<<20), fn)
}

// close stops the log if it still runs and removes its file.
func (sp *logSpool) close() {
	sp.cancel()
	<-sp.done
	if sp.f != nil {
		sp.f.Close()
		os.Remove(sp.f.Name())
	}
}

// logState is what parseLog expects as the next token.
type logState int

const (
	wantAny    logState = iota // a commit header, an entry, or separators
	wantDate                   // the raw date after a commit header
	wantAuthor                 // "Name <email>" after the date
	wantPath                   // the path after a raw entry
)

// parseLog reads `git log -z --raw -c --format=%x01%H%x00%ad%x00%an <%ae>`
// output: a commit header, its raw date and author, then entries, each a
// ":modes ids status" token and a path token (one colon per parent).
func parseLog(r *bufio.Reader, fn func(commitMeta, []entry) error) error {
	var (
		cur     commitMeta
		have    bool
		entries []entry
		state   logState
		pending plumbing.Hash
		keep    bool
	)
	flush := func() error {
		if !have {
			return nil
		}
		err := fn(cur, entries)
		entries = entries[:0]
		have = false
		if err != nil {
			return errFn{err}
		}
		return nil
	}
	var tok []byte
	for {
		t, err := r.ReadSlice(0)
		if errors.Is(err, bufio.ErrBufferFull) {
			tok = append(tok[:0], t...)
			for errors.Is(err, bufio.ErrBufferFull) {
				t, err = r.ReadSlice(0)
				tok = append(tok, t...)
			}
			t = tok
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		eof := err != nil
		if len(t) > 0 && t[len(t)-1] == 0 {
			t = t[:len(t)-1]
		}
		switch state {
		case wantDate:
			cur.Date = formatRawDate(t)
			state = wantAuthor
		case wantAuthor:
			cur.Author = string(t)
			state = wantAny
		case wantPath:
			if keep {
				entries = append(entries, entry{path: string(t), blob: pending})
			}
			state = wantAny
		default:
			t = bytes.TrimLeft(t, "\n")
			switch {
			case len(t) == 0:
			case t[0] == 1:
				if err := flush(); err != nil {
					return err
				}
				id, ok := parseHex(t[1:])
				if !ok {
					return fmt.Errorf("bad commit line %.60q", t)
				}
				cur = commitMeta{ID: id.String()}
				have = true
				state = wantDate
			case t[0] == ':':
				if !have {
					return fmt.Errorf("entry before any commit")
				}
				pending, keep = parseRawEntry(t)
				state = wantPath
			default:
				return fmt.Errorf("unexpected token %.60q", t)
			}
		}
		if eof {
			if state != wantAny {
				return fmt.Errorf("truncated output")
			}
			return flush()
		}
	}
}

// parseRawEntry reads ":100644 100644 <src> <dst> M" (one colon and one
// source per parent) and says whether the entry brings a blob that no
// parent has at its path.
func parseRawEntry(t []byte) (blob plumbing.Hash, keep bool) {
	n := 0
	for n < len(t) && t[n] == ':' {
		n++
	}
	f := bytes.Fields(t[n:])
	// n+1 modes, n+1 ids, status
	if len(f) != 2*(n+1)+1 {
		return blob, false
	}
	mode := f[n]
	if string(mode) == "160000" || string(mode) == "040000" || string(mode) == "000000" {
		return blob, false // gitlink, tree, deletion
	}
	dst, ok := parseHex(f[2*n+1])
	if !ok || dst.IsZero() {
		return blob, false
	}
	for _, src := range f[n+1 : 2*n+1] {
		if s, ok := parseHex(src); !ok || s == dst {
			return blob, false
		}
	}
	return dst, true
}
