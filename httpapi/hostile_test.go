package httpapi_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
	"github.com/flowhist/flowhist/projector"
)

// Hostile input: every body a careless or hostile client may send is
// either stored and read back equal, with verify passing, or refused with
// a 4xx JSON error that changes nothing.

// decodeJSON decodes a JSON value keeping numbers as written.
func decodeJSON(tb testing.TB, b []byte) any {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		tb.Fatalf("decode %.200q: %v", b, err)
	}
	return v
}

// wantJSONEqual fails unless got and want are the same JSON value (numbers
// compared as written).
func wantJSONEqual(tb testing.TB, what string, got, want []byte) {
	tb.Helper()
	if !reflect.DeepEqual(decodeJSON(tb, got), decodeJSON(tb, want)) {
		tb.Fatalf("%s: got %.300s, want (JSON-equal) %.300s", what, got, want)
	}
}

// mustVerify projects ns and fails unless projector.Verify passes on it.
func (ts *testServer) mustVerify(tb testing.TB, ns string) {
	tb.Helper()
	ctx := testCtx(tb)
	if _, err := ts.proj.CatchUpNamespace(ctx, ns); err != nil {
		tb.Fatalf("CatchUpNamespace: %v", err)
	}
	r, err := projector.Verify(ctx, ts.store, ns)
	if err != nil {
		tb.Fatalf("Verify: %v", err)
	}
	if !r.OK {
		tb.Fatalf("Verify: got %+v, want OK", r)
	}
}

// flowsRevision returns the namespace revision GET flows answers.
func (ts *testServer) flowsRevision(tb testing.TB, ns string) string {
	tb.Helper()
	return ts.ok(tb, "GET", path(ns, "/flows"), nil, nil, nil).header.Get("Flowhist-Revision")
}

// wantRefused checks that r is a 4xx JSON error with a code and a message,
// and that ns's revision is still before, both in the log and in GET flows.
func (ts *testServer) wantRefused(tb testing.TB, r response, ns string, before domain.Revision, status int) errorBody {
	tb.Helper()
	if r.status != status {
		tb.Fatalf("got status %d (%.300s), want %d", r.status, r.body, status)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		tb.Fatalf("got Content-Type %q (%.300s), want application/json", ct, r.body)
	}
	var e errorBody
	r.decode(tb, &e)
	if e.Code == "" || e.Message == "" {
		tb.Fatalf("got code %q, message %q, want both", e.Code, e.Message)
	}
	if len(e.Message) > 1000 {
		tb.Fatalf("got a %d-byte message, want a short one (%.100s…)", len(e.Message), e.Message)
	}
	if got := ts.head(tb, ns); got != before {
		tb.Fatalf("got revision %d after the refusal, want %d: something was appended", got, before)
	}
	if got, want := ts.flowsRevision(tb, ns), before.String(); got != want {
		tb.Fatalf("got Flowhist-Revision %s after the refusal, want %s", got, want)
	}
	return e
}

// bigInt is a 400-digit integer: beyond float64, valid JSON.
var bigInt = "9" + strings.Repeat("0", 399)

// oddObjects are valid JSON objects formatted as no serializer would, each
// to be stored and read back JSON-equal.
var oddObjects = []struct{ name, body string }{
	{"Whitespace", `{ "a" : 1 }`},
	{"PrettyPrinted", "{\n\t\"b\": [\n\t\t1,\n\t\t2\n\t],\r\n  \"a\": {  }\n}\n"},
	{"KeyOrder", `{"z":1,"a":2,"m":{"y":3,"b":4}}`},
	{"UnicodeEscapes", `{"e":"\u00e9","pair":"\ud83d\ude00","raw":"é😀","html":"<&>\u003c","sep":"` + "\u2028" + `\u2029","slash":"\/"}`},
	{"BigNumbers", `{"n":1e400,"i":` + bigInt + `,"neg":-1E-400,"z":-0.0e+0}`},
	{"DeepNesting", strings.Repeat(`{"d":`, 1000) + "1" + strings.Repeat("}", 1000)},
	{"Empty", `{}`},
	{"EmptyWithWhitespace", " \n{ \t}\r\n"},
	{"EscapedKeys", `{"\u0061":1,"b\"c":2}`},
}

// TestAcceptedBodiesReadBack sends every odd object to each aggregate and
// checks that it reads back JSON-equal and verifies.
func TestAcceptedBodiesReadBack(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})

	for _, c := range oddObjects {
		t.Run("Settings"+c.name, func(t *testing.T) {
			t.Parallel()
			ns := randomNS(t)
			var res appendResult
			ts.ok(t, "PUT", path(ns, "/settings"), []byte(c.body), nil, &res)
			got := ts.do(t, "GET", path(ns, "/settings"), nil, nil)
			if got.status != http.StatusOK {
				t.Fatalf("GET settings: got status %d (%s), want 200", got.status, got.body)
			}
			wantJSONEqual(t, "GET settings", got.body, []byte(c.body))
			// The history shows them too, with nothing lost (redaction
			// must keep numbers beyond float64).
			var rev struct {
				Payload struct {
					Settings json.RawMessage `json:"settings"`
				} `json:"payload"`
			}
			ts.ok(t, "GET", path(ns, fmt.Sprintf("/revisions/%d", res.Revision)), nil, nil, &rev)
			wantJSONEqual(t, "GET revisions settings", rev.Payload.Settings, []byte(c.body))
			ts.mustVerify(t, ns)
		})

		t.Run("Credentials"+c.name, func(t *testing.T) {
			t.Parallel()
			ns := randomNS(t)
			ts.ok(t, "PUT", path(ns, "/credentials"), []byte(c.body), nil, nil)
			wantJSONEqual(t, "GET credentials", ts.ok(t, "GET", path(ns, "/credentials"), nil, nil, nil).body, []byte(c.body))
			ts.mustVerify(t, ns)
		})

		t.Run("DeployCredentials"+c.name, func(t *testing.T) {
			t.Parallel()
			ns := randomNS(t)
			body := `{"flows":` + string(flowsDoc("a")) + `, "credentials" : ` + c.body + `}`
			ts.ok(t, "POST", path(ns, "/deploy"), []byte(body), nil, nil)
			wantJSONEqual(t, "GET credentials", ts.ok(t, "GET", path(ns, "/credentials"), nil, nil, nil).body, []byte(c.body))
			ts.mustVerify(t, ns)
		})

		t.Run("Sessions"+c.name, func(t *testing.T) {
			t.Parallel()
			ns := randomNS(t)
			ts.ok(t, "PUT", path(ns, "/sessions"), []byte(c.body), nil, nil)
			wantJSONEqual(t, "GET sessions", ts.ok(t, "GET", path(ns, "/sessions"), nil, nil, nil).body, []byte(c.body))
		})

		t.Run("LibraryMeta"+c.name, func(t *testing.T) {
			t.Parallel()
			ns := randomNS(t)
			entry := `{ "meta" : ` + c.body + ` , "body" : "x \u00e9 \ud83d\ude00" }`
			var res appendResult
			ts.ok(t, "PUT", path(ns, "/library/flows?path=dir/odd"), []byte(entry), nil, &res)
			var rev struct {
				Payload struct {
					Entry struct {
						Meta json.RawMessage `json:"meta"`
					} `json:"entry"`
				} `json:"payload"`
			}
			ts.ok(t, "GET", path(ns, fmt.Sprintf("/revisions/%d", res.Revision)), nil, nil, &rev)
			wantJSONEqual(t, "GET revisions library meta", rev.Payload.Entry.Meta, []byte(c.body))
			var got struct {
				Meta json.RawMessage `json:"meta"`
				Body string          `json:"body"`
			}
			ts.ok(t, "GET", path(ns, "/library/flows?path=dir/odd"), nil, nil, &got)
			wantJSONEqual(t, "GET library meta", got.Meta, []byte(c.body))
			if want := "x é 😀"; got.Body != want {
				t.Fatalf("got body %q, want %q", got.Body, want)
			}
			var listing struct {
				Listing []map[string]json.RawMessage `json:"listing"`
			}
			ts.ok(t, "GET", path(ns, "/library/flows?path=dir"), nil, nil, &listing)
			if len(listing.Listing) != 1 || string(listing.Listing[0]["fn"]) != `"odd"` {
				t.Fatalf("got listing %+v, want the one entry odd", listing.Listing)
			}
			if c.name == "BigNumbers" && string(listing.Listing[0]["i"]) != bigInt {
				t.Fatalf("got listing %+v, want meta i %s as saved", listing.Listing[0], bigInt)
			}
			ts.mustVerify(t, ns)
		})
	}

	t.Run("SettingsWithoutTheSecret", func(t *testing.T) {
		t.Parallel()
		ns := randomNS(t)
		body := "{ \"z\" : 1 ,\n \"_credentialSecret\" : \"s3cr3t-s3cr3t\" , \"a\" : { \"n\" : 1e400 } }"
		ts.ok(t, "PUT", path(ns, "/settings"), []byte(body), nil, nil)
		got := ts.ok(t, "GET", path(ns, "/settings"), nil, nil, nil).body
		if want := `{"z":1,"a":{"n":1e400}}`; string(got) != want {
			t.Fatalf("got settings %s, want %s (key order kept, secret removed)", got, want)
		}
		for _, e := range ts.events(t, ns) {
			if bytes.Contains(e.Payload, []byte("s3cr3t")) {
				t.Fatalf("got the secret in revision %d's payload, want it removed", e.Revision)
			}
		}
		ts.mustVerify(t, ns)
	})

	t.Run("FlowsPrettyAndEscapedByteExactAfterCompaction", func(t *testing.T) {
		t.Parallel()
		ns := randomNS(t)
		body := "[\n  {\n    \"id\" : \"t\\u00e9\",\n    \"type\": \"tab\", \"label\": \"\\ud83d\\ude00 é <&> \\u2028\"\n  },\n" +
			"  { \"id\": \"n\", \"z\": \"t\\u00e9\", \"n\": 1e400, \"deep\": " + strings.Repeat("[", 500) + strings.Repeat("]", 500) +
			", \"config\": {\"credentials\": {\"nested\": \"is fine\"}} }\n]\n"
		var want bytes.Buffer
		if err := json.Compact(&want, []byte(body)); err != nil {
			t.Fatal(err)
		}
		ts.ok(t, "PUT", path(ns, "/flows"), []byte(body), nil, nil)
		if got := ts.ok(t, "GET", path(ns, "/flows"), nil, nil, nil).body; !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("got flows %s, want %s", got, want.Bytes())
		}
		ts.mustVerify(t, ns)
	})

	t.Run("DeployCredentialsNullLeavesThemAsTheyAre", func(t *testing.T) {
		t.Parallel()
		ns := randomNS(t)
		const creds = `{"$":"abc"}`
		ts.ok(t, "PUT", path(ns, "/credentials"), []byte(creds), nil, nil)
		ts.ok(t, "POST", path(ns, "/deploy"), []byte(`{"flows":`+string(flowsDoc("b"))+`,"credentials":null}`), nil, nil)
		if got := ts.ok(t, "GET", path(ns, "/credentials"), nil, nil, nil).body; string(got) != creds {
			t.Fatalf("got credentials %s, want %s unchanged", got, creds)
		}
		ts.mustVerify(t, ns)
	})

	t.Run("LongUserCutAtACharacter", func(t *testing.T) {
		t.Parallel()
		ns := randomNS(t)
		user := "x" + strings.Repeat("é", 150) // the cut at 200 bytes splits an é
		ts.ok(t, "PUT", path(ns, "/settings"), []byte(`{}`), hdr{"Flowhist-User": user}, nil)
		got := ts.events(t, ns)[0].Actor.User
		if want := "x" + strings.Repeat("é", 99); got != want {
			t.Fatalf("got user %q, want %q", got, want)
		}
		ts.mustVerify(t, ns)
	})

	t.Run("LongestIdempotencyKeyWithPackages", func(t *testing.T) {
		// The packages.changed event that follows takes a key derived from
		// the request's: it must be valid too, or the settings land and the
		// answer is a 400.
		t.Parallel()
		ns := randomNS(t)
		key := hdr{"Idempotency-Key": strings.Repeat("k", 200)}
		body := []byte(`{"nodes":{"node-red-contrib-x":{"version":"1.0.0","user":true}}}`)
		var first, again appendResult
		ts.ok(t, "PUT", path(ns, "/settings"), body, key, &first)
		if first.PackagesRevision != 2 {
			t.Fatalf("got packages revision %d, want 2", first.PackagesRevision)
		}
		ts.ok(t, "PUT", path(ns, "/settings"), body, key, &again)
		if !again.Duplicate || again.Revision != first.Revision {
			t.Fatalf("got %+v on the retry, want the first answer's revision %d as a duplicate", again, first.Revision)
		}
		if got := ts.head(t, ns); got != 2 {
			t.Fatalf("got revision %d, want 2", got)
		}
		ts.mustVerify(t, ns)
	})

	t.Run("LibraryNullMetaIsNoMeta", func(t *testing.T) {
		t.Parallel()
		ns := randomNS(t)
		ts.ok(t, "PUT", path(ns, "/library/flows?path=n"), []byte(`{"meta":null,"body":"b"}`), nil, nil)
		got := ts.ok(t, "GET", path(ns, "/library/flows?path=n"), nil, nil, nil).body
		wantJSONEqual(t, "GET library", got, []byte(`{"meta":{},"body":"b"}`))
		ts.mustVerify(t, ns)
	})
}

// hostileCase is one request that must be refused.
type hostileCase struct {
	name, method, rest string
	body               string
	h                  hdr
	status             int    // 400 unless set
	message            string // a part of the message, if set
}

// notObjects are JSON values (and non-JSON) that are not objects.
var notObjects = []struct{ name, body, message string }{
	{"Null", `null`, "not null"},
	{"NullWithWhitespace", " null \n", "not null"},
	{"Array", `[]`, "not an array"},
	{"ArrayOfObject", `[{"a":1}]`, "not an array"},
	{"String", `"{}"`, "not a string"},
	{"Number", `1`, "not a number"},
	{"Boolean", `false`, "not a boolean"},
	{"Truncated", `{"a":`, "must be a JSON object"},
	{"TwoObjects", `{}{}`, "must be a JSON object"},
	{"TooDeep", strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001), "must be a JSON object"},
	{"InvalidUTF8", "{\"a\":\"x\xff\"}", "invalid UTF-8 at byte 7"},
	{"InvalidUTF8Key", "{\"\xc3\":1}", "invalid UTF-8 at byte 2"},
	{"EncodedSurrogate", "{\"a\":\"\xed\xa0\x80\"}", "invalid UTF-8"},
	{"LoneSurrogate", `{"a":"\ud800"}`, `lone surrogate escape \ud800 at byte 6`},
	{"LoneLowSurrogate", `{"a":{"b":["\udfff"]}}`, `\udfff`},
}

func hostileBodies() []hostileCase {
	var cases []hostileCase
	for _, o := range notObjects {
		for _, agg := range []string{"settings", "credentials", "sessions"} {
			cases = append(cases, hostileCase{name: agg + o.name, method: "PUT", rest: "/" + agg, body: o.body, message: o.message})
		}
		if o.name != "Null" && o.name != "NullWithWhitespace" && o.name != "Truncated" && o.name != "TwoObjects" && o.name != "TooDeep" {
			// null there means "no change" / "no meta".
			cases = append(cases,
				hostileCase{name: "DeployCredentials" + o.name, method: "POST", rest: "/deploy",
					body: `{"flows":` + string(flowsDoc("x")) + `,"credentials":` + o.body + `}`, message: o.message},
				hostileCase{name: "LibraryMeta" + o.name, method: "PUT", rest: "/library/flows?path=m",
					// Offsets are in the whole entry.
					body: `{"meta":` + o.body + `,"body":"b"}`, message: strings.Split(o.message, " at byte")[0]})
		}
	}
	inline := `[{"id":"t1","type":"tab"},{"id":"b1","type":"mqtt-broker","z":"t1","credentials":{"password":"hunter2"}}]`
	const credsMsg = `node b1 has a credentials property: credentials go through /deploy's "credentials" or PUT /credentials, encrypted`
	return append(cases,
		hostileCase{name: "EmptySettings", method: "PUT", rest: "/settings", body: ""},
		hostileCase{name: "FlowsInlineCredentials", method: "PUT", rest: "/flows", body: inline, message: credsMsg},
		hostileCase{name: "DeployInlineCredentials", method: "POST", rest: "/deploy", body: `{"flows":` + inline + `}`, message: credsMsg},
		hostileCase{name: "FlowsInvalidUTF8", method: "PUT", rest: "/flows",
			body: "[{\"id\":\"t1\",\"type\":\"tab\"},{\"id\":\"n7\",\"name\":\"caf\xe9\"}]", message: `node "n7" (element 1) has invalid UTF-8`},
		hostileCase{name: "FlowsLoneSurrogate", method: "PUT", rest: "/flows",
			body: `[{"id":"n8","type":"function","func":"return '\ud83d';"}]`, message: `node "n8" (element 0) has lone surrogate escape \ud83d`},
		hostileCase{name: "DeployFlowsLoneSurrogate", method: "POST", rest: "/deploy",
			body: `{"flows":[{"id":"n9","info":"\udc00"}]}`, message: `node "n9"`},
		hostileCase{name: "DeployUserInvalidUTF8", method: "POST", rest: "/deploy",
			body: "{\"flows\":[],\"user\":\"\xff\"}", message: "invalid UTF-8"},
		hostileCase{name: "DeployUserLoneSurrogate", method: "POST", rest: "/deploy",
			body: `{"flows":[],"user":"\ud800"}`, message: "lone surrogate"},
		hostileCase{name: "DeployUserControl", method: "POST", rest: "/deploy",
			body: `{"flows":[],"user":"a\u0000b"}`, message: "control character U+0000"},
		hostileCase{name: "DeployUserNotAString", method: "POST", rest: "/deploy", body: `{"flows":[],"user":{"a":1}}`},
		hostileCase{name: "DeployFlowsNull", method: "POST", rest: "/deploy", body: `{"flows":null}`},
		hostileCase{name: "LibraryBodyInvalidUTF8", method: "PUT", rest: "/library/flows?path=m", body: "{\"body\":\"\xff\"}", message: "invalid UTF-8"},
		hostileCase{name: "LibraryBodyLoneSurrogate", method: "PUT", rest: "/library/flows?path=m", body: `{"body":"\ud800"}`, message: "lone surrogate"},
		hostileCase{name: "LibraryEntryNull", method: "PUT", rest: "/library/flows?path=m", body: `null`, message: "not null"},
	)
}

// hostileNames are library types and paths that must be refused, on PUT
// and on GET.
func hostileNames() []hostileCase {
	entry := `{"meta":{},"body":"b"}`
	var cases []hostileCase
	for _, c := range []struct{ name, rest, message string }{
		{"PathNUL", "/library/flows?path=a%00b", "control character U+0000"},
		{"PathNULSegment", "/library/flows?path=dir/%00", "control character U+0000"},
		{"PathNewline", "/library/flows?path=a%0Ab", "control character U+000A"},
		{"PathDEL", "/library/flows?path=a%7F", "control character U+007F"},
		{"PathC1", "/library/flows?path=a%C2%85", "control character U+0085"},
		{"PathInvalidUTF8", "/library/flows?path=a%FF", "invalid UTF-8"},
		{"PathDotDot", "/library/flows?path=a/../b", "'..' segment"},
		{"PathDotDotOnly", "/library/flows?path=..", "'..' segment"},
		{"PathDot", "/library/flows?path=./a", "'..' segment"},
		{"PathEmptySegment", "/library/flows?path=a//b", "empty"},
		{"PathTooLong", "/library/flows?path=" + strings.Repeat("a/", 513) + "a", "longer than 1024 bytes"},
		{"PathSegmentTooLong", "/library/flows?path=" + strings.Repeat("s", 256), "longer than 255 bytes"},
		{"TypeDotDot", "/library/%2E%2E?path=a", "not a name"},
		{"TypeDot", "/library/%2E?path=a", "not a name"},
		{"TypeNUL", "/library/%00?path=a", "control character U+0000"},
		{"TypeControl", "/library/a%01?path=a", "control character U+0001"},
		{"TypeDEL", "/library/%7F?path=a", "control character U+007F"},
		{"TypeInvalidUTF8", "/library/%C3?path=a", "invalid UTF-8"},
		{"TypeTenKB", "/library/" + strings.Repeat("t", 10<<10) + "?path=a", "longer than 64 bytes"},
		{"TypeColon", "/library/a:b?path=a", "'/' or ':'"},
		{"TypeSlash", "/library/a%2Fb?path=a", "'/' or ':'"},
	} {
		cases = append(cases,
			hostileCase{name: "Put" + c.name, method: "PUT", rest: c.rest, body: entry, message: c.message},
			hostileCase{name: "Get" + c.name, method: "GET", rest: c.rest, message: c.message})
	}
	return cases
}

// hostileHeaders are headers that must be refused.
func hostileHeaders() []hostileCase {
	settings := `{"a":1}`
	flows := string(flowsDoc("h"))
	var cases []hostileCase
	for _, w := range []struct{ method, rest, body string }{
		{"PUT", "/settings", settings}, {"PUT", "/flows", flows}, {"PUT", "/credentials", settings},
		{"POST", "/deploy", `{"flows":` + flows + `}`}, {"PUT", "/library/flows?path=h", `{"body":"b"}`},
	} {
		name := strings.NewReplacer("/", "", "?", "", "=", "").Replace(w.rest)
		for _, h := range []struct {
			name string
			h    hdr
		}{
			{"IfMatch64KB", hdr{"If-Match": `"` + strings.Repeat("9", 64<<10) + `"`}},
			{"IfMatchNonNumeric", hdr{"If-Match": `"abc"`}},
			{"IfMatchNegative", hdr{"If-Match": `"-1"`}},
			{"IfMatchBeyondUint64", hdr{"If-Match": `"18446744073709551616"`}},
			{"IdempotencyKey10KB", hdr{"Idempotency-Key": strings.Repeat("k", 10<<10)}},
			{"IdempotencyKeyTab", hdr{"Idempotency-Key": "a\tb"}},
			{"IdempotencyKeySpace", hdr{"Idempotency-Key": "a b"}},
			{"IdempotencyKeyNonASCII", hdr{"Idempotency-Key": "clé-é"}},
			{"UserInvalidUTF8", hdr{"Flowhist-User": "bad\xffuser"}},
			{"UserTab", hdr{"Flowhist-User": "a\tb"}},
			{"CorrelationIDInvalidUTF8", hdr{"Flowhist-Correlation-Id": "c\xfe"}},
			{"CorrelationID10KB", hdr{"Flowhist-Correlation-Id": strings.Repeat("c", 10<<10)}},
		} {
			cases = append(cases, hostileCase{name: name + h.name, method: w.method, rest: w.rest, body: w.body, h: h.h})
		}
	}
	return cases
}

// hostileQueries are query and path values of the read endpoints that
// must be refused.
func hostileQueries() []hostileCase {
	var cases []hostileCase
	for _, c := range []struct {
		name, rest string
		status     int
	}{
		{"HistoryLimitNegative", "/history?limit=-1", 0},
		{"HistoryLimitZero", "/history?limit=0", 0},
		{"HistoryLimitHuge", "/history?limit=1000000000", 0},
		{"HistoryLimitFloat", "/history?limit=1e9", 0},
		{"HistoryLimitWord", "/history?limit=abc", 0},
		{"HistoryLimitBeyondInt64", "/history?limit=99999999999999999999", 0},
		{"HistoryCursorWord", "/history?cursor=abc", 0},
		{"HistoryCursorZero", "/history?cursor=0", 0},
		{"HistoryCursorNegative", "/history?cursor=-1", 0},
		{"HistoryCursorBeyondUint64", "/history?cursor=18446744073709551616", 0},
		{"HistoryCursorLong", "/history?cursor=" + strings.Repeat("1", 10<<10), 0},
		{"HistoryLimitLong", "/history?limit=" + strings.Repeat("1", 10<<10), 0},
		{"HistoryKindLong", "/history?kind=" + strings.Repeat("k", 10<<10), 0},
		{"HistoryUntilLong", "/history?until=" + strings.Repeat("1", 10<<10), 0},
		{"DiffLong", "/diff?from=1&to=" + strings.Repeat("1", 10<<10), 0},
		{"RevisionLong", "/revisions/" + strings.Repeat("1", 10<<10), 0},
		{"NodeHistoryLongID", "/nodes/" + strings.Repeat("n", 10<<10) + "/history", http.StatusNotFound},
		{"HistoryKind", "/history?kind=%00", 0},
		{"HistorySince", "/history?since=yesterday", 0},
		{"NodeHistoryLimit", "/nodes/n1/history?limit=-1", 0},
		{"NodeHistoryCursor", "/nodes/n1/history?cursor=x", 0},
		{"DiffWords", "/diff?from=abc&to=def", 0},
		{"DiffFromZero", "/diff?from=0&to=1", 0},
		{"DiffNegative", "/diff?from=-1&to=1", 0},
		{"DiffBeyondUint64", "/diff?from=1&to=18446744073709551616", 0},
		{"DiffMissing", "/diff", 0},
		{"DiffBeyondHead", "/diff?from=1&to=99", http.StatusNotFound},
		{"DiffReversed", "/diff?from=2&to=1", 0},
		{"DiffReversedBeyondHead", "/diff?from=99&to=1", 0},
		{"DiffReverseWord", "/diff?from=1&to=2&reverse=yes", 0},
		{"DiffMaxUint64", "/diff?from=1&to=18446744073709551615", http.StatusNotFound},
		{"RevisionZero", "/revisions/0", 0},
		{"RevisionNegative", "/revisions/-1", 0},
		{"RevisionBeyondUint64", "/revisions/18446744073709551616", 0},
		{"RevisionWord", "/revisions/abc", 0},
		{"RevisionBeyondHead", "/revisions/99", http.StatusNotFound},
		{"RevisionMaxUint64", "/revisions/18446744073709551615", http.StatusNotFound},
		{"RevisionFlowsZero", "/revisions/0/flows", 0},
		{"RevisionFlowsNegative", "/revisions/-1/flows", 0},
		{"RevisionFlowsBeyondUint64", "/revisions/18446744073709551616/flows", 0},
		{"RevisionFlowsBeyondHead", "/revisions/99/flows", http.StatusNotFound},
	} {
		cases = append(cases, hostileCase{name: c.name, method: "GET", rest: c.rest, status: c.status})
	}
	return cases
}

// TestHostileRequestsChangeNothing sends each hostile request to a
// namespace with flows, credentials, settings, sessions and a library
// entry, and checks that each is a 4xx JSON error that changes none of it.
func TestHostileRequestsChangeNothing(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	ns := randomNS(t)
	ts.ok(t, "POST", path(ns, "/deploy"), []byte(`{"flows":`+string(flowsDoc("base"))+`,"credentials":{"$":"c0"}}`), nil, nil)
	ts.ok(t, "PUT", path(ns, "/settings"), []byte(`{"s":1}`), nil, nil)
	ts.ok(t, "PUT", path(ns, "/sessions"), []byte(`{"tok":{"user":"u"}}`), nil, nil)
	ts.ok(t, "PUT", path(ns, "/library/flows?path=m"), []byte(`{"meta":{"k":1},"body":"b"}`), nil, nil)
	ts.ok(t, "PUT", path(ns, "/library/flows?path=h"), []byte(`{"body":"b"}`), nil, nil)
	before := ts.head(t, ns)
	docs := map[string][]byte{}
	for _, p := range []string{"/flows", "/credentials", "/settings", "/sessions", "/library/flows?path=m", "/library/flows?path=h"} {
		docs[p] = ts.ok(t, "GET", path(ns, p), nil, nil, nil).body
	}

	groups := []struct {
		name  string
		cases []hostileCase
	}{
		{"Body", hostileBodies()}, {"Name", hostileNames()}, {"Header", hostileHeaders()}, {"Query", hostileQueries()},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.cases {
				t.Run(c.name+"Refused", func(t *testing.T) {
					var body []byte
					if c.method != "GET" {
						body = []byte(c.body)
					}
					status := c.status
					if status == 0 {
						status = http.StatusBadRequest
					}
					e := ts.wantRefused(t, ts.do(t, c.method, path(ns, c.rest), body, c.h), ns, before, status)
					if c.message != "" && !strings.Contains(e.Message, c.message) {
						t.Fatalf("got message %q, want one containing %q", e.Message, c.message)
					}
				})
			}
		})
	}

	t.Run("DiffReverseIsABackwardsDiff", func(t *testing.T) {
		// What going back from 2 to 1 changes is asked for explicitly.
		ts.ok(t, "GET", path(ns, "/diff?from=1&to=2&reverse=1"), nil, nil, nil)
	})

	t.Run("NothingChanged", func(t *testing.T) {
		if got := ts.head(t, ns); got != before {
			t.Fatalf("got revision %d, want %d", got, before)
		}
		for p, want := range docs {
			if got := ts.ok(t, "GET", path(ns, p), nil, nil, nil).body; !bytes.Equal(got, want) {
				t.Fatalf("GET %s: got %s, want %s unchanged", p, got, want)
			}
		}
		var listing struct {
			Listing []map[string]any `json:"listing"`
		}
		ts.ok(t, "GET", path(ns, "/library/flows"), nil, nil, &listing)
		if len(listing.Listing) != 2 {
			t.Fatalf("got listing %+v, want the two entries saved before", listing.Listing)
		}
		ts.mustVerify(t, ns)
		if r := ts.do(t, "GET", "/healthz", nil, hdr{"Authorization": ""}); r.status != http.StatusOK {
			t.Fatalf("GET /healthz: got %d (%s), want 200", r.status, r.body)
		}
	})
}

// TestMalformedHTTPRefusedByTheHTTPLayer sends header bytes a Go client
// refuses to send: net/http answers a plain-text 400 before any handler
// runs (documented in the README), and nothing is appended.
func TestMalformedHTTPRefusedByTheHTTPLayer(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	ns := randomNS(t)
	ts.ok(t, "PUT", path(ns, "/settings"), []byte(`{"a":1}`), nil, nil)
	before := ts.head(t, ns)
	for _, c := range []struct{ name, header string }{
		{"IdempotencyKeyDEL", "Idempotency-Key: a\x7fb"},
		{"IdempotencyKeyNUL", "Idempotency-Key: a\x00b"},
		{"IdempotencyKeyControl", "Idempotency-Key: a\x01b"},
		{"IfMatchControl", "If-Match: \"1\x1b\""},
		{"HeaderNameSpace", "Idempotency Key: a"},
	} {
		t.Run(c.name+"Refused", func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", ts.Listener.Addr().String(), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			body := `{"a":2}`
			fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n%s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
				path(ns, "/settings"), adminSecret, c.header, len(body), body)
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("read the answer: %v", err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusBadRequest {
				t.Fatalf("got status %d, want 400", res.StatusCode)
			}
			if got := ts.head(t, ns); got != before {
				t.Fatalf("got revision %d, want %d: something was appended", got, before)
			}
		})
	}
	if got := ts.ok(t, "GET", path(ns, "/settings"), nil, nil, nil).body; string(got) != `{"a":1}` {
		t.Fatalf("got settings %s, want {\"a\":1} unchanged", got)
	}
}
