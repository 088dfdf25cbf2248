package serve

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/atomyx/atomyx-guard/patterns"
)

// MaskedHandler wraps h so that no record carries a whole key: the
// message and every attribute value (errors from git or GitHub, refs and
// names from a webhook payload) pass through the one mask for untrusted
// text, whatever the code that logged them remembered to redact.
func MaskedHandler(h slog.Handler) slog.Handler { return maskHandler{h} }

type maskHandler struct{ h slog.Handler }

func (m maskHandler) Enabled(ctx context.Context, l slog.Level) bool { return m.h.Enabled(ctx, l) }

func (m maskHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, patterns.RedactRuns(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(maskAttr(a))
		return true
	})
	return m.h.Handle(ctx, out)
}

func (m maskHandler) WithAttrs(as []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(as))
	for i, a := range as {
		masked[i] = maskAttr(a)
	}
	return maskHandler{m.h.WithAttrs(masked)}
}

func (m maskHandler) WithGroup(name string) slog.Handler { return maskHandler{m.h.WithGroup(name)} }

// maskAttr masks a string-bearing value; numbers, times and the like pass.
func maskAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, patterns.RedactRuns(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]any, len(g))
		for i, ga := range g {
			out[i] = maskAttr(ga)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		return slog.String(a.Key, patterns.RedactRuns(fmt.Sprint(v.Any())))
	}
	return slog.Attr{Key: a.Key, Value: v}
}
