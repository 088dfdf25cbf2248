package ghapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atomyx/atomyx-guard/internal/ghapi"
	"github.com/atomyx/atomyx-guard/internal/ghapi/ghfake"
	"github.com/atomyx/atomyx-guard/internal/testkit"
	"github.com/atomyx/atomyx-guard/patterns"
)

func newClient(t *testing.T, fake *ghfake.Server, sl *testkit.Sleeps) *ghapi.Client {
	t.Helper()
	c, err := ghapi.New(ghapi.Config{Token: "t0ken", BaseURL: fake.URL(), MutationSpacing: -1, Sleep: sl.Sleep})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newFake(t *testing.T) *ghfake.Server {
	fake := ghfake.New()
	fake.Token = "t0ken"
	t.Cleanup(fake.Close)
	return fake
}

func TestBaseURLKeptAsGiven(t *testing.T) {
	// go-github's WithEnterpriseURLs would turn this into /api/v3/api/v3/
	// or add api/v3/ to a loopback host; New must keep the path.
	fake := newFake(t)
	fake.AddRepo("acme", "app", true)
	for _, base := range []string{fake.URL(), strings.TrimSuffix(fake.URL(), "/")} {
		c, err := ghapi.New(ghapi.Config{Token: "t0ken", BaseURL: base, MutationSpacing: -1})
		if err != nil {
			t.Fatal(err)
		}
		v, err := c.RepoVisibility(context.Background(), ghapi.Repo{Owner: "acme", Name: "app"})
		if err != nil || !v.Private || v.ID == 0 {
			t.Fatalf("base %q: %+v, %v", base, v, err)
		}
	}
	if _, err := ghapi.New(ghapi.Config{BaseURL: "not a url"}); err == nil {
		t.Fatal("want an error for a relative URL")
	}
}

func TestIssuesListAllPagesAndStates(t *testing.T) {
	fake := newFake(t)
	fake.AddRepo("acme", "app", false)
	c := newClient(t, fake, &testkit.Sleeps{})
	ctx := context.Background()
	repo := ghapi.Repo{Owner: "acme", Name: "app"}
	for i := range 230 {
		labels := []string{"atomyx-leak"}
		if i%3 == 0 {
			labels = []string{"other"}
		}
		is, err := c.CreateIssue(ctx, repo, fmt.Sprintf("issue %d", i), "body", labels)
		if err != nil {
			t.Fatal(err)
		}
		if i%5 == 0 {
			if err := c.CloseIssue(ctx, repo, is.Number, "completed"); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := c.ListIssues(ctx, repo, "atomyx-leak")
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for i := range 230 {
		if i%3 != 0 {
			want++
		}
	}
	if len(got) != want {
		t.Fatalf("listed %d issues, want %d (all pages, open and closed)", len(got), want)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Number <= got[i-1].Number {
			t.Fatalf("not oldest first at %d", i)
		}
	}
	if err := c.Comment(ctx, repo, got[0].Number, "hello"); err != nil {
		t.Fatal(err)
	}
	cs, err := c.Comments(ctx, repo, got[0].Number)
	if err != nil || len(cs) != 1 || cs[0] != "hello" {
		t.Fatalf("comments %q, %v", cs, err)
	}
}

func TestRateLimitsAreWaitedAndRetried(t *testing.T) {
	tests := []struct {
		name     string
		fault    ghfake.Fault
		minWait  time.Duration
		wantWait bool
	}{
		{"429 retry-after", ghfake.Fault{Kind: ghfake.RateLimit429, RetryAfter: 7, Times: 2}, 7 * time.Second, true},
		{"secondary 403", ghfake.Fault{Kind: ghfake.Secondary403, RetryAfter: 3, Times: 1}, 3 * time.Second, true},
		{"primary 403 reset", ghfake.Fault{Kind: ghfake.Primary403, RetryAfter: 20, Times: 1}, 15 * time.Second, true},
		{"5xx on GET", ghfake.Fault{Kind: ghfake.ServerError, Status: 502, Times: 3}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFake(t)
			fake.AddRepo("acme", "app", false)
			sl := &testkit.Sleeps{}
			c := newClient(t, fake, sl)
			f := tt.fault
			f.Method = http.MethodGet
			fake.Fail(f)
			if _, err := c.ListIssues(context.Background(), ghapi.Repo{Owner: "acme", Name: "app"}, "x"); err != nil {
				t.Fatalf("want success after waiting, got %v", err)
			}
			times := max(f.Times, 1)
			if len(sl.Waits()) != times {
				t.Fatalf("waited %d times (%v), want %d", len(sl.Waits()), sl.Waits(), times)
			}
			if sl.Waits()[0] < tt.minWait {
				t.Fatalf("waited %v, want at least %v", sl.Waits()[0], tt.minWait)
			}
			n := 0
			for _, r := range fake.Requests() {
				if r.Method == http.MethodGet {
					n++
				}
			}
			if n != times+1 {
				t.Fatalf("%d requests, want %d", n, times+1)
			}
		})
	}
}

func TestRateLimitOnMutationIsRetriedOnce(t *testing.T) {
	// A rate-limited POST was not processed: retrying it makes one issue.
	fake := newFake(t)
	fake.AddRepo("acme", "app", false)
	sl := &testkit.Sleeps{}
	c := newClient(t, fake, sl)
	fake.Fail(ghfake.Fault{Method: http.MethodPost, Kind: ghfake.RateLimit429, RetryAfter: 1, Times: 1})
	fake.Fail(ghfake.Fault{Method: http.MethodPost, Kind: ghfake.Secondary403, RetryAfter: 1, Times: 1})
	if _, err := c.CreateIssue(context.Background(), ghapi.Repo{Owner: "acme", Name: "app"}, "t", "b", nil); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.Issues("acme/app")); n != 1 {
		t.Fatalf("%d issues, want 1", n)
	}
}

func TestGivesUp(t *testing.T) {
	tests := []struct {
		name  string
		fault ghfake.Fault
		check func(error) bool
	}{
		{"retries exhausted", ghfake.Fault{Kind: ghfake.RateLimit429, RetryAfter: 1}, func(err error) bool {
			var rl *ghapi.RateLimitedError
			return errors.As(err, &rl)
		}},
		{"wait too long", ghfake.Fault{Kind: ghfake.Secondary403, RetryAfter: 3600, Times: 1}, func(err error) bool {
			var rl *ghapi.RateLimitedError
			return errors.As(err, &rl) && rl.Wait >= time.Hour
		}},
		{"5xx on POST is not replayed", ghfake.Fault{Kind: ghfake.ServerError, Times: 1}, func(err error) bool {
			return err != nil && strings.Contains(err.Error(), "500")
		}},
		{"missing permission", ghfake.Fault{Kind: ghfake.Forbidden}, func(err error) bool {
			var pe *ghapi.PermissionError
			return errors.As(err, &pe) && strings.Contains(err.Error(), "needs Issues: write")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFake(t)
			fake.AddRepo("acme", "app", false)
			c := newClient(t, fake, &testkit.Sleeps{})
			f := tt.fault
			f.Method = http.MethodPost
			fake.Fail(f)
			_, err := c.CreateIssue(context.Background(), ghapi.Repo{Owner: "acme", Name: "app"}, "t", "b", nil)
			if !tt.check(err) {
				t.Fatalf("unexpected error %v", err)
			}
			if n := len(fake.Issues("acme/app")); n != 0 {
				t.Fatalf("%d issues created", n)
			}
		})
	}
}

func TestBadToken(t *testing.T) {
	fake := newFake(t)
	fake.AddRepo("acme", "app", false)
	c, _ := ghapi.New(ghapi.Config{Token: "wrong", BaseURL: fake.URL(), MutationSpacing: -1})
	_, err := c.ListIssues(context.Background(), ghapi.Repo{Owner: "acme", Name: "app"}, "")
	var pe *ghapi.PermissionError
	if !errors.As(err, &pe) || pe.Status != 401 {
		t.Fatalf("got %v", err)
	}
}

func TestMutationsAreSpaced(t *testing.T) {
	fake := newFake(t)
	fake.AddRepo("acme", "app", false)
	sl := &testkit.Sleeps{}
	c, _ := ghapi.New(ghapi.Config{Token: "t0ken", BaseURL: fake.URL(), MutationSpacing: time.Hour, Sleep: sl.Sleep})
	ctx := context.Background()
	repo := ghapi.Repo{Owner: "acme", Name: "app"}
	for range 3 {
		if _, err := c.CreateIssue(ctx, repo, "t", "b", nil); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ListIssues(ctx, repo, ""); err != nil {
			t.Fatal(err)
		}
	}
	// The first mutation goes at once; the next two wait for the spacing;
	// reads never wait.
	if len(sl.Waits()) != 2 || sl.Waits()[0] < 59*time.Minute {
		t.Fatalf("waits %v", sl.Waits())
	}
}

func TestPutSecretEveryKind(t *testing.T) {
	fake := newFake(t)
	fake.AddRepo("acme", "app", true)
	fake.AddEnv("acme", "app", "production")
	fake.AddOrg("acme")
	c := newClient(t, fake, &testkit.Sleeps{})
	key, err := patterns.Generate(patterns.Production)
	if err != nil {
		t.Fatal(err)
	}
	targets := []ghapi.SecretTarget{
		{Kind: ghapi.KindRepoSecret, Owner: "acme", Repo: "app", Name: "ATOMYX_API_KEY"},
		{Kind: ghapi.KindEnvSecret, Owner: "acme", Repo: "app", Env: "production", Name: "ATOMYX_API_KEY"},
		{Kind: ghapi.KindOrgSecret, Org: "acme", Name: "ATOMYX_API_KEY"},
	}
	for _, tg := range targets {
		if err := c.PutSecret(context.Background(), tg, patterns.NewSecret(key)); err != nil {
			t.Fatalf("%s: %v", tg, err)
		}
		if v, ok := fake.SecretValue(tg); !ok || v != key {
			t.Fatalf("%s: the fake could not open the delivered value", tg)
		}
	}
	for _, s := range fake.SealedSecrets() {
		if strings.Contains(s, key) {
			t.Fatal("a secret was stored in the clear")
		}
	}
	bad := []ghapi.SecretTarget{
		{Kind: ghapi.KindRepoSecret, Owner: "acme", Repo: "app", Name: "BAD-NAME"},
		{Kind: "github-gist", Name: "X"},
		{Kind: ghapi.KindEnvSecret, Owner: "acme", Repo: "app", Name: "X"},
	}
	for _, tg := range bad {
		if err := c.PutSecret(context.Background(), tg, patterns.NewSecret(key)); err == nil {
			t.Errorf("%+v: want an error", tg)
		} else if strings.Contains(err.Error(), key) {
			t.Fatal("error carries the key")
		}
	}
	fake.Fail(ghfake.Fault{Method: http.MethodPut, Kind: ghfake.Forbidden})
	err = c.PutSecret(context.Background(), targets[0], patterns.NewSecret(key))
	if err == nil || !strings.Contains(err.Error(), "needs Secrets: write") {
		t.Fatalf("got %v", err)
	}
}

func TestParseRepo(t *testing.T) {
	for _, tt := range []struct {
		in string
		ok bool
	}{{"acme/app", true}, {"acme", false}, {"/app", false}, {"acme/", false}, {"a/b/c", false}} {
		_, err := ghapi.ParseRepo(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("%q: %v", tt.in, err)
		}
	}
}

func FuzzParseRepo(f *testing.F) {
	for _, s := range []string{"acme/app", "a/b/c", "", "/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ghapi.ParseRepo(s)
		if err == nil && r.String() != s {
			t.Fatalf("%q parsed as %q", s, r)
		}
	})
}

func TestLastCallOfTheWindowDoesNotBlockTheNext(t *testing.T) {
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 1 {
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id": 7, "private": true}`))
	}))
	defer srv.Close()
	c, _ := ghapi.New(ghapi.Config{BaseURL: srv.URL, MutationSpacing: -1})
	for i := range 2 {
		if _, err := c.RepoVisibility(context.Background(), ghapi.Repo{Owner: "a", Name: "b"}); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	if calls != 2 {
		t.Fatalf("%d calls reached the server, want 2", calls)
	}
}
