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
	"invocation":               {[]string{"commandLine", "arguments", "responseFiles", "startTimeUtc", "endTimeUtc", "exitCode", "ruleConfigurationOverrides", "notificationConfigurationOverrides", "toolExecutionNotifications", "toolConfigurationNotifications", "exitCodeDescription", "exitSignalName", "exitSignalNumber", "processStartFailureMessage", "executionSuccessful", "machine", "account", "processId", "executableLocation", "workingDirectory", "environmentVariables", "stdin", "stdout", "stderr", "stdoutStderr", "properties"}, []string{"executionSuccessful"}},
	"notification":             {[]string{"locations", "message", "level", "threadId", "timeUtc", "exception", "descriptor", "associatedRule", "properties"}, []string{"message"}},
	"logicalLocation":          {[]string{"name", "index", "fullyQualifiedName", "decoratedName", "parentIndex", "kind", "properties"}, nil},
}

// sarifChildren maps a property to the object type it holds.
var sarifChildren = map[string]map[string]string{
	"sarifLog":            {"runs": "run"},
	"run":                 {"tool": "tool", "results": "result", "automationDetails": "runAutomationDetails", "invocations": "invocation"},
	"invocation":          {"toolExecutionNotifications": "notification"},
	"notification":        {"message": "message"},
	"tool":                {"driver": "toolComponent"},
	"toolComponent":       {"rules": "reportingDescriptor", "shortDescription": "multiformatMessageString", "fullDescription": "multiformatMessageString"},
	"reportingDescriptor": {"shortDescription": "multiformatMessageString", "fullDescription": "multiformatMessageString", "help": "multiformatMessageString", "defaultConfiguration": "reportingConfiguration"},
	"result":              {"message": "message", "locations": "location", "relatedLocations": "location"},
	"location":            {"physicalLocation": "physicalLocation", "logicalLocations": "logicalLocation", "message": "message"},
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
		if typ == "region" || typ == "reportingConfiguration" || typ == "result" || typ == "notification" {
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

func firstRun(t *testing.T, log map[string]any) map[string]any {
	t.Helper()
	return log["runs"].([]any)[0].(map[string]any)
}

func physical(res map[string]any) map[string]any {
	return res["locations"].([]any)[0].(map[string]any)["physicalLocation"].(map[string]any)
}

// TestSARIFEveryResultHasARegion is what code scanning needs to show a
// result (the multitool's SARIF2017): a startLine on every location,
// archive members included, where before they had none.
func TestSARIFEveryResultHasARegion(t *testing.T) {
	r := fixture()
	r.Findings = append(r.Findings, finding.Finding{Fingerprint: fp('5'), Redacted: "atmx_dev_wxyz…", Environment: "development", Status: finding.Unverified,
		Locations: []finding.Location{
			{Source: finding.SourceGit, Kind: finding.KindBlob, Path: "artifacts/web.zip!bundle/main.js", Line: 1, Column: 40, Commit: commitA},
			{Source: finding.SourceFile, Path: "notes.txt"}, // no line known
		}})
	for _, res := range firstRun(t, writeSARIF(t, r, ToolInfo{}))["results"].([]any) {
		res := res.(map[string]any)
		phys := physical(res)
		reg, ok := phys["region"].(map[string]any)
		if !ok {
			t.Errorf("result on %v has no region", phys["artifactLocation"])
			continue
		}
		if n, _ := reg["startLine"].(float64); n < 1 {
			t.Errorf("result on %v: startLine %v", phys["artifactLocation"], reg["startLine"])
		}
		uri := phys["artifactLocation"].(map[string]any)["uri"]
		if uri == "artifacts/web.zip" || uri == "release.zip" {
			if _, ok := reg["startColumn"]; ok || reg["startLine"] != 1.0 {
				t.Errorf("archive member %v: region %v, want line 1 of the archive only", uri, reg)
			}
			msg := res["message"].(map[string]any)["text"].(string)
			if !strings.Contains(msg, "!") {
				t.Errorf("archive member message does not name the member: %s", msg)
			}
		}
	}
}

// TestSARIFMessageFindings: a key in a commit or tag message is placed on a
// real file (the one MessageFile names, else the repository root), names
// its commit or tag as a logical location, and links the commit when the
// repository is known; never on "commit/<sha>", a file that does not exist.
func TestSARIFMessageFindings(t *testing.T) {
	r := &Report{Findings: []finding.Finding{{Fingerprint: fp('1'), Redacted: "atmx_prd_q7Lw…", Environment: "production", Status: finding.Active,
		Locations: []finding.Location{
			{Source: finding.SourceGit, Kind: finding.KindCommitMessage, Line: 3, Commit: commitB},
			{Source: finding.SourceGit, Kind: finding.KindTagMessage, Tag: "v1.0.0", Commit: commitA, Line: 1},
		}}}}
	var asked []string
	tool := ToolInfo{RepositoryURL: "https://github.com/acme/api", MessageFile: func(l finding.Location) string {
		asked = append(asked, l.Commit)
		if l.Commit == commitB {
			return "config/settings.py"
		}
		return ""
	}}
	log := writeSARIF(t, r, tool)
	checkSARIFObject(t, "sarifLog", "$", log)
	results := firstRun(t, log)["results"].([]any)
	if len(results) != 2 {
		t.Fatalf("%d results", len(results))
	}
	want := []struct{ uri, fqn string }{{"config/settings.py", "commit/" + commitB}, {MessageFallbackURI, "tag/v1.0.0"}}
	for i, res := range results {
		res := res.(map[string]any)
		loc := res["locations"].([]any)[0].(map[string]any)
		phys := loc["physicalLocation"].(map[string]any)
		if uri := phys["artifactLocation"].(map[string]any)["uri"]; uri != want[i].uri {
			t.Errorf("result %d on %v, want %v", i, uri, want[i].uri)
		}
		if reg := phys["region"].(map[string]any); reg["startLine"] != 1.0 {
			t.Errorf("result %d region %v", i, reg)
		}
		ll := loc["logicalLocations"].([]any)[0].(map[string]any)
		if ll["fullyQualifiedName"] != want[i].fqn {
			t.Errorf("result %d logical location %v, want %v", i, ll, want[i].fqn)
		}
		rel := res["relatedLocations"].([]any)[0].(map[string]any)
		link := physical(map[string]any{"locations": []any{rel}})["artifactLocation"].(map[string]any)["uri"]
		wantLink := "https://github.com/acme/api/commit/" + []string{commitB, commitA}[i]
		if link != wantLink {
			t.Errorf("result %d related location %v, want %v", i, link, wantLink)
		}
	}
	if !slices.Equal(asked, []string{commitB, commitA}) {
		t.Errorf("MessageFile asked for %v", asked)
	}
	// Without a repository URL there is no link, and without MessageFile
	// the root.
	for _, res := range firstRun(t, writeSARIF(t, r, ToolInfo{}))["results"].([]any) {
		res := res.(map[string]any)
		if _, ok := res["relatedLocations"]; ok {
			t.Error("relatedLocations without a repository URL")
		}
		if uri := physical(res)["artifactLocation"].(map[string]any)["uri"]; uri != MessageFallbackURI {
			t.Errorf("uri %v without MessageFile", uri)
		}
	}
}

// TestSARIFToolVersionAndHelp: a real version (never "dev", no leading v,
// semver in semanticVersion) and a helpUri on every rule.
func TestSARIFToolVersionAndHelp(t *testing.T) {
	for _, tc := range []struct{ in, want string }{{"v1.2.3", "1.2.3"}, {"", ""}} {
		drv := firstRun(t, writeSARIF(t, fixture(), ToolInfo{Version: tc.in}))["tool"].(map[string]any)["driver"].(map[string]any)
		v, _ := drv["version"].(string)
		if tc.want != "" && v != tc.want {
			t.Errorf("version %q for %q, want %q", v, tc.in, tc.want)
		}
		if v == "" || v == "dev" || v[0] < '0' || v[0] > '9' {
			t.Errorf("version %q does not start with a digit", v)
		}
		if sv, _ := drv["semanticVersion"].(string); !isSemver(sv) {
			t.Errorf("semanticVersion %q", sv)
		}
		if drv["informationUri"] != InformationURI {
			t.Errorf("informationUri %v", drv["informationUri"])
		}
		for _, r := range drv["rules"].([]any) {
			if u, _ := r.(map[string]any)["helpUri"].(string); !strings.HasPrefix(u, "https://") {
				t.Errorf("rule %v helpUri %q", r.(map[string]any)["id"], u)
			}
		}
	}
}

// TestSARIFInvocation: a partial scan says so in the invocation, with the
// warnings as notifications, so code scanning does not take a half scan
// for a clean one.
func TestSARIFInvocation(t *testing.T) {
	inv := func(r *Report) map[string]any {
		return firstRun(t, writeSARIF(t, r, ToolInfo{}))["invocations"].([]any)[0].(map[string]any)
	}
	whole := inv(&Report{})
	if whole["executionSuccessful"] != true {
		t.Errorf("whole scan: %v", whole)
	}
	if _, ok := whole["toolExecutionNotifications"]; ok {
		t.Errorf("whole scan has notifications: %v", whole)
	}
	part := inv(fixture())
	if part["executionSuccessful"] != false {
		t.Errorf("partial scan: executionSuccessful %v", part["executionSuccessful"])
	}
	var levels, texts []string
	for _, n := range part["toolExecutionNotifications"].([]any) {
		n := n.(map[string]any)
		levels = append(levels, n["level"].(string))
		texts = append(texts, n["message"].(map[string]any)["text"].(string))
	}
	if !slices.Equal(levels, []string{"error", "warning", "note"}) ||
		!strings.Contains(texts[1], "shallow clone") || !strings.Contains(texts[2], "vendor/big.bin") {
		t.Errorf("notifications %v %q", levels, texts)
	}
}
