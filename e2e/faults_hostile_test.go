package e2e_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Hostile requests against the real binary, as a careless or malicious
// client sends them: each is refused with 4xx and the API's JSON error,
// changes nothing (revision, settings, sessions, library as before), and
// leaves the service healthy.

// hostileClient does not follow redirects: a redirect is an answer too.
var hostileClient = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// hostileCase is one request that must be refused.
type hostileCase struct {
	name         string
	method, path string // path below /v1/namespaces/{ns}, or absolute from "/v1/"
	header       http.Header
	body         []byte
	// rawHeader, when set, is sent as one header line exactly as written,
	// with a request built by hand: Go's client refuses control characters
	// in header values.
	rawHeader string
	// goPlain allows Go's own plain-text "400 Bad Request", which net/http
	// answers before any handler for a header value with a control
	// character (documented: the JSON shape cannot be had there).
	goPlain bool
}

const (
	twoTo64   = "18446744073709551616"
	validFlow = `[{"id":"t1","type":"tab","label":"hostile"}]`
)

func hostileCases() []hostileCase {
	invalidUTF8 := "\xff\xfe\xfd"
	deep := func(open, close string, n int) string { return strings.Repeat(open, n) + strings.Repeat(close, n) }
	kb := func(n int) string { return strings.Repeat("k", n<<10) }
	h := func(kv ...string) http.Header {
		hd := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			hd[kv[i]] = []string{kv[i+1]}
		}
		return hd
	}
	b := func(s string) []byte { return []byte(s) }
	var cs []hostileCase
	add := func(name, method, path string, body []byte, hdr http.Header) {
		cs = append(cs, hostileCase{name: name, method: method, path: path, body: body, header: hdr})
	}

	// Bodies that are not what each endpoint takes.
	for _, c := range []struct{ name, body string }{
		{"null", "null"}, {"a string", `"x"`}, {"an object", `{}`}, {"a number", `1`},
		{"invalid UTF-8", `[{"id":"t1","type":"tab","label":"` + invalidUTF8 + `"}]`},
		{"a lone surrogate", `[{"id":"t1","type":"tab","label":"\ud800"}]`},
		{"a node with inline credentials", `[{"id":"b1","type":"mqtt-broker","credentials":{"password":"hunter2"}}]`},
		{"a nested node with inline credentials", `[{"id":"t1","type":"tab"},{"id":"b1","type":"mqtt-broker","z":"t1","credentials":{"user":"u","password":"hunter2"}}]`},
		{"10 MB of whitespace", strings.Repeat(" \n\t", 10<<20/3)},
		{"100000 nested arrays", `[{"id":"t1","type":"tab","deep":` + deep("[", "]", 100000) + `}]`},
		{"100000 nested objects", `[{"id":"t1","type":"tab","deep":` + strings.Repeat(`{"a":`, 100000) + "1" + strings.Repeat("}", 100000) + `}]`},
		{"data after the array", `[] []`},
		{"a node that is not an object", `[1]`},
		{"a node without an id", `[{"type":"tab"}]`},
		{"two nodes with one id", `[{"id":"a","type":"tab"},{"id":"a","type":"tab"}]`},
		{"a byte order mark", "\xef\xbb\xbf" + validFlow},
		{"a raw control character in a string", "[{\"id\":\"t1\",\"type\":\"tab\",\"label\":\"a\x01b\"}]"},
	} {
		add("PUT flows with "+c.name, "PUT", "/flows", b(c.body), nil)
	}
	add("PUT flows with an empty body", "PUT", "/flows", b(""), nil)
	add("PUT flows with 33 MiB (over http.max_body)", "PUT", "/flows", b(`[{"id":"t1","type":"tab","label":"`+strings.Repeat("x", 33<<20)+`"}]`), nil)

	for _, c := range []struct{ name, body string }{
		{"null", "null"}, {"an array", "[]"}, {"a string", `"x"`},
		{"flows null", `{"flows":null}`}, {"flows a string", `{"flows":"x"}`},
		{"credentials an array", `{"flows":[],"credentials":[]}`},
		{"credentials a string", `{"flows":[],"credentials":"x"}`},
		{"flows with inline credentials", `{"flows":[{"id":"b1","type":"mqtt-broker","credentials":{"password":"hunter2"}}],"credentials":{}}`},
		{"invalid UTF-8 in the user", `{"flows":[],"user":"` + invalidUTF8 + `"}`},
		{"a lone surrogate in the credentials", `{"flows":[],"credentials":{"$":"\udc00"}}`},
	} {
		add("POST deploy with "+c.name, "POST", "/deploy", b(c.body), nil)
	}

	for _, agg := range []string{"credentials", "settings", "sessions"} {
		for _, c := range []struct{ name, body string }{
			{"null", "null"}, {"an array", "[]"}, {"a string", `"x"`}, {"a number", "1"},
			{"invalid UTF-8", `{"a":"` + invalidUTF8 + `"}`},
			{"invalid UTF-8 in a key", `{"` + invalidUTF8 + `":1}`},
			{"a lone surrogate", `{"a":"\ud800"}`},
			{"data after the object", `{"a":1} x`},
			{"two objects", `{}{}`},
			{"100000 nested arrays", `{"a":` + deep("[", "]", 100000) + `}`},
			{"10 MB of whitespace", strings.Repeat(" ", 10<<20)},
		} {
			add("PUT "+agg+" with "+c.name, "PUT", "/"+agg, b(c.body), nil)
		}
	}

	entry := b(`{"meta":{},"body":"x"}`)
	for _, c := range []struct{ name, path string }{
		{"a NUL in the path", "/library/flows?path=a%00b"},
		{"a control character in the path", "/library/flows?path=a%01b"},
		{"a .. segment", "/library/flows?path=../x"},
		{"a .. segment inside", "/library/flows?path=a/../b"},
		{"a . segment", "/library/flows?path=a/./b"},
		{"an empty segment", "/library/flows?path=a//b"},
		{"no path", "/library/flows"},
		{"a 2000-character path", "/library/flows?path=" + strings.Repeat("p", 2000)},
		{"a NUL type", "/library/a%00b?path=x"},
		{"a control character in the type", "/library/a%0Ab?path=x"},
		{"a .. type", "/library/%2E%2E?path=x"},
		{"a 10 KB type", "/library/" + kb(10) + "?path=x"},
	} {
		add("PUT library with "+c.name, "PUT", c.path, entry, nil)
	}
	for _, c := range []struct{ name, body string }{
		{"null", "null"}, {"an array", "[]"}, {"no body field", `{"meta":{}}`},
		{"a number body", `{"body":1}`}, {"meta an array", `{"meta":[],"body":"x"}`},
		{"invalid UTF-8 in the body", `{"meta":{},"body":"` + invalidUTF8 + `"}`},
	} {
		add("PUT library entry "+c.name, "PUT", "/library/flows?path=dir/x", b(c.body), nil)
	}

	// Headers.
	flows := b(validFlow)
	for _, c := range []struct{ name, key, value string }{
		{"a 64 KB If-Match", "If-Match", `"` + strings.Repeat("1", 64<<10) + `"`},
		{"a non-numeric If-Match", "If-Match", `"abc"`},
		{"If-Match -1", "If-Match", `"-1"`},
		{"If-Match 2^64", "If-Match", `"` + twoTo64 + `"`},
		{"a stale If-Match", "If-Match", `"1"`},
		{"a 10 KB Idempotency-Key", "Idempotency-Key", kb(10)},
		{"a 201-character Idempotency-Key", "Idempotency-Key", strings.Repeat("i", 201)},
		{"an Idempotency-Key with a tab", "Idempotency-Key", "a\tb"},
		{"an Idempotency-Key with a space", "Idempotency-Key", "a b"},
		{"a non-ASCII Idempotency-Key", "Idempotency-Key", "ключ-é"},
		{"an Idempotency-Key already used for another body", "Idempotency-Key", "hostile-seed-key"},
		{"no token", "Authorization", ""},
		{"a 64 KB token", "Authorization", "Bearer " + kb(64)},
		{"a wrong token", "Authorization", "Bearer " + randomHex(24)},
		{"a Basic authorization", "Authorization", "Basic YWxpY2U6cGFzc3dvcmQ="},
	} {
		add("PUT flows with "+c.name, "PUT", "/flows", flows, h(c.key, c.value))
	}
	for _, c := range []struct{ name, line string }{
		{"an Idempotency-Key with a control character", "Idempotency-Key: a\x01b"},
		{"an Idempotency-Key with DEL", "Idempotency-Key: a\x7fb"},
		{"an Idempotency-Key with NUL", "Idempotency-Key: a\x00b"},
		{"an If-Match with a control character", "If-Match: \"1\x02\""},
	} {
		cs = append(cs, hostileCase{name: "PUT flows with " + c.name, method: "PUT", path: "/flows", body: flows, rawHeader: c.line, goPlain: true})
	}

	// Query values and path parameters.
	for _, q := range []string{
		"limit=-1", "limit=1e9", "limit=abc", "limit=0", "limit=501", "limit=" + twoTo64,
		"cursor=abc", "cursor=0", "cursor=-1", "cursor=" + twoTo64, "cursor=1e3",
		"since=yesterday", "until=2026-13-45T00:00:00Z", "since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z", "kind=nonsense",
	} {
		add("GET history with "+q, "GET", "/history?"+q, nil, nil)
	}
	for _, q := range []string{
		"from=2&to=1", "from=1&to=999999", "from=999998&to=999999", "from=0&to=1", "from=-1&to=1", "from=abc&to=1",
		"from=1&to=" + twoTo64, "from=1", "to=2", "",
	} {
		add("GET diff with "+q, "GET", "/diff?"+q, nil, nil)
	}
	for _, rev := range []string{"0", "-1", twoTo64, "abc", "999999", "1.5", "%20"} {
		add("GET revisions/"+rev, "GET", "/revisions/"+rev, nil, nil)
		add("GET revisions/"+rev+"/flows", "GET", "/revisions/"+rev+"/flows", nil, nil)
	}
	for _, q := range []string{"limit=-1", "limit=abc", "cursor=abc", "cursor=0"} {
		add("GET nodes/n1/history with "+q, "GET", "/nodes/n1/history?"+q, nil, nil)
	}
	for _, q := range []string{
		"", "worker=a%20b", "worker=" + strings.Repeat("w", 65), "worker=a%00b", "worker=w&wait=-1s", "worker=w&wait=abc",
		"worker=w&stream=2", "worker=w&after=-1", "worker=w&after=" + twoTo64, "worker=w&ack=abc", "worker=w&ack=-1",
	} {
		add("GET feed with "+q, "GET", "/feed?"+q, nil, nil)
	}
	for _, c := range []struct{ name, body string }{
		{"null", "null"}, {"an array", "[]"}, {"no worker", `{"revision":1}`},
		{"a bad worker", `{"worker":"a b","revision":1}`}, {"revision -1", `{"worker":"w","revision":-1}`},
		{"revision a string", `{"worker":"w","revision":"x"}`}, {"revision 2^64", `{"worker":"w","revision":` + twoTo64 + `}`},
	} {
		add("POST feed/ack with "+c.name, "POST", "/feed/ack", b(c.body), nil)
	}
	for _, c := range []struct{ name, body string }{
		{"null", "null"}, {"an array", "[]"}, {"to 0", `{"to":0,"reason":"x"}`}, {"to -1", `{"to":-1,"reason":"x"}`},
		{"to 2^64", `{"to":` + twoTo64 + `,"reason":"x"}`}, {"no reason", `{"to":1}`}, {"a blank reason", `{"to":1,"reason":"   "}`},
		{"to beyond the head", `{"to":999999,"reason":"x"}`}, {"to a string", `{"to":"1","reason":"x"}`},
		{"invalid UTF-8 in the reason", `{"to":1,"reason":"` + invalidUTF8 + `"}`},
	} {
		add("POST rollback with "+c.name, "POST", "/rollback", b(c.body), nil)
	}

	// Namespaces, methods, endpoints.
	add("PUT flows on a namespace with a space", "PUT", "/v1/namespaces/bad%20ns/flows", flows, nil)
	add("PUT flows on a 65-character namespace", "PUT", "/v1/namespaces/"+strings.Repeat("n", 65)+"/flows", flows, nil)
	add("PUT flows on a namespace with a NUL", "PUT", "/v1/namespaces/a%00b/flows", flows, nil)
	add("PUT flows on a namespace with braces", "PUT", "/v1/namespaces/a%7Bb%7D/flows", flows, nil)
	add("PUT flows on the namespace ..", "PUT", "/v1/namespaces/%2E%2E/flows", flows, nil)
	add("PUT flows on the namespace *", "PUT", "/v1/namespaces/*/flows", flows, nil)
	add("GET library with a .. path", "GET", "/library/flows?path=../../etc", nil, nil)
	add("GET revisions/2^63", "GET", "/revisions/9223372036854775808", nil, nil)
	add("POST rollback with a stale If-Match", "POST", "/rollback", b(`{"to":1,"reason":"stale"}`), h("If-Match", `"1"`))
	add("DELETE flows", "DELETE", "/flows", nil, nil)
	add("PATCH flows", "PATCH", "/flows", flows, nil)
	add("POST flows", "POST", "/flows", flows, nil)
	add("PUT an unknown endpoint", "PUT", "/nothing", flows, nil)
	return cs
}

// TestHostileRequestsAreRefused sends every hostile case to a seeded
// namespace: each answers 4xx with the JSON error and nothing changes.
func TestHostileRequestsAreRefused(t *testing.T) {
	t.Parallel()
	e := newFaultEnv(t, "")
	e.client = hostileClient
	ns := "hostile-" + randomHex(4)
	e.seedNamespace(t, ns, "w")
	e.mustCall(t, 200, "PUT", ns, "/settings", []byte(`{"theme":"seed"}`), nil)
	e.mustCall(t, 200, "PUT", ns, "/sessions", []byte(`{"sessions":[{"user":"seed"}]}`), nil)
	e.mustCall(t, 200, "PUT", ns, "/library/flows?path=dir/seed", []byte(`{"meta":{},"body":"seed"}`), nil)
	e.mustCall(t, 200, "PUT", ns, "/flows", []byte(`[{"id":"t1","type":"tab","label":"seed with a key"}]`), http.Header{"Idempotency-Key": {"hostile-seed-key"}})
	before := e.fingerprint(t, ns)
	logFrom := e.logSize()

	for _, c := range hostileCases() {
		t.Run(c.name+" is refused with 4xx JSON and changes nothing", func(t *testing.T) {
			a := c.send(e, ns)
			_, isJSON := a.jsonError()
			goPlain := c.goPlain && a.status == 400 && strings.HasPrefix(string(a.body), "400 Bad Request")
			switch {
			case a.err != nil:
				t.Errorf("got %s, want 4xx", a)
			case a.status < 400 || a.status > 499:
				t.Errorf("got %s, want 4xx", a)
			case !isJSON && !goPlain:
				t.Errorf(`got %s, want application/json {"code","message"}`, a)
			}
			if strings.Contains(string(a.body), "hunter2") {
				t.Errorf("the answer shows an inline credential: %s", a)
			}
			if after := e.fingerprint(t, ns); after != before {
				t.Errorf("the namespace changed: got %s, want %s", after, before)
				before = after
			}
		})
	}

	t.Run("no secret is in the log", func(t *testing.T) {
		log := e.logSince(t, logFrom)
		for _, secret := range []string{"hunter2", e.token} {
			if strings.Contains(log, secret) {
				t.Errorf("flowhist's log holds the secret %.8s…: %s", secret, tail(log, 2000))
			}
		}
	})
	t.Run("the service is healthy after", func(t *testing.T) {
		e.mustCall(t, 200, "GET", "", "/readyz", nil, nil)
		rev := e.revision(t, ns)
		e.mustCall(t, 200, "PUT", ns, "/flows", []byte(`[{"id":"t1","type":"tab","label":"after the hostile requests"}]`), nil)
		if got := e.revision(t, ns); got != rev+1 {
			t.Errorf("a valid deploy after the hostile requests: revision %d, want %d", got, rev+1)
		}
		e.verify(t, ns)
	})
}

// send sends the case with the admin token (unless it sets Authorization).
func (c hostileCase) send(e *faultEnv, ns string) answer {
	path := c.path
	if !strings.HasPrefix(path, "/v1/") {
		path = "/v1/namespaces/" + ns + path
	}
	if c.rawHeader != "" {
		req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\nConnection: close\r\n\r\n%s",
			c.method, path, strings.TrimPrefix(e.fh.URL, "http://"), e.token, len(c.body), c.rawHeader, c.body)
		return rawRequest(strings.TrimPrefix(e.fh.URL, "http://"), req)
	}
	hdr := c.header
	if v, ok := hdr["Authorization"]; ok && len(v) == 1 && v[0] == "" {
		// "no token": send none at all.
		hdr = hdr.Clone()
		hdr.Del("Authorization")
		return e.callNoAuth(c.method, path, c.body, hdr)
	}
	return e.call(c.method, "", path, c.body, hdr)
}

// callNoAuth sends a request without the Authorization header.
func (e *faultEnv) callNoAuth(method, path string, body []byte, hdr http.Header) answer {
	return send(e.client, method, e.fh.URL+path, body, hdr)
}

// fingerprint is what a refused request must not change: the namespace
// revision, settings, sessions and library listing.
func (e *faultEnv) fingerprint(tb testing.TB, ns string) string {
	tb.Helper()
	rev := e.revision(tb, ns)
	parts := []string{fmt.Sprint("revision ", rev)}
	for _, p := range []string{"/settings", "/sessions", "/credentials", "/library/flows?path=dir"} {
		a := e.mustCall(tb, 200, "GET", ns, p, nil, nil)
		parts = append(parts, p+" "+sha256Hex(a.body)[:12])
	}
	return strings.Join(parts, ", ")
}

// TestHostileBodiesReadBack sends bodies that are valid but formatted as no
// Node-RED sends them: each is either refused with 400 or stored, read back
// equal, and verifiable (issue 8, defects 4 and 9).
func TestHostileBodiesReadBack(t *testing.T) {
	t.Parallel()
	e := newFaultEnv(t, "")
	t.Run("settings with _credentialSecret never show it", func(t *testing.T) {
		ns := "secret-" + randomHex(4)
		secret := "topsecret-" + randomHex(8)
		logFrom := e.logSize()
		a := e.mustCall(t, 200, "PUT", ns, "/settings", []byte(`{"_credentialSecret":"`+secret+`","a":1}`), nil)
		var res struct {
			Revision uint64 `json:"revision"`
		}
		json.Unmarshal(a.body, &res)
		for _, p := range []string{"/settings", fmt.Sprintf("/revisions/%d", res.Revision), "/history", "/diff?from=1&to=1"} {
			if g := e.call("GET", ns, p, nil, nil); strings.Contains(string(g.body), secret) {
				t.Errorf("GET %s shows _credentialSecret: %s", p, g)
			}
		}
		if strings.Contains(e.logSince(t, logFrom), secret) {
			t.Errorf("flowhist's log holds _credentialSecret")
		}
		e.verify(t, ns)
	})
	for _, c := range []struct {
		name, path, body, get string
	}{
		{"settings with whitespace", "/settings", `{ "a" : 1 ,  "b" : [ 1 , 2 ] }`, "/settings"},
		{"settings with a number beyond float64", "/settings", `{"n":1e400}`, "/settings"},
		{"settings with escaped unicode", "/settings", `{"a":"\u00e9\u0000"}`, "/settings"},
		{"credentials with whitespace", "/credentials", `{ "$" : "0a1b" }`, "/credentials"},
		{"sessions with whitespace", "/sessions", "{\n  \"sessions\": [ ]\n}", "/sessions"},
		{"a library entry with whitespace", "/library/functions?path=d/ws", `{ "meta" : { "outputs" : 1 } , "body" : "return msg;" }`, "/library/functions?path=d/ws"},
		{"flows with numbers beyond float64 and escapes", "/flows", `[{"id":"t1","type":"tab","n":1e400,"m":-0.0,"big":123456789012345678901234567890,"s":"\u00e9\/\ud83d\ude00"}]`, "/flows"},
		{"flows with CRLF, tabs and a trailing newline", "/flows", "[\r\n\t{ \"id\" : \"t1\" ,\r\n\t  \"type\" : \"tab\" }\r\n]\r\n", "/flows"},
	} {
		t.Run(c.name+" is refused or reads back equal and verifies", func(t *testing.T) {
			ns := "readback-" + randomHex(4) // one each: a body that breaks a namespace breaks only its own
			a := e.call("PUT", ns, c.path, []byte(c.body), nil)
			if a.status == 400 {
				if _, ok := a.jsonError(); !ok {
					t.Fatalf("refused without the JSON error: %s", a)
				}
				return
			}
			if a.status != 200 {
				t.Fatalf("PUT %s: got %s, want 200 or 400", c.path, a)
			}
			var res struct {
				Revision uint64 `json:"revision"`
			}
			json.Unmarshal(a.body, &res)
			g := e.call("GET", ns, c.get, nil, nil)
			if g.status != 200 {
				t.Fatalf("GET %s after an accepted PUT: got %s, want 200", c.get, g)
			}
			if c.path == c.get && !jsonEqual(g.body, []byte(c.body)) {
				t.Errorf("GET %s: got %s, want JSON equal to %s", c.get, g.body, c.body)
			}
			// Flows read back byte for byte, compacted.
			if want := compactJSON(t, []byte(c.body)); c.get == "/flows" && string(g.body) != string(want) {
				t.Errorf("GET flows: got %s, want %s", g.body, want)
			}
			if res.Revision > 0 {
				r := e.call("GET", ns, fmt.Sprintf("/revisions/%d", res.Revision), nil, nil)
				if r.status != 200 {
					t.Fatalf("GET revisions/%d: got %s, want 200", res.Revision, r)
				}
				if c.path == "/settings" && strings.Contains(string(r.body), `"settings":null`) {
					t.Errorf("GET revisions/%d shows the settings as null: %s", res.Revision, r.body)
				}
				e.verify(t, ns)
			}
		})
	}
}

// jsonEqual compares two JSON documents by value, keeping numbers exact.
func jsonEqual(a, b []byte) bool {
	var x, y any
	da := json.NewDecoder(strings.NewReader(string(a)))
	da.UseNumber()
	db := json.NewDecoder(strings.NewReader(string(b)))
	db.UseNumber()
	if da.Decode(&x) != nil || db.Decode(&y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}

// TestHostileSlowClientsAreCutOff: clients that send slowly, stop reading
// or hold connections open are cut off by the server's HTTP timeouts (read
// header 10 s, http.read_timeout, http.request_timeout + write_timeout,
// http.idle_timeout), and what they sent changes nothing.
func TestHostileSlowClientsAreCutOff(t *testing.T) {
	t.Parallel()
	e := newFaultEnv(t, "http:\n  read_timeout: 2s\n  idle_timeout: 1s\n  request_timeout: 1s\n  write_timeout: 1s\n")
	ns := "slow-" + randomHex(4)
	e.seedNamespace(t, ns, "w")
	rev := e.revision(t, ns)
	addr := strings.TrimPrefix(e.fh.URL, "http://")
	// closedWithin sends start on a new connection, then nothing, and
	// returns how long until the server closes it (what it answered, if
	// anything, is read and dropped).
	closedWithin := func(t *testing.T, start string, bound time.Duration) time.Duration {
		t.Helper()
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		t0 := time.Now()
		if _, err := io.WriteString(conn, start); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(t0.Add(bound))
		_, err = io.Copy(io.Discard, conn) // returns at EOF: the server closed
		took := time.Since(t0)
		if err != nil {
			t.Fatalf("the server kept the connection open for %s (%v), want it closed within %s", took.Round(time.Millisecond), err, bound)
		}
		return took
	}
	// The three at once: they wait out timeouts, not each other.
	t.Run("slow clients", func(t *testing.T) {
		t.Run("slow headers are cut off after the read header timeout", func(t *testing.T) {
			t.Parallel()
			took := closedWithin(t, "PUT /v1/namespaces/"+ns+"/flows HTTP/1.1\r\nHost: x\r\n", 15*time.Second)
			t.Logf("closed after %s", took.Round(time.Millisecond))
		})
		t.Run("a slow body is cut off after read_timeout and lands nothing", func(t *testing.T) {
			body := validFlow
			took := closedWithin(t, fmt.Sprintf("PUT /v1/namespaces/%s/flows HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s",
				ns, e.token, len(body), body[:10]), 6*time.Second)
			t.Logf("closed after %s", took.Round(time.Millisecond))
			if got := e.revision(t, ns); got != rev {
				t.Errorf("after the slow body the namespace is at revision %d, want %d", got, rev)
			}
		})
		t.Run("a client that stops reading is cut off after request_timeout + write_timeout", func(t *testing.T) {
			t.Parallel()
			big := "big-" + randomHex(4)
			// More than the socket buffers hold, so that writing it blocks.
			doc := `[{"id":"t1","type":"tab","label":"` + strings.Repeat("x", 24<<20) + `"}]`
			e.mustCall(t, 200, "PUT", big, "/flows", []byte(doc), nil)
			route := `flowhist_http_request_duration_seconds_count{route="GET /v1/namespaces/{ns}/flows",status="200"}`
			answered := func() string {
				for line := range strings.Lines(string(e.mustCall(t, 200, "GET", "", "/metrics", nil, nil).body)) {
					if v, ok := strings.CutPrefix(strings.TrimSpace(line), route+" "); ok {
						return v
					}
				}
				return "0"
			}
			before := answered()
			conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "GET /v1/namespaces/%s/flows HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", big, e.token)
			// The handler ends (and is counted) once its write gives up.
			took := waitFor(t, 10*time.Second, "the GET flows nobody reads ending", func() (bool, string) {
				now := answered()
				return now != before, "GET flows answered " + now + " times, as before"
			})
			t.Logf("the handler writing to a client that does not read ended after %s", took.Round(time.Millisecond))
		})
		t.Run("an idle keep-alive connection is closed after idle_timeout", func(t *testing.T) {
			t.Parallel()
			conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("GET /healthz: %v %v", resp, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			t0 := time.Now()
			conn.SetReadDeadline(t0.Add(5 * time.Second))
			if _, err := io.Copy(io.Discard, br); err != nil {
				t.Fatalf("the idle connection was still open after %s (%v), want it closed after idle_timeout 1s", time.Since(t0).Round(time.Millisecond), err)
			}
			t.Logf("closed after %s idle", time.Since(t0).Round(time.Millisecond))
		})
	})
	t.Run("the service is healthy after", func(t *testing.T) {
		e.mustCall(t, 200, "GET", "", "/readyz", nil, nil)
		e.mustCall(t, 200, "PUT", ns, "/flows", []byte(validFlow), nil)
	})
}
