package httpapi_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
)

// rawDuplex is a duplex feed on a connection of the test's own: the
// request's head and body chunks written by hand, as node:http does.
type rawDuplex struct {
	conn net.Conn
	res  *http.Response
	body *bufio.Reader
}

func (ts *testServer) openRawDuplex(tb testing.TB, ns, worker string, after domain.Revision, wait string) *rawDuplex {
	tb.Helper()
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(time.Minute))
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: flowhist\r\nAuthorization: Bearer %s\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n", feedURL(ns, worker, after, wait), readSecret)
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, &http.Request{Method: "POST"})
	if err != nil {
		tb.Fatalf("reading the answer's head: %v", err)
	}
	return &rawDuplex{conn: conn, res: res, body: bufio.NewReader(res.Body)}
}

// chunk writes s as one chunk of the request's body.
func (d *rawDuplex) chunk(tb testing.TB, s string) {
	tb.Helper()
	if _, err := fmt.Fprintf(d.conn, "%x\r\n%s\r\n", len(s), s); err != nil {
		tb.Fatal(err)
	}
}

func (d *rawDuplex) line(tb testing.TB) string {
	tb.Helper()
	l, err := d.body.ReadString('\n')
	if err != nil {
		tb.Fatalf("reading a news line: %v", err)
	}
	return l
}

// TestFeedDuplexOffConnection: a duplex feed served off its connection
// speaks HTTP/1.1 as net/http does (a chunked ndjson answer, the
// connection closed after it), takes acknowledgements split across chunks
// in any way, ends the answer with its last chunk when the wait is over,
// and ends it too at a body line that is not an acknowledgement; the
// token's limits.feeds slot stays held after the handler returned.
func TestFeedDuplexOffConnection(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		ns := randomNS(t)
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("one"), nil, nil)
		d := ts.openRawDuplex(t, ns, "w1", 1, "3s")
		if d.res.StatusCode != http.StatusOK || d.res.Header.Get("Content-Type") != "application/x-ndjson" ||
			len(d.res.TransferEncoding) != 1 || d.res.TransferEncoding[0] != "chunked" || !d.res.Close {
			t.Fatalf("got %d %v, Transfer-Encoding %v, close %t; want 200 application/x-ndjson, chunked, closed after", d.res.StatusCode, d.res.Header, d.res.TransferEncoding, d.res.Close)
		}
		ts.waitForWaiters(t, 1)
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("two"), nil, nil)
		if l := d.line(t); !strings.HasPrefix(l, `{"revision":2,`) {
			t.Fatalf("got line %q, want the news of revision 2", l)
		}
		// One acknowledgement in three chunks, the second a blank line.
		d.chunk(t, `{"ack":`)
		d.chunk(t, "2}\n\n")
		waitAcknowledged(t, ts, ns, "w1", 2)
		// The wait ends: the answer's last chunk, then the connection's end.
		if rest, err := io.ReadAll(d.body); err != nil || len(rest) != 0 {
			t.Fatalf("after the wait: got %q, %v; want the answer's end", rest, err)
		}
	})
	t.Run("ErrNotAnAck", func(t *testing.T) {
		t.Parallel()
		ns := randomNS(t)
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("one"), nil, nil)
		d := ts.openRawDuplex(t, ns, "w1", 1, "30s")
		ts.waitForWaiters(t, 1)
		d.chunk(t, "<b>hello</b>\n")
		// The answer had started (the head is written at once): it ends.
		if _, err := io.ReadAll(d.body); err != nil {
			t.Fatalf("got %v, want the answer to end", err)
		}
	})
	t.Run("TLS", func(t *testing.T) {
		t.Parallel()
		tts := mustServerTLS(t, httpapi.Config{})
		ns, d := tts.duplexWithNews(t)
		d.ack(t, 2)
		waitAcknowledged(t, tts, ns, "w1", 2)
		tts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("three"), nil, nil)
		if n := nextLine(t, d.lines, d.end); n.Revision != 3 {
			t.Fatalf("got news %+v, want revision 3", n)
		}
	})
	t.Run("FeedsLimitHeld", func(t *testing.T) {
		t.Parallel()
		lts := mustServer(t, httpapi.Config{Tokens: []httpapi.Token{
			{Name: "edge", Secret: readSecret, Scopes: []httpapi.Scope{httpapi.ScopeRead}, Namespaces: []string{"*"}, Workers: []string{"*"}, Limits: httpapi.Limits{Feeds: 1}},
		}})
		ns := randomNS(t)
		d := lts.openRawDuplex(t, ns, "w1", 0, "30s")
		lts.waitForWaiters(t, 1)
		// The handler has returned; the feed holds the token's one slot.
		res := lts.do(t, "GET", feedURL(ns, "w2", 0, "0s"), nil, hdr{"Authorization": "Bearer " + readSecret})
		wantError(t, res, http.StatusTooManyRequests, domain.ETOOMANY)
		d.conn.Close()
		waitFor(t, "the slot given back", func() bool {
			return lts.do(t, "GET", feedURL(ns, "w2", 0, "0s"), nil, hdr{"Authorization": "Bearer " + readSecret}).status == http.StatusNoContent
		})
	})
}
