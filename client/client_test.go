package client_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/client"
	"github.com/flowhist/flowhist/client/clienttest"
	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/streams/valkeytest"
)

func TestMain(m *testing.M) { os.Exit(valkeytest.Main(m)) }

const (
	adminToken = "admin-secret-0123456789"
	readToken  = "read-secret-0123456789"
)

// setup starts a real flowhist API and returns its URL and an admin
// client of a fresh namespace.
func setup(tb testing.TB) (string, *client.Client) {
	tb.Helper()
	srv := clienttest.Start(tb, httpapi.Config{Tokens: []httpapi.Token{
		{Name: "admin", Secret: adminToken, Scopes: []httpapi.Scope{httpapi.ScopeAdmin}, Namespaces: []string{"*"}, AssertUsers: true, Workers: []string{"*"}},
		{Name: "reader", Secret: readToken, Scopes: []httpapi.Scope{httpapi.ScopeRead}, Namespaces: []string{"*"}, Workers: []string{"*"}},
	}})
	return srv.URL, mustClient(tb, srv.URL, adminToken)
}

// mustClient returns a client of a fresh namespace.
func mustClient(tb testing.TB, url, token string) *client.Client {
	tb.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	c, err := client.New(client.Config{URL: url, Token: token, Namespace: "client-" + hex.EncodeToString(b), Channel: domain.ChannelCLI})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// of returns a client of c's namespace with another token.
func of(tb testing.TB, c *client.Client, url, token string) *client.Client {
	tb.Helper()
	o, err := client.New(client.Config{URL: url, Token: token, Namespace: c.Namespace()})
	if err != nil {
		tb.Fatal(err)
	}
	return o
}

func wantCode(tb testing.TB, err error, code string) *domain.Error {
	tb.Helper()
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != code {
		tb.Fatalf("got error %v, want code %s", err, code)
	}
	return de
}

func rev(n domain.Revision) *domain.Revision { return &n }

const (
	flows1 = `[{"id":"t1","type":"tab","label":"A <&> B"},{"id":"n1","type":"inject","z":"t1","name":"tick","x":10,"y":20,"wires":[]}]`
	flows2 = `[{"id":"t1","type":"tab","label":"A <&> B"},{"id":"n1","type":"inject","z":"t1","name":"tock","x":10,"y":20,"wires":[]}]`
)

func TestNew(t *testing.T) {
	for name, cfg := range map[string]client.Config{
		"ErrNotHTTP":      {URL: "ftp://x", Namespace: "a"},
		"ErrNoNamespace":  {URL: "http://x"},
		"ErrBadNamespace": {URL: "http://x", Namespace: "a b"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := client.New(cfg)
			wantCode(t, err, domain.EINVALID)
		})
	}
	t.Run("URLRedacted", func(t *testing.T) {
		c, err := client.New(client.Config{URL: "http://u:pw@h:1/", Namespace: "a"})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.URL(); strings.Contains(got, "pw") {
			t.Fatalf("got URL %q, want no password", got)
		}
	})
}

func TestStorage(t *testing.T) {
	t.Parallel()
	url, c := setup(t)
	ctx := context.Background()

	s, err := c.Deploy(ctx, client.Deploy{Flows: json.RawMessage(flows1), Credentials: json.RawMessage(`{"$":"abc"}`), User: "alice"}, client.Write{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Revision != 1 || s.FlowsRevision != 1 || s.Summary == nil || len(s.Summary.Added) != 2 {
		t.Fatalf("got deploy answer %+v, want revision 1 adding 2 nodes", s)
	}
	d, err := c.Flows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(d.Body) != flows1 || d.AggregateRevision != 1 || d.Revision != 1 {
		t.Fatalf("got flows %s at %d/%d, want %s at 1/1", d.Body, d.AggregateRevision, d.Revision, flows1)
	}
	t.Run("ErrConflict", func(t *testing.T) {
		_, err := c.PutFlows(ctx, []byte(flows2), client.Write{IfMatch: rev(7)})
		if de := wantCode(t, err, domain.ECONFLICT); de.CurrentRevision != 1 {
			t.Fatalf("got current revision %d, want 1", de.CurrentRevision)
		}
	})
	if s, err = c.PutFlows(ctx, []byte(flows2), client.Write{IfMatch: rev(1), User: "bob", IdempotencyKey: "k1"}); err != nil || s.Revision != 2 {
		t.Fatalf("got %+v, %v, want revision 2", s, err)
	}
	if again, err := c.PutFlows(ctx, []byte(flows2), client.Write{IdempotencyKey: "k1"}); err != nil || !again.Duplicate || again.Revision != 2 {
		t.Fatalf("got %+v, %v, want the duplicate of revision 2", again, err)
	}
	if cr, err := c.Credentials(ctx); err != nil || string(cr.Body) != `{"$":"abc"}` {
		t.Fatalf("got credentials %s, %v", cr.Body, err)
	}
	if _, err := c.PutCredentials(ctx, []byte(`{"$":"def"}`), client.Write{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutSettings(ctx, []byte(`{"editorTheme":{}}`), client.Write{}); err != nil {
		t.Fatal(err)
	}
	if st, err := c.Settings(ctx); err != nil || string(st.Body) != `{"editorTheme":{}}` {
		t.Fatalf("got settings %s, %v", st.Body, err)
	}
	if _, err := c.PutLibrary(ctx, "flows", "dir/one", client.LibraryEntry{Meta: json.RawMessage(`{"n":12345678901234567890}`), Body: "[]"}, client.Write{}); err != nil {
		t.Fatal(err)
	}
	l, err := c.Library(ctx, "flows", "dir/one")
	if err != nil || l.Entry == nil || l.Entry.Body != "[]" {
		t.Fatalf("got library %+v, %v, want the entry", l, err)
	}
	l, err = c.Library(ctx, "flows", "dir")
	if err != nil || l.Listing == nil || len(l.Listing.Listing) != 1 {
		t.Fatalf("got library %+v, %v, want a listing of one", l, err)
	}
	if b, _ := json.Marshal(l.Listing); string(b) != `{"listing":[{"fn":"one","n":12345678901234567890}]}` {
		t.Fatalf("got listing %s, want the number as saved", b)
	}
	t.Run("ErrLibraryNotFound", func(t *testing.T) {
		_, err := c.Library(ctx, "flows", "nowhere")
		wantCode(t, err, domain.ENOTFOUND)
	})
	if _, err := c.PutProject(ctx, "proj", client.Write{}); err != nil {
		t.Fatal(err)
	}
	if p, err := c.Project(ctx); err != nil || p.Name != "proj" {
		t.Fatalf("got project %+v, %v, want proj", p, err)
	}
	if _, err := c.PutSessions(ctx, []byte(`{"s":1}`)); err != nil {
		t.Fatal(err)
	}
	if ss, err := c.Sessions(ctx); err != nil || string(ss) != `{"s":1}` {
		t.Fatalf("got sessions %s, %v", ss, err)
	}
	t.Run("ErrForbidden", func(t *testing.T) {
		_, err := of(t, c, url, readToken).PutFlows(ctx, []byte(flows1), client.Write{})
		wantCode(t, err, domain.EFORBIDDEN)
	})
	t.Run("ErrUnauthorized", func(t *testing.T) {
		_, err := of(t, c, url, "wrong").Flows(ctx)
		wantCode(t, err, domain.EUNAUTHORIZED)
	})
}

func TestHistory(t *testing.T) {
	t.Parallel()
	url, c := setup(t)
	ctx := context.Background()
	for i, f := range []string{flows1, flows2} {
		if _, err := c.PutFlows(ctx, []byte(f), client.Write{User: "alice", CorrelationID: "c" + string(rune('1'+i))}); err != nil {
			t.Fatal(err)
		}
	}
	h, err := c.History(ctx, client.HistoryQuery{Page: client.Page{Limit: 1}, Actor: "alice", Kind: "flows"})
	if err != nil || len(h.Entries) != 1 || h.Entries[0].Revision != 2 || h.NextCursor == "" || h.Entries[0].CorrelationID != "c2" {
		t.Fatalf("got %+v, %v, want revision 2 by alice and a next page", h, err)
	}
	if h, err = c.History(ctx, client.HistoryQuery{Page: client.Page{Limit: 1, Cursor: h.NextCursor}}); err != nil || len(h.Entries) != 1 || h.Entries[0].Revision != 1 {
		t.Fatalf("got %+v, %v, want revision 1", h, err)
	}
	if e, err := c.Revision(ctx, 2); err != nil || e.Revision != 2 || e.Actor.User != "alice" {
		t.Fatalf("got %+v, %v", e, err)
	}
	if d, err := c.RevisionFlows(ctx, 1); err != nil || string(d.Body) != flows1 {
		t.Fatalf("got %s, %v, want %s", d.Body, err, flows1)
	}
	d, err := c.Diff(ctx, client.DiffQuery{From: 1, To: 2})
	if err != nil || len(d.Changed) != 1 || d.Changed[0].ID != "n1" {
		t.Fatalf("got diff %+v, %v, want n1 changed", d, err)
	}
	if d, err = c.Diff(ctx, client.DiffQuery{From: 1, To: 2, Reverse: true}); err != nil || d.From != 2 || d.To != 1 {
		t.Fatalf("got diff %+v, %v, want 2 to 1", d, err)
	}
	if n, err := c.NodeHistory(ctx, "n1", client.Page{}); err != nil || n.Node != "n1" || len(n.Entries) != 2 {
		t.Fatalf("got node history %+v, %v, want 2 entries", n, err)
	}
	t.Run("ErrNodeNotFound", func(t *testing.T) {
		_, err := c.NodeHistory(ctx, "none", client.Page{})
		wantCode(t, err, domain.ENOTFOUND)
	})
	r, err := c.Rollback(ctx, 1, "test", client.Write{IfMatch: rev(2)})
	if err != nil || r.Saved == nil || r.Saved.Revision != 3 {
		t.Fatalf("got rollback %+v, %v, want revision 3", r, err)
	}
	if r, err = c.Rollback(ctx, 1, "again", client.Write{}); err != nil || r.Noop == nil || !r.Noop.Noop || r.Noop.Revision != 3 {
		t.Fatalf("got rollback %+v, %v, want a no-op at 3", r, err)
	}
	t.Run("ErrRollbackForbidden", func(t *testing.T) {
		_, err := of(t, c, url, readToken).Rollback(ctx, 1, "x", client.Write{})
		wantCode(t, err, domain.EFORBIDDEN)
	})
}

func TestFeed(t *testing.T) {
	t.Parallel()
	url, c := setup(t)
	ctx := context.Background()
	w := of(t, c, url, readToken)
	if _, err := c.PutFlows(ctx, []byte(flows1), client.Write{}); err != nil {
		t.Fatal(err)
	}
	// The worker restored revision 0: revision 1 is news.
	news, ok, err := w.Feed(ctx, client.FeedQuery{Worker: "w1", Wait: 10 * time.Second})
	if err != nil || !ok || news.Revision != 1 || !news.Flows {
		t.Fatalf("got %+v, %v, %v, want flows news at 1", news, ok, err)
	}
	if a, err := w.Ack(ctx, "w1", 1, news.ID); err != nil || a.Acknowledged != 1 || a.Entries != 1 {
		t.Fatalf("got %+v, %v, want 1 acknowledged", a, err)
	}
	t.Run("NoNews", func(t *testing.T) {
		_, ok, err := w.Feed(ctx, client.FeedQuery{Worker: "w1", After: 1, Wait: 50 * time.Millisecond})
		if err != nil || ok {
			t.Fatalf("got %v, %v, want no news", ok, err)
		}
	})
	t.Run("Stream", func(t *testing.T) {
		opened := make(chan struct{})
		got := make(chan httpapi.FeedNews, 1)
		done := make(chan error, 1)
		go func() {
			done <- w.FeedStream(ctx, client.FeedQuery{Worker: "w2", After: 1, Wait: 30 * time.Second}, func() { close(opened) }, func(n httpapi.FeedNews) error {
				got <- n
				return errStop
			})
		}()
		<-opened
		if _, err := c.PutFlows(ctx, []byte(flows2), client.Write{}); err != nil {
			t.Fatal(err)
		}
		if n := <-got; n.Revision != 2 || !n.Flows {
			t.Fatalf("got %+v, want flows news at 2", n)
		}
		if err := <-done; !errors.Is(err, errStop) {
			t.Fatalf("got %v, want the callback's error", err)
		}
	})
	t.Run("ErrInvalidWorker", func(t *testing.T) {
		_, _, err := w.Feed(ctx, client.FeedQuery{Worker: "bad worker"})
		wantCode(t, err, domain.EINVALID)
	})
	if s, err := w.PutWorkerPackages(ctx, "w1", httpapi.WorkerPackages{Revision: 1, OK: true, Packages: []domain.Package{{Name: "node-red-x", Version: "1.0.0"}}}); err != nil || !s.Saved {
		t.Fatalf("got %+v, %v", s, err)
	}
	ws, err := w.Workers(ctx)
	if err != nil || len(ws.Workers) != 2 {
		t.Fatalf("got %+v, %v, want two workers", ws, err)
	}
	if w1 := ws.Workers[0]; w1.Worker != "w1" || w1.Acknowledged != 1 || w1.Packages == nil || !w1.Packages.OK {
		t.Fatalf("got %+v, want w1 acknowledged at 1 and in step", w1)
	}
}

var errStop = errors.New("stop")

func TestErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("ErrUnavailable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		c := mustClient(t, srv.URL, "")
		_, err := c.Flows(ctx)
		wantCode(t, err, domain.EUNAVAILABLE)
	})
	t.Run("ErrProxyPage", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
		}))
		defer srv.Close()
		_, err := mustClient(t, srv.URL, "").Workers(ctx)
		wantCode(t, err, domain.EUNAVAILABLE)
	})
	t.Run("ErrDeadline", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		defer close(release)
		c, err := client.New(client.Config{URL: srv.URL, Namespace: "a", Timeout: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = c.Flows(ctx)
		wantCode(t, err, domain.EUNAVAILABLE)
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("took %v, want about the 100ms deadline", took)
		}
	})
	t.Run("TokenNeverInMessages", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		_, err := mustClient(t, srv.URL, "tok-secret").Flows(ctx)
		if strings.Contains(err.Error(), "tok-secret") {
			t.Fatalf("got %v, want no token", err)
		}
	})
}
