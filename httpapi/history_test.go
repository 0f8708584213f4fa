package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/domain/domaintest"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/streamstest"
)

// historyEntry is one entry of GET …/history and GET …/revisions/{rev}.
type historyEntry = httpapi.HistoryEntry

// historyPage is one answer of GET …/history.
type historyPage = httpapi.History

// history answers GET …/history?query, which must succeed.
func (ts *testServer) history(tb testing.TB, ns, query string) (historyPage, response) {
	tb.Helper()
	var p historyPage
	res := ts.ok(tb, "GET", path(ns, "/history?"+query), nil, nil, &p)
	return p, res
}

func revisionsOf(entries []historyEntry) []domain.Revision {
	out := make([]domain.Revision, len(entries))
	for i, e := range entries {
		out[i] = e.Revision
	}
	return out
}

// appendProject appends a project.activated event through the store: no
// endpoint activates a project (Node-RED's project switch reaches flowhist
// as a projector input only).
func (ts *testServer) appendProject(tb testing.TB, ns, name, user string) domain.Revision {
	tb.Helper()
	payload, err := domain.EncodePayload(domain.ProjectPayload{Name: name})
	if err != nil {
		tb.Fatal(err)
	}
	res, err := ts.store.Append(testCtx(tb), streams.AppendRequest{Event: domain.Event{
		Type: domain.ProjectActivated, Namespace: ns, Aggregate: domain.AggregateProject,
		Provenance: domain.Provenance{Actor: domain.Actor{User: user, Channel: domain.ChannelNodeRED}}, Schema: domain.ProjectPayloadSchema, Payload: payload,
	}})
	if err != nil {
		tb.Fatalf("append project.activated: %v", err)
	}
	return res.Revision
}

// Credentials as Node-RED writes them: unencrypted (credentialSecret: false)
// and encrypted. Neither string may ever appear in an audit answer.
const (
	credsPlain      = `{"n1":{"user":"svc","password":"plaintext-hunter2-9f1c"}}`
	credsPlainValue = "plaintext-hunter2-9f1c"
	credsCipher     = `{"$":"c1pher7e3d0b9a6f45e2c18d7b0a9f3e6c2d15b8a7f0e9d3c6b2a1f5e8d7c4b3a2"}`
	credsCipherText = "c1pher7e3d0b9a6f45e2c18d7b0a9f3e6c2d15b8a7f0e9d3c6b2a1f5e8d7c4b3a2"
)

// auditDoc returns a small document: tab1 and n1 (named name1), and n2 if
// withN2.
func auditDoc(name1 string, withN2 bool) []byte {
	doc := `[{"id":"tab1","type":"tab","label":"Orders"},{"id":"n1","type":"inject","z":"tab1","name":"` + name1 + `","x":100,"y":40,"wires":[[]]}`
	if withN2 {
		doc += `,{"id":"n2","type":"debug","z":"tab1","name":"log","x":300,"y":40,"wires":[]}`
	}
	return []byte(doc + "]")
}

// seedAudit fills ns with one event of every kind; the revisions are:
//
//	1 flows.deployed    alice  tab1, n1 added            (channel node-red)
//	2 settings.saved    bob
//	3 library.saved     carol
//	4 credentials.saved alice  credsPlain
//	5 flows.deployed    bob    n2 added, credsCipher     (POST /deploy)
//	6 settings.saved    bob    with a user package, so …
//	7 packages.changed  bob
//	8 project.activated dave                             (through the store)
//	9 flows.deployed    alice  n1 renamed
//	10 flows.rolledback admin  to 1: n1 renamed back, n2 removed, credentials {}
func seedAudit(tb testing.TB, ts *testServer, ns string) {
	tb.Helper()
	as := func(user string) hdr { return hdr{"Flowhist-User": user} }
	ts.ok(tb, "PUT", path(ns, "/flows"), auditDoc("one", false), hdr{"Flowhist-User": "alice", "Flowhist-Channel": "node-red"}, nil)
	ts.ok(tb, "PUT", path(ns, "/settings"), []byte(`{"telemetryEnabled":false}`), as("bob"), nil)
	ts.ok(tb, "PUT", path(ns, "/library/functions?path=team/a.js"), []byte(`{"meta":{"name":"a"},"body":"return msg;"}`), as("carol"), nil)
	ts.ok(tb, "PUT", path(ns, "/credentials"), []byte(credsPlain), as("alice"), nil)
	ts.ok(tb, "POST", path(ns, "/deploy"), []byte(`{"flows":`+string(auditDoc("one", true))+`,"credentials":`+credsCipher+`,"user":"bob"}`), nil, nil)
	ts.ok(tb, "PUT", path(ns, "/settings"), []byte(`{"telemetryEnabled":false,"nodes":{"node-red-contrib-x":{"version":"1.2.0","user":true}}}`), as("bob"), nil)
	ts.appendProject(tb, ns, "billing", "dave")
	ts.ok(tb, "PUT", path(ns, "/flows"), auditDoc("uno", true), as("alice"), nil)
	ts.ok(tb, "POST", path(ns, "/rollback"), []byte(`{"to":1,"reason":"bad deploy"}`), nil, nil)
	if h := ts.head(tb, ns); h != 10 {
		tb.Fatalf("seeded %d events, want 10", h)
	}
}

func TestHistoryFilters(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	ns := randomNS(t)
	seedAudit(t, ts, ns)

	all, _ := ts.history(t, ns, "")
	if got, want := revisionsOf(all.Entries), []domain.Revision{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}; !slices.Equal(got, want) {
		t.Fatalf("got revisions %v, want %v", got, want)
	}
	if all.NextCursor != "" {
		t.Fatalf("got nextCursor %q on the only page, want none", all.NextCursor)
	}
	timeOf := func(rev domain.Revision) time.Time { return all.Entries[10-rev].Time }

	for _, c := range []struct {
		name, query string
		want        []domain.Revision
	}{
		{"KindFlows", "kind=flows", []domain.Revision{10, 9, 5, 1}},
		// 10: the rollback restored "no credentials" over credsCipher.
		{"KindCredentials", "kind=credentials", []domain.Revision{10, 5, 4}},
		{"KindSettings", "kind=settings", []domain.Revision{6, 2}},
		{"KindLibrary", "kind=library", []domain.Revision{3}},
		{"KindPackages", "kind=packages", []domain.Revision{7}},
		{"KindProject", "kind=project", []domain.Revision{8}},
		{"KindRollback", "kind=rollback", []domain.Revision{10}},
		{"KindsOred", "kind=settings,library", []domain.Revision{6, 3, 2}},
		{"KindsSpaced", "kind=" + url.QueryEscape("packages, project"), []domain.Revision{8, 7}},
		{"ActorAlice", "actor=alice", []domain.Revision{9, 4, 1}},
		{"ActorBob", "actor=bob", []domain.Revision{7, 6, 5, 2}},
		{"ActorTokenName", "actor=admin", []domain.Revision{10}},
		{"ActorUnknown", "actor=mallory", []domain.Revision{}},
		{"NodeN1", "node=n1", []domain.Revision{10, 9, 1}},
		{"NodeN2", "node=n2", []domain.Revision{10, 5}},
		{"NodeTab", "node=tab1", []domain.Revision{1}},
		{"NodeUnknown", "node=zzz", []domain.Revision{}},
		{"KindAndActor", "kind=flows&actor=alice", []domain.Revision{9, 1}},
		{"KindAndNode", "kind=rollback&node=n2", []domain.Revision{10}},
		{"CredentialsByBob", "kind=credentials&actor=bob", []domain.Revision{5}},
		{"NodeAndActor", "node=n1&actor=alice", []domain.Revision{9, 1}},
		{"KindActorNodeLimit", "kind=flows,credentials&actor=alice&limit=1", []domain.Revision{9}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, _ := ts.history(t, ns, c.query)
			if !slices.Equal(revisionsOf(got.Entries), c.want) {
				t.Fatalf("?%s: got revisions %v, want %v", c.query, revisionsOf(got.Entries), c.want)
			}
		})
	}

	// The time bounds come from the answer's own times; events appended
	// within one millisecond share a time, so the expected revisions are
	// worked out from the times rather than assumed.
	inRange := func(since, until time.Time) []domain.Revision {
		out := []domain.Revision{}
		for _, e := range all.Entries {
			if (since.IsZero() || !e.Time.Before(since)) && (until.IsZero() || !e.Time.After(until)) {
				out = append(out, e.Revision)
			}
		}
		return out
	}
	rfc := func(t time.Time) string { return url.QueryEscape(t.Format(time.RFC3339Nano)) }
	for _, c := range []struct {
		name         string
		since, until time.Time
		extra        string
	}{
		{name: "Since", since: timeOf(4)},
		{name: "Until", until: timeOf(6)},
		{name: "SinceUntil", since: timeOf(4), until: timeOf(8)},
		{name: "SinceEqualsUntil", since: timeOf(5), until: timeOf(5)},
		{name: "SinceNewest", since: timeOf(10)},
		{name: "UntilOldest", until: timeOf(1)},
		{name: "BeforeEverything", until: timeOf(1).Add(-time.Hour)},
		{name: "AfterEverything", since: timeOf(10).Add(time.Hour)},
		{name: "OtherZone", since: timeOf(3).In(time.FixedZone("", -5*3600)), until: timeOf(9).In(time.FixedZone("", 2*3600))},
		{name: "SinceUntilWithKind", since: timeOf(2), until: timeOf(9), extra: "&kind=flows"},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := ""
			if !c.since.IsZero() {
				q += "&since=" + rfc(c.since)
			}
			if !c.until.IsZero() {
				q += "&until=" + rfc(c.until)
			}
			want := inRange(c.since, c.until)
			if c.extra == "&kind=flows" {
				want = slices.DeleteFunc(want, func(r domain.Revision) bool { return !slices.Contains([]domain.Revision{10, 9, 5, 1}, r) })
			}
			got, _ := ts.history(t, ns, q[1:]+c.extra)
			if !slices.Equal(revisionsOf(got.Entries), want) {
				t.Fatalf("?%s: got revisions %v, want %v", q[1:]+c.extra, revisionsOf(got.Entries), want)
			}
		})
	}

	t.Run("SinceSubMillisecond", func(t *testing.T) {
		since := timeOf(5).Add(time.Microsecond)
		got, _ := ts.history(t, ns, "since="+rfc(since))
		if want := inRange(since, time.Time{}); !slices.Equal(revisionsOf(got.Entries), want) {
			t.Fatalf("since=%s: got revisions %v, want %v (an event at %s is before since)", since.Format(time.RFC3339Nano), revisionsOf(got.Entries), want, timeOf(5).Format(time.RFC3339Nano))
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		for _, q := range []string{
			"kind=bogus", "kind=flows,bogus", "kind=flows,", "kind=Flows",
			"since=yesterday", "since=2026-01-02", "until=2026-01-02T03:04:05", "since=1700000000",
			"since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z",
			"limit=0", "limit=-1", "limit=501", "limit=abc", "limit=1.5",
			"cursor=0", "cursor=abc", "cursor=-3",
		} {
			wantError(t, ts.do(t, "GET", path(ns, "/history?"+q), nil, nil), http.StatusBadRequest, domain.EINVALID)
		}
	})

	t.Run("EmptyNamespace", func(t *testing.T) {
		got, res := ts.history(t, randomNS(t), "")
		if got.Entries == nil || len(got.Entries) != 0 || got.NextCursor != "" {
			t.Fatalf("got %s, want {\"entries\":[]}", res.body)
		}
	})
}

func TestHistoryEntries(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	ns := randomNS(t)
	seedAudit(t, ts, ns)
	all, allRes := ts.history(t, ns, "")
	byRev := func(rev domain.Revision) historyEntry { return all.Entries[10-rev] }

	t.Run("FlowsDeploy", func(t *testing.T) {
		e := byRev(1)
		if e.Type != domain.FlowsDeployed || e.Aggregate != domain.AggregateFlows || e.AggregateRevision != 1 {
			t.Fatalf("got %s on %s at aggregate revision %d, want flows.deployed on flows at 1", e.Type, e.Aggregate, e.AggregateRevision)
		}
		if e.Actor.User != "alice" || e.Actor.Channel != domain.ChannelNodeRED {
			t.Fatalf("got actor %+v, want alice through node-red", e.Actor)
		}
		if want := domain.SHA256Hex(auditDoc("one", false)); e.SHA256 != want {
			t.Fatalf("got sha256 %s, want %s (of the document as deployed)", e.SHA256, want)
		}
		want := &domain.Summary{Added: []domain.NodeRef{{ID: "tab1", Type: "tab", Name: "Orders"}, {ID: "n1", Type: "inject", Name: "one"}}}
		if !jsonEqual(e.Summary, want) {
			t.Fatalf("got summary %+v, want %+v", e.Summary, want)
		}
		if e.Credentials != nil {
			t.Fatalf("got credentials %+v on a deploy without them, want none", e.Credentials)
		}
		if e.Time.IsZero() || time.Since(e.Time) > time.Minute {
			t.Fatalf("got time %s, want about now", e.Time)
		}
	})

	t.Run("RenameSummary", func(t *testing.T) {
		want := &domain.Summary{Changed: []domain.NodeRef{{ID: "n1", Type: "inject", Name: "uno"}}}
		if e := byRev(9); !jsonEqual(e.Summary, want) {
			t.Fatalf("got summary %+v, want %+v", e.Summary, want)
		}
	})

	t.Run("DeployWithCredentials", func(t *testing.T) {
		e := byRev(5)
		if e.Credentials == nil || !e.Credentials.Changed || e.Credentials.SHA256 != domain.SHA256Hex([]byte(credsCipher)) {
			t.Fatalf("got credentials %+v, want changed with sha256 %s", e.Credentials, domain.SHA256Hex([]byte(credsCipher)))
		}
		if e.Actor.User != "bob" {
			t.Fatalf("got actor %q, want bob (the deploy body's user)", e.Actor.User)
		}
		want := &domain.Summary{Added: []domain.NodeRef{{ID: "n2", Type: "debug", Name: "log"}}}
		if !jsonEqual(e.Summary, want) {
			t.Fatalf("got summary %+v, want %+v", e.Summary, want)
		}
	})

	t.Run("CredentialsSaved", func(t *testing.T) {
		e := byRev(4)
		if e.Type != domain.CredentialsSaved || e.Credentials == nil || !e.Credentials.Changed || e.Credentials.SHA256 != domain.SHA256Hex([]byte(credsPlain)) {
			t.Fatalf("got %s with credentials %+v, want credentials.saved, changed, sha256 %s", e.Type, e.Credentials, domain.SHA256Hex([]byte(credsPlain)))
		}
		if e.Summary != nil {
			t.Fatalf("got summary %+v, want none: no node changed", e.Summary)
		}
	})

	t.Run("Rollback", func(t *testing.T) {
		e := byRev(10)
		if e.Type != domain.FlowsRolledBack || e.Cause != domain.CauseRollback || e.Target != 1 || e.Reason != "bad deploy" || e.Actor.User != "admin" {
			t.Fatalf("got %+v, want flows.rolledback by admin to 1 for \"bad deploy\"", e)
		}
	})

	t.Run("NoCredentialsShown", func(t *testing.T) {
		bodies := [][]byte{allRes.body}
		for rev := domain.Revision(1); rev <= 10; rev++ {
			bodies = append(bodies, ts.ok(t, "GET", path(ns, fmt.Sprintf("/revisions/%d", rev)), nil, nil, nil).body)
		}
		_, res := ts.history(t, ns, "kind=credentials")
		bodies = append(bodies, res.body)
		for _, b := range bodies {
			for _, secret := range []string{credsPlainValue, credsCipherText} {
				if contains(b, secret) {
					t.Fatalf("got %s, want no credentials' text in it", b)
				}
			}
		}
	})

	t.Run("RevisionEqualsHistoryEntry", func(t *testing.T) {
		var got historyEntry
		ts.ok(t, "GET", path(ns, "/revisions/5"), nil, nil, &got)
		if !jsonEqual(got, byRev(5)) {
			t.Fatalf("got %+v, want the history's entry %+v", got, byRev(5))
		}
	})

	t.Run("RevisionPayloads", func(t *testing.T) {
		for _, c := range []struct {
			rev  domain.Revision
			want map[string]any
		}{
			{3, map[string]any{"entry": map[string]any{"type": "functions", "path": "team/a.js", "meta": map[string]any{"name": "a"}, "body": "return msg;"}}},
			{7, map[string]any{"packages": []any{map[string]any{"name": "node-red-contrib-x", "version": "1.2.0"}}}},
			{8, map[string]any{"name": "billing"}},
			{2, map[string]any{"settings": map[string]any{"telemetryEnabled": false}}},
			{1, nil}, // flows events carry their summary, not their patch
		} {
			var got historyEntry
			ts.ok(t, "GET", path(ns, fmt.Sprintf("/revisions/%d", c.rev)), nil, nil, &got)
			var payload any
			if len(got.Payload) > 0 {
				if err := json.Unmarshal(got.Payload, &payload); err != nil {
					t.Fatal(err)
				}
			}
			if !jsonEqual(payload, c.want) {
				t.Fatalf("revision %d: got payload %s, want %v", c.rev, got.Payload, c.want)
			}
		}
	})

	t.Run("RevisionInvalid", func(t *testing.T) {
		wantError(t, ts.do(t, "GET", path(ns, "/revisions/11"), nil, nil), http.StatusNotFound, domain.ENOTFOUND)
		for _, rev := range []string{"0", "abc", "-1", "1.0"} {
			wantError(t, ts.do(t, "GET", path(ns, "/revisions/"+rev), nil, nil), http.StatusBadRequest, domain.EINVALID)
		}
	})
}

func TestHistoryRedactsSettings(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	ns := randomNS(t)
	settings := `{"_credentialSecret":"s1","nested":{"apiToken":"t1","password":"p1","dbPassword":"p2"},"keep":"visible","list":[{"privateKey":"k9"}]}`
	var put appendResult
	ts.ok(t, "PUT", path(ns, "/settings"), []byte(settings), nil, &put)
	secrets := []string{"s1", "t1", "p1", "p2", "k9", "_credentialSecret"}

	t.Run("Revision", func(t *testing.T) {
		res := ts.ok(t, "GET", path(ns, "/revisions/"+put.Revision.String()), nil, nil, nil)
		for _, s := range secrets {
			if contains(res.body, s) {
				t.Fatalf("got %s, want no %q in it", res.body, s)
			}
		}
		var got historyEntry
		res.decode(t, &got)
		want := map[string]any{"settings": map[string]any{
			"nested": map[string]any{"apiToken": "[redacted]", "password": "[redacted]", "dbPassword": "[redacted]"},
			"keep":   "visible",
			"list":   []any{map[string]any{"privateKey": "[redacted]"}},
		}}
		if !jsonEqual(got.Payload, want) {
			t.Fatalf("got payload %s, want %v", res.body, want)
		}
	})

	t.Run("History", func(t *testing.T) {
		for _, q := range []string{"", "kind=settings", "kind=credentials"} {
			_, res := ts.history(t, ns, q)
			for _, s := range secrets {
				if contains(res.body, s) {
					t.Fatalf("?%s: got %s, want no %q in it", q, res.body, s)
				}
			}
		}
	})
}

func TestHistoryPagination(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	ns := randomNS(t)
	ctx := testCtx(t)
	// 1000 events through the store: revisions 1, 4, 7, … 1000 are flows
	// deploys by carol, the others settings saves by dave.
	settings, err := domain.EncodePayload(domain.SettingsPayload{Settings: []byte(`{"x":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	for rev := 1; rev <= 1000; rev++ {
		if rev%3 == 1 {
			f, err := domain.ParseFlows(flowsDoc(fmt.Sprint("deploy ", rev)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := streamstest.AppendFlows(ctx, ts.store, ns, domain.FlowsChange{Flows: f, Origin: domain.Origin{Actor: domain.Actor{User: "carol"}}}, ""); err != nil {
				t.Fatalf("AppendFlows %d: %v", rev, err)
			}
			continue
		}
		_, err := ts.store.Append(ctx, streams.AppendRequest{Event: domain.Event{
			Type: domain.SettingsSaved, Namespace: ns, Aggregate: domain.AggregateSettings,
			Provenance: domain.Provenance{Actor: domain.Actor{User: "dave"}}, Schema: domain.SettingsPayloadSchema, Payload: settings,
		}})
		if err != nil {
			t.Fatalf("Append %d: %v", rev, err)
		}
	}

	// walk follows nextCursor from the head to the end and returns every
	// revision seen, in order, failing on a short page before the last.
	walk := func(t *testing.T, query string, limit int) []domain.Revision {
		var seen []domain.Revision
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 1000 {
				t.Fatalf("?%s: got more than 1000 pages, want the cursor to reach the end", query)
			}
			q := fmt.Sprintf("%s&limit=%d", query, limit)
			if cursor != "" {
				q += "&cursor=" + cursor
			}
			p, _ := ts.history(t, ns, q)
			seen = append(seen, revisionsOf(p.Entries)...)
			if p.NextCursor == "" {
				return seen
			}
			if len(p.Entries) != limit {
				t.Fatalf("?%s: got a page of %d entries with a nextCursor, want %d", q, len(p.Entries), limit)
			}
			cursor = p.NextCursor
		}
	}
	wantDescending := func(t *testing.T, got []domain.Revision, keep func(domain.Revision) bool) {
		want := []domain.Revision{}
		for rev := domain.Revision(1000); rev >= 1; rev-- {
			if keep(rev) {
				want = append(want, rev)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("got %d entries, want %d", len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("got revision %d at position %d, want %d (no duplicates, no gaps, newest first)", got[i], i, want[i])
			}
		}
	}

	t.Run("All", func(t *testing.T) {
		t.Parallel()
		wantDescending(t, walk(t, "", 37), func(domain.Revision) bool { return true })
	})
	t.Run("EveryThirdByKind", func(t *testing.T) {
		t.Parallel()
		wantDescending(t, walk(t, "kind=flows", 37), func(r domain.Revision) bool { return r%3 == 1 })
	})
	t.Run("EveryThirdByActor", func(t *testing.T) {
		t.Parallel()
		wantDescending(t, walk(t, "actor=carol", 37), func(r domain.Revision) bool { return r%3 == 1 })
	})
	t.Run("OthersByActor", func(t *testing.T) {
		t.Parallel()
		wantDescending(t, walk(t, "actor=dave", 37), func(r domain.Revision) bool { return r%3 != 1 })
	})
	t.Run("LastPage", func(t *testing.T) {
		t.Parallel()
		p, _ := ts.history(t, ns, "limit=37&cursor=38")
		if got, want := revisionsOf(p.Entries), descending(37, 1); !slices.Equal(got, want) || p.NextCursor != "" {
			t.Fatalf("got %v (nextCursor %v), want %v and no nextCursor", got, p.NextCursor, want)
		}
		p, _ = ts.history(t, ns, "limit=37&cursor=1")
		if len(p.Entries) != 0 || p.NextCursor != "" {
			t.Fatalf("got %v (nextCursor %v) below revision 1, want nothing", revisionsOf(p.Entries), p.NextCursor)
		}
	})
	t.Run("CursorPastHead", func(t *testing.T) {
		t.Parallel()
		p, _ := ts.history(t, ns, "limit=3&cursor=5000")
		if got, want := revisionsOf(p.Entries), descending(1000, 998); !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
	t.Run("NoMatch", func(t *testing.T) {
		t.Parallel()
		p, _ := ts.history(t, ns, "kind=library&limit=37")
		for p.NextCursor != "" {
			// Each answer may stop after scanning part of the log; following
			// the cursor must still end, with nothing found.
			if len(p.Entries) != 0 {
				t.Fatalf("got %v, want no library events", revisionsOf(p.Entries))
			}
			p, _ = ts.history(t, ns, "kind=library&limit=37&cursor="+p.NextCursor)
		}
		if len(p.Entries) != 0 {
			t.Fatalf("got %v, want no library events", revisionsOf(p.Entries))
		}
	})
}

// descending returns from, from-1, … to.
func descending(from, to domain.Revision) []domain.Revision {
	var out []domain.Revision
	for r := from; r >= to; r-- {
		out = append(out, r)
	}
	return out
}

func TestRevisionFlows(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	ns := randomNS(t)
	d := domaintest.NewDoc(60)
	docOf := func() []byte {
		b := d.Bytes()
		return append(append(b[:len(b)-1:len(b)-1], ","+escapedNode...), ']')
	}
	// Flows deploys interleaved with other events; want[rev] is the flows
	// document as of every revision.
	want := map[domain.Revision][]byte{}
	wantFlowsRev := map[domain.Revision]domain.Revision{}
	var doc []byte
	var flowsRev domain.Revision
	deploy := func(i int) {
		d.Touch(i)
		doc = docOf()
		var res appendResult
		ts.ok(t, "PUT", path(ns, "/flows"), doc, nil, &res)
		want[res.Revision], flowsRev = doc, res.FlowsRevision
		wantFlowsRev[res.Revision] = flowsRev
	}
	other := func(i int) {
		var res appendResult
		ts.ok(t, "PUT", path(ns, "/settings"), []byte(fmt.Sprintf(`{"n":%d}`, i)), nil, &res)
		want[res.Revision], wantFlowsRev[res.Revision] = doc, flowsRev
	}
	check := func(t *testing.T) {
		for rev, doc := range want {
			res := ts.ok(t, "GET", path(ns, fmt.Sprintf("/revisions/%d/flows", rev)), nil, nil, nil)
			if !bytes.Equal(res.body, doc) {
				t.Fatalf("revision %d: got a document differing from the one deployed at byte %d", rev, firstDiff(res.body, doc))
			}
			if got, want := res.header.Get("ETag"), fmt.Sprintf(`"%d"`, wantFlowsRev[rev]); got != want {
				t.Fatalf("revision %d: got ETag %s, want %s (the flows revision)", rev, got, want)
			}
		}
	}
	for i := range 6 {
		deploy(i)
		other(i)
	}

	t.Run("ByteExact", check)

	t.Run("AfterMoreDeploys", func(t *testing.T) {
		for i := range 6 {
			deploy(10 + i)
		}
		check(t)
	})

	t.Run("Errors", func(t *testing.T) {
		head := ts.head(t, ns)
		wantError(t, ts.do(t, "GET", path(ns, fmt.Sprintf("/revisions/%d/flows", head+1)), nil, nil), http.StatusNotFound, domain.ENOTFOUND)
		wantError(t, ts.do(t, "GET", path(randomNS(t), "/revisions/1/flows"), nil, nil), http.StatusNotFound, domain.ENOTFOUND)
		for _, rev := range []string{"0", "abc", "-1", "1e3"} {
			wantError(t, ts.do(t, "GET", path(ns, "/revisions/"+rev+"/flows"), nil, nil), http.StatusBadRequest, domain.EINVALID)
		}
	})
}
