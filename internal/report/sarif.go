package report

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/atomyx/atomyx-guard/internal/finding"
	"github.com/atomyx/atomyx-guard/internal/version"
	"github.com/atomyx/atomyx-guard/patterns"
)

// ToolInfo names the tool in a SARIF run.
type ToolInfo struct {
	Name string // "atomyx-guard" when empty
	// Version is the build's version (version.String() when empty): code
	// scanning compares analyses by it, and the multitool wants a real one.
	Version        string
	InformationURI string // InformationURI when empty
	// MessageFile names, for a finding that no file holds (a commit or tag
	// message), a repository-relative file to place its result on: code
	// scanning shows only results on files. The git commands give one that
	// the finding's commit changed (package report/commitfile); without it,
	// or when it returns "", the result sits on the repository's root
	// directory (MessageFallbackURI). Either way the commit or tag is named
	// by a logical location and the message.
	MessageFile func(finding.Location) string
	// RepositoryURL ("https://github.com/OWNER/NAME"), when known, adds a
	// link to the commit of a message finding as a related location.
	RepositoryURL string
	// Category, when set, becomes the run's automationDetails.id, so that
	// several analyses of one commit (history, a site) coexist in GitHub.
	Category string
}

// SARIF constants.
const (
	SARIFVersion = "2.1.0"
	SARIFSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
	// RulePrefix starts every rule id: "atomyx-key/production".
	RulePrefix = "atomyx-key/"
	// FingerprintKey and LocationKey name the result's partialFingerprints.
	FingerprintKey = "atomyxKeyFingerprint/v1"
	LocationKey    = "atomyxLocationHash/v1"
	// InformationURI is the project's home, the default driver URI.
	InformationURI = "https://github.com/atomyx/atomyx-guard"
	// HelpURI is every rule's helpUri: the README's section on what to do
	// about a leaked key.
	HelpURI = InformationURI + "#responding"
	// MessageFallbackURI is where a message finding goes when no file
	// its commit changed is known: the repository's root.
	MessageFallbackURI = "."
)

// SARIF 2.1.0, the subset GitHub code scanning reads.
type (
	sarifLog struct {
		Schema  string     `json:"$schema"`
		Version string     `json:"version"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool sarifTool `json:"tool"`
		// Invocations say whether the scan was whole: a partial scan (a
		// shallow clone, a stopped run) is executionSuccessful false.
		Invocations []sarifInvocation `json:"invocations"`
		Results     []sarifResult     `json:"results"`
		// AutomationDetails lets several analyses of one commit coexist.
		AutomationDetails *sarifAutomation `json:"automationDetails,omitempty"`
	}
	sarifAutomation struct {
		ID string `json:"id"`
	}
	sarifInvocation struct {
		ExecutionSuccessful        bool                `json:"executionSuccessful"`
		ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
	}
	sarifNotification struct {
		Level   string    `json:"level"`
		Message sarifText `json:"message"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name           string      `json:"name"`
		Version        string      `json:"version,omitempty"`
		SemanticVer    string      `json:"semanticVersion,omitempty"`
		InformationURI string      `json:"informationUri,omitempty"`
		Rules          []sarifRule `json:"rules"`
	}
	sarifRule struct {
		ID                   string         `json:"id"`
		Name                 string         `json:"name"`
		ShortDescription     sarifText      `json:"shortDescription"`
		FullDescription      sarifText      `json:"fullDescription"`
		HelpURI              string         `json:"helpUri"`
		Help                 sarifHelp      `json:"help"`
		DefaultConfiguration sarifConfig    `json:"defaultConfiguration"`
		Properties           sarifRuleProps `json:"properties"`
	}
	sarifText struct {
		Text string `json:"text"`
	}
	sarifHelp struct {
		Text     string `json:"text"`
		Markdown string `json:"markdown,omitempty"`
	}
	sarifConfig struct {
		Level string `json:"level"`
	}
	sarifRuleProps struct {
		Tags             []string `json:"tags"`
		Precision        string   `json:"precision"`
		SecuritySeverity string   `json:"security-severity"`
	}
	sarifResult struct {
		RuleID              string            `json:"ruleId"`
		RuleIndex           int               `json:"ruleIndex"`
		Level               string            `json:"level"`
		Message             sarifText         `json:"message"`
		Locations           []sarifLocation   `json:"locations"`
		RelatedLocations    []sarifLocation   `json:"relatedLocations,omitempty"`
		PartialFingerprints map[string]string `json:"partialFingerprints"`
		Properties          *sarifResultProps `json:"properties,omitempty"`
	}
	sarifLocation struct {
		ID               int            `json:"id,omitempty"`
		PhysicalLocation sarifPhysical  `json:"physicalLocation"`
		LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
		Message          *sarifText     `json:"message,omitempty"`
	}
	// sarifLogical names what holds a message finding: the commit or tag.
	sarifLogical struct {
		Name               string `json:"name"`
		FullyQualifiedName string `json:"fullyQualifiedName"`
		Kind               string `json:"kind"`
	}
	sarifPhysical struct {
		ArtifactLocation sarifArtifact `json:"artifactLocation"`
		Region           *sarifRegion  `json:"region,omitempty"`
	}
	sarifArtifact struct {
		URI string `json:"uri"`
	}
	sarifRegion struct {
		StartLine   int `json:"startLine"`
		StartColumn int `json:"startColumn,omitempty"`
		EndColumn   int `json:"endColumn,omitempty"`
	}
	sarifResultProps struct {
		Status      string `json:"status"`
		Environment string `json:"environment"`
		// EnvironmentMismatch is set when this place belongs to another
		// environment than the key's.
		EnvironmentMismatch *finding.EnvMismatch `json:"environment_mismatch,omitempty"`
		Commit              string               `json:"commit,omitempty"`
		Author              string               `json:"author,omitempty"`
		Date                string               `json:"date,omitempty"`
		Unreachable         bool                 `json:"unreachable,omitempty"`
	}
)

// ruleFor holds the wording and weight of each environment's rule.
var ruleFor = map[string]struct {
	name, short string
	severity    string
}{
	string(patterns.Production):  {"LeakedProductionAtomyxKey", "Leaked Atomyx production API key", "9.8"},
	string(patterns.Staging):     {"LeakedStagingAtomyxKey", "Leaked Atomyx staging API key", "7.5"},
	string(patterns.Development): {"LeakedDevelopmentAtomyxKey", "Leaked Atomyx development API key", "5.3"},
}

func newRule(env string) sarifRule {
	meta, ok := ruleFor[env]
	if !ok {
		meta.name, meta.short, meta.severity = "LeakedAtomyxKey", "Leaked Atomyx API key", "7.5"
	}
	full := fmt.Sprintf("An Atomyx API key for the %s environment is written in the repository or its history. "+
		"Anyone who can read it can call Atomyx with its owner's rights until it is revoked.", env)
	help := "Treat the key as compromised: deleting it from the file or rewriting history does not undo the leak, " +
		"because clones, forks, caches and CI logs keep it.\n\n" +
		"1. Find the key in Atomyx Vault by the fingerprint in the alert (`atomyx-guard verify`).\n" +
		"2. Create a replacement (reissue), put it into the integration's configuration or secret store, " +
		"and send a controlled test request.\n" +
		"3. Revoke the leaked key (`atomyx-guard respond` does steps 1 to 3 by policy), then watch for failed authentications.\n" +
		"4. Remove the key from the code and read it from the environment or a secret store instead.\n" +
		"5. If the key must stay (a revoked demo key), allowlist it by fingerprint with a reason in .atomyx-guard.toml, " +
		"or mark the line with `atomyx-guard:allow`."
	return sarifRule{
		ID:                   RulePrefix + env,
		Name:                 meta.name,
		ShortDescription:     sarifText{meta.short},
		FullDescription:      sarifText{full},
		HelpURI:              HelpURI,
		Help:                 sarifHelp{Text: strings.ReplaceAll(help, "`", ""), Markdown: "## Remediation\n\n" + help},
		DefaultConfiguration: sarifConfig{Level: "error"},
		Properties: sarifRuleProps{
			Tags:             []string{"security", "secret", "external/cwe/cwe-798"},
			Precision:        "very-high",
			SecuritySeverity: meta.severity,
		},
	}
}

// Level maps a key's status to a SARIF level: live or possibly live keys
// are errors, a key the Vault never issued a warning, a dead key a note.
func Level(st finding.Status) string {
	switch st {
	case finding.Active, finding.Unverified:
		return "error"
	case finding.Unknown:
		return "warning"
	}
	return "note"
}

// WriteSARIF writes r as a SARIF 2.1.0 log with one result per location.
// Rules are one per environment, the three known ones always, so that rule
// indexes are stable from run to run.
func WriteSARIF(w io.Writer, r *Report, tool ToolInfo) error {
	r = Scrubbed(r)
	if tool.Name == "" {
		tool.Name = "atomyx-guard"
	}
	// SARIF2005: a version starts with a digit, so "v1.2.3" loses its v.
	tool.Version = strings.TrimPrefix(cmp.Or(tool.Version, version.String()), "v")
	drv := sarifDriver{Name: tool.Name, Version: tool.Version, InformationURI: cmp.Or(tool.InformationURI, InformationURI)}
	if v := strings.TrimPrefix(tool.Version, "v"); isSemver(v) {
		drv.SemanticVer = v
	}
	index := map[string]int{}
	for _, env := range patterns.Environments {
		index[string(env)] = len(drv.Rules)
		drv.Rules = append(drv.Rules, newRule(string(env)))
	}
	var extra []string
	for _, f := range r.Findings {
		if _, ok := index[f.Environment]; !ok && !slices.Contains(extra, f.Environment) {
			extra = append(extra, f.Environment)
		}
	}
	slices.Sort(extra)
	for _, env := range extra {
		index[env] = len(drv.Rules)
		drv.Rules = append(drv.Rules, newRule(env))
	}

	results := []sarifResult{}
	for _, f := range r.Findings {
		for _, l := range f.Locations {
			results = append(results, sarifResultFor(f, l, index[f.Environment], tool))
		}
	}
	log := sarifLog{
		Schema:  SARIFSchema,
		Version: SARIFVersion,
		Runs:    []sarifRun{{Tool: sarifTool{Driver: drv}, Invocations: []sarifInvocation{invocation(r)}, Results: results}},
	}
	if tool.Category != "" {
		log.Runs[0].AutomationDetails = &sarifAutomation{ID: strings.TrimSuffix(tool.Category, "/") + "/"}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(log); err != nil {
		return fmt.Errorf("write sarif report: %w", err)
	}
	return nil
}

// maxNotifications bounds the skipped items a SARIF log lists one by one.
const maxNotifications = 100

// invocation says how the scan went: executionSuccessful is false when the
// report is partial, and warnings and skipped items become notifications,
// so that code scanning's tool status shows a half-done scan.
func invocation(r *Report) sarifInvocation {
	inv := sarifInvocation{ExecutionSuccessful: !r.Stats.Partial}
	if r.Stats.Partial {
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{
			Level:   "error",
			Message: sarifText{"The scan is partial: something was left out (see the other notifications), so keys may be missing from this analysis."},
		})
	}
	for _, w := range r.Warnings {
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{Level: "warning", Message: sarifText{w}})
	}
	for i, k := range r.Skipped {
		if i == maxNotifications {
			inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{
				Level: "note", Message: sarifText{fmt.Sprintf("…and %d more skipped items (the JSON report lists them all).", len(r.Skipped)-i)}})
			break
		}
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{
			Level: "note", Message: sarifText{fmt.Sprintf("Skipped %s: %s.", k.Where, strings.TrimSuffix(k.Reason, "."))}})
	}
	return inv
}

// isMessage reports whether no file holds the location: a commit or tag
// message (or any git location without a path, such as a ref name).
func isMessage(l finding.Location) bool {
	return l.Kind == finding.KindCommitMessage || l.Kind == finding.KindTagMessage ||
		l.Source == finding.SourceGit && l.Path == "" && l.URL == ""
}

func sarifResultFor(f finding.Finding, l finding.Location, ruleIndex int, tool ToolInfo) sarifResult {
	var (
		loc     sarifLocation
		related []sarifLocation
		uri     string
	)
	_, _, member := strings.Cut(l.Path, "!")
	switch {
	case isMessage(l):
		// Code scanning shows results on files only: put the result on a
		// file the commit changed (line 1), and name the commit or tag as
		// the logical location it really is in.
		if tool.MessageFile != nil {
			uri = pathEscape(cleanPath(patterns.Scrub(tool.MessageFile(l))))
		}
		if uri == "" || uri == "." {
			uri = MessageFallbackURI
		}
		loc.PhysicalLocation = sarifPhysical{ArtifactLocation: sarifArtifact{URI: uri}, Region: &sarifRegion{StartLine: 1}}
		loc.LogicalLocations = []sarifLogical{logicalFor(l)}
		if l.Commit != "" && tool.RepositoryURL != "" {
			related = []sarifLocation{{ID: 1,
				PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: strings.TrimSuffix(tool.RepositoryURL, "/") + "/commit/" + url.PathEscape(l.Commit)}},
				Message:          &sarifText{"commit " + short(l.Commit)}}}
		}
	default:
		uri = ArtifactURI(l)
		// Code scanning needs a startLine on every result. An archive
		// member's lines are not the archive's: its result is on line 1 of
		// the archive, and the message names the member and its line.
		reg := &sarifRegion{StartLine: max(l.Line, 1)}
		if l.Line > 0 && !member && l.Column > 0 {
			reg.StartLine, reg.StartColumn = l.Line, l.Column
			if len(l.Decoded) == 0 {
				// The key stands in the text as is: the region is exactly it.
				reg.EndColumn = l.Column + patterns.KeyLen
			}
		}
		if member {
			reg = &sarifRegion{StartLine: 1}
		}
		loc.PhysicalLocation = sarifPhysical{ArtifactLocation: sarifArtifact{URI: uri}, Region: reg}
	}
	msg := fmt.Sprintf("Atomyx %s key %s (%s), status %s, %s.",
		f.Environment, f.Redacted, f.Fingerprint, f.Status, where(l))
	if isMessage(l) {
		if uri == MessageFallbackURI {
			msg += " No file holds it; the alert is shown at the repository's root."
		} else {
			msg += " No file holds it; the alert is shown on " + uri + ", a file that commit changed."
		}
	}
	if f.StatusReason != "" {
		msg += " Not verified: " + f.StatusReason + "."
	}
	if f.OwnCredential {
		msg += " " + OwnCredentialNote + "."
	}
	if f.Status == finding.Active || f.Status == finding.Unverified {
		msg += " Rotate it and revoke the leaked key."
	}
	mismatch := locationMismatch(f, l)
	if mismatch != nil {
		msg += fmt.Sprintf(" Environment mismatch: this is a %s place (%s); use a %s key here, never a %s one.",
			mismatch.Environment, mismatch.Evidence, mismatch.Environment, f.Environment)
	}
	return sarifResult{
		RuleID:           RulePrefix + f.Environment,
		RuleIndex:        ruleIndex,
		Level:            Level(f.Status),
		Message:          sarifText{msg},
		Locations:        []sarifLocation{loc},
		RelatedLocations: related,
		PartialFingerprints: map[string]string{
			FingerprintKey: f.Fingerprint,
			// The message artifact's hash uses ArtifactURI (commit/<id>),
			// not the file shown, so the alert's identity is the commit's.
			LocationKey: locationHash(f.Fingerprint, ArtifactURI(l), l.Kind),
		},
		Properties: &sarifResultProps{
			Status: string(f.Status), Environment: f.Environment,
			Commit: l.Commit, Author: l.Author, Date: l.Date, Unreachable: l.Unreachable,
			EnvironmentMismatch: mismatch,
		},
	}
}

// logicalFor names the commit or tag that holds a message finding.
func logicalFor(l finding.Location) sarifLogical {
	if l.Kind == finding.KindTagMessage {
		name := cmp.Or(l.Tag, l.Commit, "unknown")
		return sarifLogical{Name: name, FullyQualifiedName: "tag/" + name, Kind: "object"}
	}
	name := cmp.Or(l.Commit, "unknown")
	return sarifLogical{Name: name, FullyQualifiedName: "commit/" + name, Kind: "object"}
}

// cleanPath makes p repository-relative with forward slashes.
func cleanPath(p string) string {
	return path.Clean("/" + strings.ReplaceAll(p, `\`, "/"))[1:]
}

// ArtifactURI is where a location points in SARIF: a repository-relative
// path for files and blobs (archive members by their outer file), the URL
// for url sources, and "commit/<id>" or "tag/<name>" for messages, which no
// file holds.
func ArtifactURI(l finding.Location) string {
	switch {
	case l.Kind == finding.KindCommitMessage:
		return "commit/" + cmp.Or(l.Commit, "unknown")
	case l.Kind == finding.KindTagMessage:
		return "tag/" + pathEscape(cmp.Or(l.Tag, l.Commit, "unknown"))
	case l.Source == finding.SourceURL || l.Path == "" && l.URL != "":
		return l.URL
	case l.Source == finding.SourceStdin && l.Path == "":
		return "stdin"
	}
	// An org scan's file lives in another repository than the one that
	// uploads the SARIF: its URI says which, as OWNER/NAME:path.
	p := l.RepoPath()
	if outer, _, ok := strings.Cut(p, "!"); ok {
		p = outer
	}
	p = cleanPath(p)
	if p == "" {
		p = "."
	}
	return pathEscape(p)
}

// pathEscape percent-encodes what a URI reference may not hold, keeping '/'.
func pathEscape(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// locationHash is a result's identity beside the key's: the key in one
// artifact. Lines and commits stay out of it, so that an alert survives
// edits above the key and new commits that keep it; GitHub folds repeats of
// one key in one file into one alert.
func locationHash(fp, uri, kind string) string {
	h := sha256.New()
	for _, part := range []string{fp, uri, kind} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// where describes a location in a sentence.
func where(l finding.Location) string {
	var b strings.Builder
	switch l.Kind {
	case finding.KindCommitMessage:
		fmt.Fprintf(&b, "in the message of commit %s", short(l.Commit))
	case finding.KindTagMessage:
		fmt.Fprintf(&b, "in the message of tag %s", cmp.Or(l.Tag, short(l.Commit)))
	default:
		fmt.Fprintf(&b, "in %s", position(l))
		if l.Commit != "" {
			fmt.Fprintf(&b, " at commit %s", short(l.Commit))
		}
	}
	if l.Author != "" {
		fmt.Fprintf(&b, " by %s", l.Author)
	}
	if l.Date != "" {
		fmt.Fprintf(&b, " on %s", l.Date)
	}
	if len(l.Decoded) > 0 {
		fmt.Fprintf(&b, ", decoded from %s", strings.Join(l.Decoded, " then "))
	}
	if o := l.Original; o != nil {
		fmt.Fprintf(&b, ", originally %s", originalPos(o))
	}
	if l.Unreachable {
		b.WriteString(", in an unreachable object")
	}
	return b.String()
}

// position is path:line:column, or the URL, or the source.
func position(l finding.Location) string {
	rp := l.RepoPath()
	p := cmp.Or(rp, l.URL, l.Source)
	if rp != "" && l.URL != "" {
		p = l.URL + " (" + rp + ")"
	}
	if l.Line > 0 {
		p += ":" + strconv.Itoa(l.Line)
		if l.Column > 0 {
			p += ":" + strconv.Itoa(l.Column)
		}
	}
	return p
}

func originalPos(o *finding.Original) string {
	p := o.Path
	if o.Line > 0 {
		p += ":" + strconv.Itoa(o.Line)
		if o.Column > 0 {
			p += ":" + strconv.Itoa(o.Column)
		}
	}
	return p
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func isSemver(v string) bool {
	core, _, _ := strings.Cut(v, "-")
	core, _, _ = strings.Cut(core, "+")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if _, err := strconv.ParseUint(p, 10, 32); err != nil {
			return false
		}
	}
	return true
}
