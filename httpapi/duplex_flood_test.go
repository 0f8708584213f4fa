package httpapi_test

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/flowhist/flowhist/httpapi"
)

// TestFeedDuplexBodyFlood: a duplex feed's body is read for
// acknowledgements only. A client that floods it (blank lines by the
// thousand, or bytes after its last chunk) has its answer ended rather
// than keeping a core busy reading and dropping them until the wait ends.
func TestFeedDuplexBodyFlood(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	t.Run("BlankLines", func(t *testing.T) {
		ns := randomNS(t)
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("one"), nil, nil)
		d := ts.openDuplex(t, ns, "w1", 1)
		ts.waitForWaiters(t, 1)
		for range 1100 {
			if _, err := io.WriteString(d.body, "\n"); err != nil {
				break // the answer ended and its body with it
			}
		}
		d.ended(t)
	})
	t.Run("AfterTheLastChunk", func(t *testing.T) {
		ns := randomNS(t)
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("one"), nil, nil)
		conn, err := net.Dial("tcp", ts.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(time.Minute))
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
			feedURL(ns, "w1", 1, "30s"), readSecret)
		start := time.Now()
		junk := strings.Repeat("x", 512)
		for range 8 {
			if _, err := io.WriteString(conn, junk); err != nil {
				break
			}
		}
		b, _ := io.ReadAll(conn) // until flowhist closes the connection
		if took := time.Since(start); took > 10*time.Second {
			t.Fatalf("the connection was closed %s after 4 KiB past the body's end (answer %q), want at once", took, b)
		}
	})
}
