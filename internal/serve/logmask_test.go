package serve

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
)

// Whatever a log line is given — an error quoting a ref, a payload field, a
// group — the whole key never reaches the log, in either format.
func TestMaskedHandlerNeverLogsAKey(t *testing.T) {
	key := testkit.NewKey(t, patterns.Production)
	for name, newH := range map[string]func(*bytes.Buffer) slog.Handler{
		"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			log := slog.New(MaskedHandler(newH(&b))).With("ref", "refs/heads/"+key)
			log.Info("fetch "+key,
				"err", errors.New("git: bad object "+key),
				"encoded", strings.ReplaceAll(key, "_", "%5F"),
				slog.Group("payload", "branch", key),
				"n", 3)
			out := b.String()
			if strings.Contains(out, key) || strings.Contains(out, strings.ReplaceAll(key, "_", "%5F")) {
				t.Fatalf("a whole key reached the log:\n%s", strings.ReplaceAll(out, key, "<KEY>"))
			}
			if !strings.Contains(out, patterns.Redact([]byte(key))) || !strings.Contains(out, "3") {
				t.Fatalf("the log lost its content:\n%s", out)
			}
		})
	}
}
