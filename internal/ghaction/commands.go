package ghaction

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/atomyx/atomyx-guard/patterns"
)

// MaxErrorAnnotations is how many error annotations GitHub shows per step;
// the ones beyond are dropped without a word, so the action never emits
// more and says what it left out instead.
const MaxErrorAnnotations = 10

// escapeData escapes a workflow command's message.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeProperty escapes a workflow command's property value.
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// Annotation is one workflow command of the annotation kind.
type Annotation struct {
	Level   string // error, warning, notice
	File    string
	Line    int
	Col     int
	Title   string
	Message string
}

// String renders a as a workflow command line (without the newline). Every
// free-text part is masked first (patterns.RedactRuns), the text of
// findings and of the event payload alike.
func (a Annotation) String() string {
	var props []string
	add := func(k, v string) {
		if v != "" {
			props = append(props, k+"="+escapeProperty(patterns.RedactRuns(v)))
		}
	}
	add("file", a.File)
	if a.Line > 0 {
		add("line", fmt.Sprint(a.Line))
		if a.Col > 0 {
			add("col", fmt.Sprint(a.Col))
		}
	}
	add("title", a.Title)
	cmd := "::" + a.Level
	if len(props) > 0 {
		cmd += " " + strings.Join(props, ",")
	}
	return cmd + "::" + escapeData(patterns.RedactRuns(a.Message))
}

// annotator writes annotations, keeping error annotations within GitHub's
// limit.
type annotator struct {
	w      io.Writer
	errors int
}

func (an *annotator) emit(a Annotation) {
	if a.Level == "error" {
		an.errors++
	}
	fmt.Fprintln(an.w, a.String())
}

// room is how many more error annotations fit.
func (an *annotator) room() int { return MaxErrorAnnotations - an.errors }

// writeOutputs appends name/value pairs to the $GITHUB_OUTPUT file, in the
// multi-line form with a random delimiter so that no value can forge
// another output.
func writeOutputs(path string, kv map[string]string) error {
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("open GITHUB_OUTPUT: %w", err)
	}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		v := patterns.Scrub(kv[k])
		delim := delimiter()
		for strings.Contains(v, delim) {
			delim = delimiter()
		}
		fmt.Fprintf(&b, "%s<<%s\n%s\n%s\n", k, delim, v, delim)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return fmt.Errorf("write GITHUB_OUTPUT: %w", err)
	}
	return f.Close()
}

func delimiter() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return "ghadelimiter_" + hex.EncodeToString(b[:])
}

// appendFile appends data to path (the job summary is shared by every step
// of a job: never truncate it).
func appendFile(path string, data []byte) error {
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
