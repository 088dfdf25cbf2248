package report

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/finding"
)

// sarifProps lists, per SARIF 2.1.0 object this package writes, the
// properties the OASIS schema (sarif-schema-2.1.0.json) allows and those it
// requires. Every object in WriteSARIF's output is checked against it, so a
// misspelt field name fails here rather than in GitHub's upload.
var sarifProps = map[string]struct{ allowed, required []string }{
	"sarifLog":                 {[]string{"$schema", "version", "runs", "inlineExternalProperties", "properties"}, []string{"version", "runs"}},
	"run":                      {[]string{"tool", "invocations", "conversion", "language", "versionControlProvenance", "originalUriBaseIds", "artifacts", "logicalLocations", "graphs", "results", "automationDetails", "runAggregates", "baselineGuid", "redactionTokens", "defaultEncoding", "defaultSourceLanguage", "newlineSequences", "columnKind", "externalPropertyFileReferences", "threadFlowLocations", "taxonomies", "addresses", "translations", "policies", "webRequests", "webResponses", "specialLocations", "properties"}, []string{"tool"}},
	"tool":                     {[]string{"driver", "extensions", "properties"}, []string{"driver"}},
	"toolComponent":            {[]string{"guid", "name", "organization", "product", "productSuite", "shortDescription", "fullDescription", "fullName", "version", "semanticVersion", "dottedQuadFileVersion", "releaseDateUtc", "downloadUri", "informationUri", "globalMessageStrings", "notifications", "rules", "taxa", "locations", "language", "contents", "isComprehensive", "localizedDataSemanticVersion", "minimumRequiredLocalizedDataSemanticVersion", "associatedComponent", "translationMetadata", "supportedTaxonomies", "properties"}, []string{"name"}},
	"reportingDescriptor":      {[]string{"id", "deprecatedIds", "guid", "deprecatedGuids", "name", "deprecatedNames", "shortDescription", "fullDescription", "messageStrings", "defaultConfiguration", "helpUri", "help", "relationships", "properties"}, []string{"id"}},
	"multiformatMessageString": {[]string{"text", "markdown", "properties"}, []string{"text"}},
	"reportingConfiguration":   {[]string{"enabled", "level", "rank", "parameters", "properties"}, nil},
	"result":                   {[]string{"ruleId", "ruleIndex", "rule", "kind", "level", "message", "analysisTarget", "locations", "guid", "correlationGuid", "occurrenceCount", "partialFingerprints", "fingerprints", "stacks", "codeFlows", "graphs", "graphTraversals", "relatedLocations", "suppressions", "baselineState", "rank", "attachments", "hostedViewerUri", "workItemUris", "provenance", "fixes", "taxa", "webRequest", "webResponse", "properties"}, []string{"message"}},
	"message":                  {[]string{"text", "markdown", "id", "arguments", "properties"}, nil},
	"location":                 {[]string{"id", "physicalLocation", "logicalLocations", "message", "annotations", "relationships", "properties"}, nil},
	"physicalLocation":         {[]string{"address", "artifactLocation", "region", "contextRegion", "properties"}, []string{"artifactLocation"}},
	"artifactLocation":         {[]string{"uri", "uriBaseId", "index", "description", "properties"}, nil},
	"region":                   {[]string{"startLine", "startColumn", "endLine", "endColumn", "charOffset", "charLength", "byteOffset", "byteLength", "snippet", "message", "sourceLanguage", "properties"}, []string{"startLine"}},
	"runAutomationDetails":     {[]string{"description", "id", "guid", "correlationGuid", "properties"}, nil},
}

// sarifChildren maps a property to the object type it holds.
var sarifChildren = map[string]map[string]string{
	"sarifLog":            {"runs": "run"},
	"run":                 {"tool": "tool", "results": "result", "automationDetails": "runAutomationDetails"},
	"tool":                {"driver": "toolComponent"},
	"toolComponent":       {"rules": "reportingDescriptor", "shortDescription": "multiformatMessageString", "fullDescription": "multiformatMessageString"},
	"reportingDescriptor": {"shortDescription": "multiformatMessageString", "fullDescription": "multiformatMessageString", "help": "multiformatMessageString", "defaultConfiguration": "reportingConfiguration"},
	"result":              {"message": "message", "locations": "location"},
	"location":            {"physicalLocation": "physicalLocation"},
	"physicalLocation":    {"artifactLocation": "artifactLocation", "region": "region"},
}

func checkSARIFObject(t *testing.T, typ, at string, v any) {
	t.Helper()
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			checkSARIFObject(t, typ, at+"[]", e)
		}
		return
	case map[string]any:
		spec, ok := sarifProps[typ]
		if !ok {
			t.Fatalf("%s: no schema entry for %s", at, typ)
		}
		for k, child := range x {
			if !slices.Contains(spec.allowed, k) {
				t.Errorf("%s: %s has no property %q in SARIF 2.1.0", at, typ, k)
			}
			if ct, ok := sarifChildren[typ][k]; ok {
				checkSARIFObject(t, ct, at+"."+k, child)
			}
		}
		for _, k := range spec.required {
			if _, ok := x[k]; !ok {
				t.Errorf("%s: %s lacks required %q", at, typ, k)
			}
		}
		if typ == "region" || typ == "reportingConfiguration" || typ == "result" {
			for _, k := range []string{"startLine", "startColumn", "endColumn"} {
				if n, ok := x[k].(float64); ok && n < 1 {
					t.Errorf("%s.%s = %v, minimum 1", at, k, n)
				}
			}
			if lv, ok := x["level"]; ok && !slices.Contains([]any{"none", "note", "warning", "error"}, lv) {
				t.Errorf("%s.level = %v", at, lv)
			}
		}
	default:
		t.Errorf("%s: want an object, got %T", at, v)
	}
}

func writeSARIF(t *testing.T, r *Report, tool ToolInfo) map[string]any {
	t.Helper()
	var b bytes.Buffer
	if err := WriteSARIF(&b, r, tool); err != nil {
		t.Fatal(err)
	}
	var log map[string]any
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	return log
}

func TestSARIFSchema(t *testing.T) {
	for name, r := range map[string]*Report{"fixture": fixture(), "empty": {}} {
		t.Run(name, func(t *testing.T) {
			log := writeSARIF(t, r, ToolInfo{Version: "1.0.0", InformationURI: "https://example.com", Category: "history"})
			checkSARIFObject(t, "sarifLog", "$", log)
			if log["version"] != "2.1.0" || !strings.Contains(log["$schema"].(string), "sarif-2.1.0") {
				t.Errorf("version/schema = %v / %v", log["version"], log["$schema"])
			}
			run := log["runs"].([]any)[0].(map[string]any)
			if _, ok := run["results"].([]any); !ok {
				t.Error("results must be an array, even when empty")
			}
			if id := run["automationDetails"].(map[string]any)["id"]; id != "history/" {
				t.Errorf("automationDetails.id = %v", id)
			}
		})
	}
}

// TestSARIFResults checks what GitHub relies on: one result per location,
// ruleIndex naming the rule of ruleId, levels by status, relative uris, and
// stable partial fingerprints.
func TestSARIFResults(t *testing.T) {
	r := fixture()
	log := writeSARIF(t, r, ToolInfo{})
	run := log["runs"].([]any)[0].(map[string]any)
	drv := run["tool"].(map[string]any)["driver"].(map[string]any)
	if drv["name"] != "atomyx-guard" {
		t.Errorf("driver name = %v", drv["name"])
	}
	rules := drv["rules"].([]any)
	results := run["results"].([]any)
	if len(results) != r.Locations() {
		t.Fatalf("%d results for %d locations", len(results), r.Locations())
	}
	wantLevel := map[finding.Status]string{
		finding.Active: "error", finding.Unverified: "error", finding.Unknown: "warning",
		finding.Revoked: "note", finding.Expired: "note",
	}
	i := 0
	for _, f := range r.Findings {
		for _, l := range f.Locations {
			res := results[i].(map[string]any)
			i++
			rule := rules[int(res["ruleIndex"].(float64))].(map[string]any)
			if res["ruleId"] != rule["id"] || rule["id"] != "atomyx-key/"+f.Environment {
				t.Errorf("result %d: ruleId %v, rule at ruleIndex %v", i, res["ruleId"], rule["id"])
			}
			if res["level"] != wantLevel[f.Status] {
				t.Errorf("result %d: level %v for %s", i, res["level"], f.Status)
			}
			msg := res["message"].(map[string]any)["text"].(string)
			if !strings.Contains(msg, f.Redacted) || !strings.Contains(msg, f.Fingerprint) {
				t.Errorf("result %d: message lacks the redacted key or fingerprint: %s", i, msg)
			}
			pf := res["partialFingerprints"].(map[string]any)
			if pf[FingerprintKey] != f.Fingerprint || pf[LocationKey] == "" {
				t.Errorf("result %d: partialFingerprints %v", i, pf)
			}
			uri := res["locations"].([]any)[0].(map[string]any)["physicalLocation"].(map[string]any)["artifactLocation"].(map[string]any)["uri"].(string)
			u, err := url.Parse(uri)
			if err != nil {
				t.Errorf("result %d: uri %q: %v", i, uri, err)
				continue
			}
			if l.Source == finding.SourceURL {
				if uri != l.URL {
					t.Errorf("url source: uri %q, want %q", uri, l.URL)
				}
			} else if u.IsAbs() || strings.HasPrefix(uri, "/") || strings.Contains(uri, "..") {
				t.Errorf("result %d: uri %q is not repository-relative", i, uri)
			}
		}
	}
	// The same report gives the same fingerprints; moving a key down a file
	// keeps its location hash.
	moved := fixture()
	moved.Findings[0].Locations[0].Line += 10
	log2 := writeSARIF(t, moved, ToolInfo{})
	pf := func(log map[string]any) map[string]any {
		return log["runs"].([]any)[0].(map[string]any)["results"].([]any)[0].(map[string]any)["partialFingerprints"].(map[string]any)
	}
	if a, b := pf(log)[LocationKey], pf(log2)[LocationKey]; a != b {
		t.Errorf("location hash changed when the line moved: %v, %v", a, b)
	}
}

func TestArtifactURI(t *testing.T) {
	tests := []struct {
		loc  finding.Location
		want string
	}{
		{finding.Location{Source: "git", Kind: "blob", Path: "config/settings.py"}, "config/settings.py"},
		{finding.Location{Source: "file", Path: "./a/../b/c d.txt"}, "b/c%20d.txt"},
		{finding.Location{Source: "file", Path: "/etc/../../x"}, "x"},
		{finding.Location{Source: "file", Path: "rel.zip!inner/a.env"}, "rel.zip"},
		{finding.Location{Source: "file", Path: `win\dir\f.txt`}, "win/dir/f.txt"},
		{finding.Location{Source: "file", Path: "100%.txt"}, "100%25.txt"},
		{finding.Location{Source: "url", URL: "https://x.example/a.js"}, "https://x.example/a.js"},
		{finding.Location{Source: "git", Kind: "commit-message", Commit: commitA}, "commit/" + commitA},
		{finding.Location{Source: "git", Kind: "tag-message", Tag: "release/1 x"}, "tag/release/1%20x"},
		{finding.Location{Source: "stdin"}, "stdin"},
	}
	for _, tt := range tests {
		if got := ArtifactURI(tt.loc); got != tt.want {
			t.Errorf("ArtifactURI(%+v) = %q, want %q", tt.loc, got, tt.want)
		}
	}
}

func TestLevel(t *testing.T) {
	for st, want := range map[finding.Status]string{
		finding.Active: "error", finding.Unverified: "error", finding.Unknown: "warning",
		finding.Revoked: "note", finding.Expired: "note",
	} {
		if got := Level(st); got != want {
			t.Errorf("Level(%s) = %s, want %s", st, got, want)
		}
	}
}
