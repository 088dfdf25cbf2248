package scanner

import "github.com/atomyx/atomyx-guard/internal/finding"

// remapSink applies an Item's Remap to what the Detector reports in it.
type remapSink struct {
	Sink
	remap func(finding.Location) finding.Location
}

func (s remapSink) Hit(h finding.Hit) {
	h.Location = s.remap(h.Location)
	s.Sink.Hit(h)
}

func (s remapSink) NearMiss(n finding.NearMiss) {
	n.Location = s.remap(n.Location)
	s.Sink.NearMiss(n)
}

// Skip passes a Skip on to the sink below, when it takes them.
func (s remapSink) Skip(k Skip) {
	if ss, ok := s.Sink.(SkipSink); ok {
		ss.Skip(k)
	}
}
