package httpapi_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/streams/valkeytest"
)

// auditServer is a server whose tokens include an audit token covering
// only namespaces matching cover, and namespaces prefix-a and prefix-b,
// each with three settings saves appended one namespace after the other
// (so the audit's newest-first order is b3 b2 b1 a3 a2 a1 whatever the
// milliseconds).
func auditServer(t *testing.T) (ts *testServer, prefix string) {
	t.Helper()
	prefix = randomNS(t)
	tokens := append([]httpapi.Token{
		{Name: "auditor-a", Secret: "auditor-a-secret-0123456", Scopes: []httpapi.Scope{httpapi.ScopeAudit}, Namespaces: []string{prefix + "-a"}},
	}, defaultTokens...)
	ts = mustServer(t, httpapi.Config{Tokens: tokens})
	for _, ns := range []string{prefix + "-a", prefix + "-b"} {
		for i, user := range []string{"alice", "bob", "=HYPERLINK(\"x\")"} {
			ts.ok(t, "PUT", path(ns, "/settings"), []byte(`{"n":`+string(rune('1'+i))+`}`), hdr{"Flowhist-User": user}, nil)
		}
	}
	return ts, prefix
}

func auditPath(q url.Values) string { return "/v1/audit?" + q.Encode() }

// TestAuditGolden pins the answers of GET /v1/audit in each format.
func TestAuditGolden(t *testing.T) {
	t.Parallel()
	ts, prefix := auditServer(t)
	hash := regexp.MustCompile(`[0-9a-f]{64}`)
	cursor := regexp.MustCompile(`[0-9]{13}\.([0-9]+)\.`)
	times := regexp.MustCompile(`[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z`)
	addr := regexp.MustCompile(`127\.0\.0\.1:[0-9]+`)
	clean := func(b []byte) []byte {
		b = hash.ReplaceAll(b, []byte("<hash>"))
		b = cursor.ReplaceAll(b, []byte("<ms>.$1."))
		b = times.ReplaceAll(b, []byte(`<time>`))
		b = addr.ReplaceAll(b, []byte("127.0.0.1:1"))
		return []byte(strings.ReplaceAll(string(b), prefix, "NS"))
	}
	for _, c := range []struct{ name, format, limit string }{{"audit", "json", "4"}, {"audit-ndjson", "ndjson", "2"}, {"audit-csv", "csv", "2"}} {
		r := ts.do(t, "GET", auditPath(url.Values{"ns": {prefix + "-*"}, "format": {c.format}, "limit": {c.limit}}), nil, nil)
		if r.status != http.StatusOK {
			t.Fatalf("%s: got %d %s", c.name, r.status, r.body)
		}
		if c.format == "json" {
			golden(t, "answers/"+c.name+".json", clean(r.body))
		} else {
			goldenBytes(t, "answers/"+c.name+"."+c.format, clean(r.body))
		}
	}
}

// TestAudit: filters, pages, what a token may see, the hash of every
// entry, and a spreadsheet-safe CSV.
func TestAudit(t *testing.T) {
	t.Parallel()
	ts, prefix := auditServer(t)
	get := func(t *testing.T, q url.Values, h hdr) httpapi.Audit {
		t.Helper()
		var a httpapi.Audit
		ts.ok(t, "GET", auditPath(q), nil, h, &a)
		return a
	}
	names := func(a httpapi.Audit) string {
		var s []string
		for _, e := range a.Entries {
			s = append(s, strings.TrimPrefix(e.Namespace, prefix)+":"+e.Revision.String())
		}
		return strings.Join(s, " ")
	}
	all := url.Values{"ns": {prefix + "-a," + prefix + "-b"}}
	t.Run("NewestFirstWithHashes", func(t *testing.T) {
		a := get(t, all, nil)
		if got := names(a); got != "-b:3 -b:2 -b:1 -a:3 -a:2 -a:1" || a.NextCursor != "" {
			t.Fatalf("got %q (next %q)", got, a.NextCursor)
		}
		for _, e := range a.Entries {
			events := ts.events(t, e.Namespace)
			if want := events[e.Revision-1].Hash; e.Hash != want || len(want) != 64 {
				t.Fatalf("%s@%d: got hash %q, want the log's %q", e.Namespace, e.Revision, e.Hash, want)
			}
		}
	})
	t.Run("Pages", func(t *testing.T) {
		var got []string
		q := url.Values{"ns": {prefix + "-*"}, "limit": {"4"}}
		for {
			a := get(t, q, nil)
			got = append(got, names(a))
			if a.NextCursor == "" {
				break
			}
			q.Set("cursor", a.NextCursor)
		}
		if s := strings.Join(got, " | "); s != "-b:3 -b:2 -b:1 -a:3 | -a:2 -a:1" {
			t.Fatalf("got pages %q", s)
		}
	})
	t.Run("Filters", func(t *testing.T) {
		for q, want := range map[string]string{
			"user=bob":            "-b:2 -a:2",
			"kind=flows":          "",
			"kind=settings":       "-b:3 -b:2 -b:1 -a:3 -a:2 -a:1",
			"token=admin":         "-b:3 -b:2 -b:1 -a:3 -a:2 -a:1", // every event was written with the admin token
			"token=nobody":        "",
			"ns=" + prefix + "-b": "-b:3 -b:2 -b:1",
		} {
			v, _ := url.ParseQuery(q)
			if v.Get("ns") == "" {
				v.Set("ns", prefix+"-*")
			}
			if got := names(get(t, v, nil)); got != want {
				t.Errorf("%s: got %q, want %q", q, got, want)
			}
		}
	})
	t.Run("TokenSeesItsNamespacesOnly", func(t *testing.T) {
		a := get(t, url.Values{"ns": {prefix + "-*"}}, hdr{"Authorization": "Bearer auditor-a-secret-0123456"})
		if got := names(a); got != "-a:3 -a:2 -a:1" {
			t.Fatalf("got %q, want namespace a only", got)
		}
		wantError(t, ts.do(t, "GET", auditPath(all), nil, hdr{"Authorization": "Bearer " + readSecret}), http.StatusForbidden, "forbidden")
		wantError(t, ts.do(t, "GET", auditPath(all), nil, hdr{"Authorization": "Bearer " + deploySecret}), http.StatusForbidden, "forbidden")
		// The audit scope implies nothing else.
		wantError(t, ts.do(t, "GET", path(prefix+"-a", "/flows"), nil, hdr{"Authorization": "Bearer auditor-a-secret-0123456"}), http.StatusForbidden, "forbidden")
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, q := range []string{"format=xml", "cursor=nope", "limit=0", "limit=5000", "follow=1", "ns=[", "since=yesterday", "kind=nope"} {
			v, _ := url.ParseQuery(q)
			wantError(t, ts.do(t, "GET", auditPath(v), nil, nil), http.StatusBadRequest, "invalid")
		}
	})
	t.Run("CSVIsSpreadsheetSafe", func(t *testing.T) {
		r := ts.do(t, "GET", auditPath(url.Values{"ns": {prefix + "-a"}, "format": {"csv"}}), nil, nil)
		rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
		if err != nil || len(rows) != 4 {
			t.Fatalf("got %d rows (%v): %s", len(rows), err, r.body)
		}
		if user := rows[1][8]; user != `'=HYPERLINK("x")` {
			t.Fatalf("got user cell %q, want it prefixed with '", user)
		}
	})
}

// TestAuditFollow streams new events as they land and resumes from the
// cursor of the last line read, missing nothing and repeating nothing.
func TestAuditFollow(t *testing.T) {
	t.Parallel()
	ts, prefix := auditServer(t)
	follow := func(t *testing.T, cursor string, n int) []httpapi.AuditEntry {
		t.Helper()
		ctx, cancel := context.WithTimeout(testCtx(t), 10*time.Second) // a miss fails, not hangs
		defer cancel()
		q := url.Values{"ns": {prefix + "-*"}, "format": {"ndjson"}, "follow": {"1"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+auditPath(q), nil)
		req.Header.Set("Authorization", "Bearer "+adminSecret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("got %d", res.StatusCode)
		}
		sc := bufio.NewScanner(res.Body)
		var got []httpapi.AuditEntry
		for len(got) < n && sc.Scan() {
			var e httpapi.AuditEntry
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("line %s: %v", sc.Bytes(), err)
			}
			got = append(got, e)
		}
		return got
	}
	// From the first event on: the cursor of a1 minus nothing — start
	// from the oldest page's cursor.
	var page httpapi.Audit
	ts.ok(t, "GET", auditPath(url.Values{"ns": {prefix + "-*"}, "limit": {"6"}}), nil, nil, &page)
	oldest := page.Entries[5].Cursor
	done := make(chan []httpapi.AuditEntry)
	go func() { done <- follow(t, oldest, 7) }()
	// Five old events after a1 come at once; two new ones as they land.
	ts.ok(t, "PUT", path(prefix+"-a", "/settings"), []byte(`{"n":4}`), nil, nil)
	ts.ok(t, "PUT", path(prefix+"-b", "/settings"), []byte(`{"n":4}`), nil, nil)
	got := <-done
	var order []string
	for _, e := range got {
		order = append(order, strings.TrimPrefix(e.Namespace, prefix)+":"+e.Revision.String())
	}
	if s := strings.Join(order, " "); s != "-a:2 -a:3 -b:1 -b:2 -b:3 -a:4 -b:4" {
		t.Fatalf("got %q", s)
	}
	// Resume after the fifth line: the last two again, nothing else.
	again := follow(t, got[4].Cursor, 2)
	if again[0].Cursor != got[5].Cursor || again[1].Cursor != got[6].Cursor {
		t.Fatalf("resumed at %s, %s; want %s, %s", again[0].Cursor, again[1].Cursor, got[5].Cursor, got[6].Cursor)
	}
}

// TestAuditValkeyDown: with Valkey gone or hung, every form of the audit
// answers 503 unavailable, fast, before it streams anything.
func TestAuditValkeyDown(t *testing.T) {
	t.Parallel()
	for _, fault := range []struct {
		name        string
		break_, fix func(*valkeytest.Server)
	}{
		{"Killed", (*valkeytest.Server).Kill, func(s *valkeytest.Server) { s.Restart(t) }},
		{"Hung", (*valkeytest.Server).Pause, (*valkeytest.Server).Resume},
	} {
		t.Run(fault.name, func(t *testing.T) {
			t.Parallel()
			auditFault(t, fault.break_, fault.fix)
		})
	}
}

func auditFault(t *testing.T, break_, fix func(*valkeytest.Server)) {
	srv := valkeytest.Start(t)
	ts := mustServerAt(t, srv.Addr, httpapi.Config{RequestTimeout: time.Second})
	ns := randomNS(t)
	ts.ok(t, "PUT", path(ns, "/settings"), []byte(`{"n":1}`), nil, nil)
	break_(srv)
	defer fix(srv)
	for _, q := range []string{"", "format=ndjson", "format=csv", "format=ndjson&follow=1"} {
		v, _ := url.ParseQuery(q)
		start := time.Now()
		r := ts.do(t, "GET", auditPath(v), nil, nil)
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("%s: took %s, want under 2s", q, took)
		}
		wantError(t, r, http.StatusServiceUnavailable, "unavailable")
		if r.header.Get("Retry-After") == "" {
			t.Errorf("%s: no Retry-After", q)
		}
	}
}
