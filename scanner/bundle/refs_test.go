package bundle

import (
	"slices"
	"strings"
	"testing"
)

func TestRefs(t *testing.T) {
	tests := []struct {
		name string
		kind Kind
		in   string
		want []Ref
	}{
		{"html", HTML, `<!doctype html><html><head><base href="/app/">
<script type="module" src="/assets/index-abc.js"></script>
<link rel="modulepreload" href="/assets/vendor.js">
<link rel="preload" as="script" href="pre.js"><link rel="preload" as="font" href="f.woff2">
<link rel="stylesheet" href="s.css"><link rel="icon" href="i.png">
<script>import("./inline-chunk.js");</script>
<script type="application/json">{"import":"x"} import("./no.js")</script>
<style>@import url("more.css");</style>
</head><body><a href="/about">a</a><a href="#top">t</a><img src="x.png"></body></html>`,
			[]Ref{{"/app/", RefBase}, {"/assets/index-abc.js", RefScript}, {"/assets/vendor.js", RefScript}, {"pre.js", RefScript},
				{"s.css", RefStyle}, {"./inline-chunk.js", RefScript}, {"more.css", RefStyle}, {"/about", RefPage}}},
		{"js", JS, `import{a as b}from"./dep-1.js";import "./side.js";export * from '../re.js';import React from "react";` +
			`const l=()=>import(/* webpackChunkName: "x" */"./lazy-9f.js");` + "\n//# sourceMappingURL=main.js.map\n",
			[]Ref{{"main.js.map", RefMap}, {"./lazy-9f.js", RefScript}, {"./dep-1.js", RefScript}, {"./side.js", RefScript}, {"../re.js", RefScript}}},
		{"webpack chunks", JS, `r.p="/static/";r.u=e=>"js/"+e+"."+{12:"a1b2",app_lazy:"c3d4"}[e]+".chunk.js";`,
			[]Ref{{"/static/js/12.a1b2.chunk.js", RefScript}, {"/static/js/app_lazy.c3d4.chunk.js", RefScript}}},
		{"inline map is no ref", JS, "x\n//# sourceMappingURL=data:application/json;base64,e30=", nil},
		{"css", CSS, "@import 'a.css';\n@import url(b.css) screen;\n.x{}\n/*# sourceMappingURL=s.css.map */", []Ref{{"s.css.map", RefMap}, {"a.css", RefStyle}, {"b.css", RefStyle}}},
		{"map", SourceMap, `{"version":3}`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Refs(tc.kind, []byte(tc.in))
			if !slices.Equal(got, tc.want) {
				t.Errorf("Refs =\n%v\nwant\n%v", got, tc.want)
			}
		})
	}
}

func TestIndexBy(t *testing.T) {
	for _, tc := range []struct{ b, sep string }{
		{"", "eval("}, {"eval(", "eval("}, {"xeval(", "eval("}, {"evaleval(", "eval("}, {"eva", "eval("},
		{"v(eval", "eval("}, {"a sourceMappingURL=x", "sourceMappingURL="}, {"URL=URL=", "sourceURL="},
	} {
		for k := range len(tc.sep) {
			if got, want := indexBy([]byte(tc.b), []byte(tc.sep), k), strings.Index(tc.b, tc.sep); got != want {
				t.Errorf("indexBy(%q, %q, %d) = %d, want %d", tc.b, tc.sep, k, got, want)
			}
		}
	}
}
