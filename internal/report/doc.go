// Package report turns the findings of a scan into what people and tools
// read: JSON (the stable contract other commands and CI consume), SARIF for
// GitHub code scanning, styled text for a terminal, and Markdown for a GitHub
// job summary.
//
// Every writer masks key-shaped text wherever it comes from (a path, a URL,
// an author, a skip reason) with patterns.Scrub, so that no output ever holds
// more of a key than its redacted form, even when the data was not made by
// the detector. ReadJSON refuses a report that holds a whole key.
//
// # JSON contract
//
// The JSON form is stable: fields are only ever added. "findings" is always
// an array, never null; a finding's "locations" likewise. Fields that do not
// apply are omitted.
//
//	{
//	  "findings": [
//	    {
//	      "fingerprint": "sha256:<64 hex>",   // identity of the key
//	      "redacted": "atmx_prd_q7Lw…",       // prefix, environment, 4 characters
//	      "environment": "production",        // development | staging | production
//	      "status": "unverified",             // unverified | active | revoked | expired | unknown
//	      "status_reason": "…",               // why unverified, when verification failed
//	      "key_id": "key_…", "owner": {"org": "…", "team": "…", "contact": "…"},
//	      "products": ["manage"], "created_at": "<RFC 3339>", "last_used_at": "<RFC 3339>",
//	      "own_credential": true,   // optional: the key this run is configured with (ATOMYX_API_KEY)
//	      "locations": [
//	        {
//	          "source": "git",                // git | file | stdin | url | …
//	          "kind": "blob",                 // blob | commit-message | tag-message | ref
//	          "repo": "acme/api",             // org scans: OWNER/NAME the path is in
//	          "path": "config/settings.py",   // archive members: "outer!inner"
//	          "url": "https://…",             // url sources
//	          "line": 2, "column": 7,         // 1-based; absent when unknown
//	          "commit": "<40 hex>", "tag": "v1.0", "blob": "<40 hex>",
//	          "author": "Dana Dev <dana@example.com>", "date": "<RFC 3339>",
//	          "decoded": ["base64"],          // encodings the key was found through
//	          "original": {"path": "src/app.ts", "line": 10, "column": 4},
//	          "unreachable": true,            // no ref, reflog or stash reaches it
//	          "allowed": "…"                  // why an allowlist matched
//	        }
//	      ],
//	      "environment_mismatch": [         // places of another environment than the key's
//	        {
//	          "environment": "development",   // the place's environment
//	          "evidence": "path",             // path | workflow-environment | workflow-job
//	          "path": ".env.development", "url": "https://…", "line": 3,
//	          "detail": ".env.development"    // the word that gave it away
//	        }
//	      ]
//	    }
//	  ],
//	  "near_misses": [{"redacted": "atmx_prd_abcd…", "location": {…}}],
//	  "skipped": [{"where": "big.bin", "reason": "…"}],
//	  "warnings": ["…"],
//	  "stats": {
//	    "commits": 0, "blobs": 0, "files": 0, "urls": 0, "bytes": 0,
//	    "duration_ms": 0, "partial": false, "verified": false, "allowed": 0
//	  }
//	}
//
// "environment_mismatch" is present when a key was found where another
// environment's configuration lives (Atomyx asks for separate keys per
// environment); a key found in places of two environments always has one.
//
// "partial" is true when the scan stopped early or left something out;
// "verified" when the findings' statuses come from the Vault; "allowed"
// counts the keys an allowlist kept out of "findings".
package report
