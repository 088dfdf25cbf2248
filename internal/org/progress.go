package org

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Progress is what a run is doing, for a status line: repositories done of
// the total, and what each busy worker is at. Safe for concurrent use; a
// nil Progress ignores updates.
type Progress struct {
	mu          sync.Mutex
	done, total int
	current     map[string]string // full name → "fetching" / "scanning"
}

func (p *Progress) start(total int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.total, p.current = total, map[string]string{}
	p.mu.Unlock()
}

func (p *Progress) phase(repo, what string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	if p.current == nil {
		p.current = map[string]string{}
	}
	p.current[repo] = what
	p.mu.Unlock()
}

func (p *Progress) finish(repo string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	delete(p.current, repo)
	p.done++
	p.mu.Unlock()
}

// Line renders the status in one line, e.g.
// "repositories 3/10 · scanning acme/api · fetching acme/web".
func (p *Progress) Line() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	parts := []string{fmt.Sprintf("repositories %d/%d", p.done, p.total)}
	names := make([]string, 0, len(p.current))
	for n := range p.current {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		parts = append(parts, p.current[n]+" "+n)
	}
	return strings.Join(parts, " · ")
}
