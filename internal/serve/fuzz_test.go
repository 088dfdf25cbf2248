package serve_test

import (
	"strings"
	"testing"

	"github.com/atomyx/atomyx-guard/internal/serve"
)

// FuzzParseDelivery: whatever the body, parsing never panics, and a job it
// accepts names a safe repository and well-formed commit ids.
func FuzzParseDelivery(f *testing.F) {
	f.Add("push", []byte(`{"ref":"refs/heads/main","before":"`+strings.Repeat("0", 40)+`","after":"`+strings.Repeat("a", 40)+`","repository":{"full_name":"acme/app","clone_url":"https://github.com/acme/app.git","default_branch":"main"}}`))
	f.Add("pull_request", []byte(`{"action":"opened","repository":{"full_name":"a/b","clone_url":"https://x/a/b.git"},"pull_request":{"number":1,"base":{"sha":"`+strings.Repeat("b", 40)+`"},"head":{"sha":"`+strings.Repeat("c", 40)+`"}}}`))
	f.Add("repository", []byte(`{"action":"publicized","repository":{"full_name":"a/../b","clone_url":"file:///etc"}}`))
	f.Fuzz(func(t *testing.T, event string, body []byte) {
		j, err := serve.ParseDelivery(event, body)
		if err != nil {
			return
		}
		if !serve.ValidRepoName(j.Repo) || strings.Contains(j.Repo, "/.") {
			t.Fatalf("accepted repository %q", j.Repo)
		}
		for _, id := range []string{j.Before, j.After, j.Base, j.Head} {
			if id != "" && len(id) != 40 && len(id) != 64 {
				t.Fatalf("accepted commit id %q", id)
			}
		}
	})
}
