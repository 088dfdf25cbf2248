package org

import "testing"

func TestProgressLine(t *testing.T) {
	var nilP *Progress
	nilP.start(3) // a nil Progress ignores updates
	nilP.phase("acme/a", "fetching")
	nilP.finish("acme/a")

	p := &Progress{}
	p.start(3)
	p.phase("acme/web", "fetching")
	p.phase("acme/api", "fetching")
	p.phase("acme/api", "scanning")
	if got, want := p.Line(), "repositories 0/3 · scanning acme/api · fetching acme/web"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	p.finish("acme/api")
	if got, want := p.Line(), "repositories 1/3 · fetching acme/web"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
