package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/patterns"
)

// Report is the outcome of one scan (or of several merged).
type Report struct {
	Findings   []finding.Finding  `json:"findings"`
	NearMisses []finding.NearMiss `json:"near_misses,omitempty"`
	Skipped    []finding.Skip     `json:"skipped,omitempty"`
	Warnings   []string           `json:"warnings,omitempty"`
	Stats      Stats              `json:"stats"`
}

// Stats says how much a scan read and how it ended.
type Stats struct {
	Commits    int64 `json:"commits"`
	Blobs      int64 `json:"blobs"`
	Files      int64 `json:"files"`
	URLs       int64 `json:"urls"`
	Bytes      int64 `json:"bytes"`
	DurationMS int64 `json:"duration_ms"`
	// Partial is set when the scan stopped early or left something out.
	Partial bool `json:"partial"`
	// Verified is set when statuses come from the Vault.
	Verified bool `json:"verified"`
	// Allowed counts keys an allowlist kept out of Findings.
	Allowed int64 `json:"allowed"`
}

// Locations returns the number of locations over all findings.
func (r *Report) Locations() int {
	n := 0
	for _, f := range r.Findings {
		n += len(f.Locations)
	}
	return n
}

// WriteJSON writes r as indented JSON in the contract's form, with
// key-shaped text masked.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(Scrubbed(r)); err != nil {
		return fmt.Errorf("write json report: %w", err)
	}
	return nil
}

// MaxJSONSize bounds what ReadJSON accepts.
const MaxJSONSize = 512 << 20

// ReadJSON reads a report written by WriteJSON. It is strict: unknown
// fields, trailing data, missing "findings" or "stats", malformed
// fingerprints, unknown environments or statuses are errors, and so is any
// whole key anywhere in the input (the error names only its offset).
func ReadJSON(r io.Reader) (*Report, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxJSONSize+1))
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	if len(data) > MaxJSONSize {
		return nil, fmt.Errorf("read report: larger than %d MiB", MaxJSONSize>>20)
	}
	if i := patterns.IndexKeyShape(string(data)); i >= 0 {
		return nil, fmt.Errorf("read report: byte %d holds a whole Atomyx key; reports carry fingerprints and redacted forms only", i)
	}
	var raw struct {
		Findings   *[]finding.Finding `json:"findings"`
		NearMisses []finding.NearMiss `json:"near_misses"`
		Skipped    []finding.Skip     `json:"skipped"`
		Warnings   []string           `json:"warnings"`
		Stats      *Stats             `json:"stats"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("read report: %w", describeJSONError(err, data))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("read report: trailing data after the report")
	}
	switch {
	case raw.Findings == nil:
		return nil, errors.New(`read report: "findings" is missing or null`)
	case raw.Stats == nil:
		return nil, errors.New(`read report: "stats" is missing or null`)
	}
	rep := &Report{
		Findings:   *raw.Findings,
		NearMisses: raw.NearMisses,
		Skipped:    raw.Skipped,
		Warnings:   raw.Warnings,
		Stats:      *raw.Stats,
	}
	if err := Validate(rep); err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	// JSON escapes ("atmx\u005f…") could spell a key the raw check missed.
	if b, err := json.Marshal(rep); err != nil || patterns.IndexKeyShape(string(b)) >= 0 {
		return nil, errors.New("read report: a value holds a whole Atomyx key (spelt with escapes); reports carry fingerprints and redacted forms only")
	}
	return rep, nil
}

// describeJSONError adds a line number to the decoder's errors.
func describeJSONError(err error, data []byte) error {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 || off > int64(len(data)) {
		return err
	}
	return fmt.Errorf("line %d: %w", bytes.Count(data[:off], []byte{'\n'})+1, err)
}

// Scrubbed returns a copy of r ready to write: every free-text field passed
// through patterns.Scrub, nil lists made empty where the contract says so.
// r is not modified.
func Scrubbed(r *Report) *Report {
	if r == nil {
		r = &Report{}
	}
	out := *r
	out.Findings = make([]finding.Finding, len(r.Findings))
	for i, f := range r.Findings {
		f.Fingerprint = s(f.Fingerprint)
		f.Redacted = s(f.Redacted)
		f.Environment = s(f.Environment)
		f.Status = finding.Status(s(string(f.Status)))
		f.StatusReason = s(f.StatusReason)
		f.KeyID = s(f.KeyID)
		if f.Owner != nil {
			o := *f.Owner
			o.Org, o.Team, o.Contact = s(o.Org), s(o.Team), s(o.Contact)
			f.Owner = &o
		}
		f.Products = scrubAll(f.Products)
		f.CreatedAt, f.LastUsedAt = s(f.CreatedAt), s(f.LastUsedAt)
		locs := make([]finding.Location, len(f.Locations))
		for j, l := range f.Locations {
			locs[j] = scrubLocation(l)
		}
		f.Locations = locs
		f.EnvironmentMismatch = scrubMismatches(f.EnvironmentMismatch)
		out.Findings[i] = f
	}
	if r.NearMisses != nil {
		out.NearMisses = make([]finding.NearMiss, len(r.NearMisses))
		for i, n := range r.NearMisses {
			out.NearMisses[i] = finding.NearMiss{Redacted: s(n.Redacted), Location: scrubLocation(n.Location)}
		}
	}
	if r.Skipped != nil {
		out.Skipped = make([]finding.Skip, len(r.Skipped))
		for i, k := range r.Skipped {
			out.Skipped[i] = finding.Skip{Where: s(k.Where), Reason: s(k.Reason)}
		}
	}
	out.Warnings = scrubAll(r.Warnings)
	return &out
}

// s masks key-shaped text in one field; short, as Scrubbed calls it for every field.
var s = patterns.Scrub

func scrubAll(list []string) []string {
	if list == nil {
		return nil
	}
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = s(v)
	}
	return out
}

func scrubLocation(l finding.Location) finding.Location {
	l.Source, l.Kind, l.Path, l.URL = s(l.Source), s(l.Kind), s(l.Path), s(l.URL)
	l.Commit, l.Tag, l.Author, l.Date, l.Blob = s(l.Commit), s(l.Tag), s(l.Author), s(l.Date), s(l.Blob)
	l.Decoded = scrubAll(l.Decoded)
	if l.Original != nil {
		o := *l.Original
		o.Path = s(o.Path)
		l.Original = &o
	}
	l.Allowed = s(l.Allowed)
	return l
}

// statusOrder ranks statuses from the most to the least urgent.
var statusOrder = []finding.Status{finding.Active, finding.Unverified, finding.Unknown, finding.Expired, finding.Revoked}

func knownStatus(st finding.Status) bool { return slices.Contains(statusOrder, st) }
