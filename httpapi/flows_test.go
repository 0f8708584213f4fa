package httpapi_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
)

func TestFlows(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	doc := realisticDoc(200)
	for _, s := range []string{"<", "&", "ü", "✓", `\"`, `\u003c`, `\/`, `\ud83d\ude00`} {
		if !contains(doc, s) {
			t.Fatalf("the test document has no %s: it no longer tests byte-exact storage", s)
		}
	}

	t.Run("EmptyNamespace", func(t *testing.T) {
		t.Parallel()
		res := ts.ok(t, "GET", path(randomNS(t), "/flows"), nil, nil, nil)
		if string(res.body) != "[]" {
			t.Fatalf("got %s, want []", res.body)
		}
		if got := res.header.Get("ETag"); got != `"0"` {
			t.Fatalf("got ETag %s, want \"0\"", got)
		}
	})

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		ns := randomNS(t)
		var put appendResult
		res := ts.ok(t, "PUT", path(ns, "/flows"), doc, nil, &put)
		if put.Revision != 1 || put.FlowsRevision != 1 {
			t.Fatalf("got revision %d, flows revision %d, want 1 and 1", put.Revision, put.FlowsRevision)
		}
		sum := sha256.Sum256(doc)
		if want := hex.EncodeToString(sum[:]); put.SHA256 != want {
			t.Fatalf("got sha256 %s, want %s", put.SHA256, want)
		}
		if got, want := len(put.Summary.Added), 201; got != want {
			t.Fatalf("got %d added nodes in the summary, want %d", got, want)
		}
		if got := res.header.Get("ETag"); got != `"1"` {
			t.Fatalf("got ETag %s, want \"1\"", got)
		}

		get := ts.ok(t, "GET", path(ns, "/flows"), nil, nil, nil)
		if !bytes.Equal(get.body, doc) {
			t.Fatalf("got %d bytes differing from the %d put (first difference at byte %d)", len(get.body), len(doc), firstDiff(get.body, doc))
		}
		if got := get.header.Get("ETag"); got != `"1"` {
			t.Fatalf("got ETag %s, want \"1\"", got)
		}
		if got := get.header.Get("Content-Type"); got != "application/json" {
			t.Fatalf("got Content-Type %s, want application/json", got)
		}
	})

	t.Run("PrettyStoredCompact", func(t *testing.T) {
		t.Parallel()
		ns := randomNS(t)
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, doc, "", "    "); err != nil {
			t.Fatal(err)
		}
		var put appendResult
		ts.ok(t, "PUT", path(ns, "/flows"), pretty.Bytes(), nil, &put)
		get := ts.ok(t, "GET", path(ns, "/flows"), nil, nil, nil)
		if !bytes.Equal(get.body, doc) {
			t.Fatalf("got %d bytes differing from the compact %d (first difference at byte %d)", len(get.body), len(doc), firstDiff(get.body, doc))
		}
		sum := sha256.Sum256(doc)
		if want := hex.EncodeToString(sum[:]); put.SHA256 != want {
			t.Fatalf("got sha256 %s, want that of the compact document %s", put.SHA256, want)
		}
	})

	t.Run("ErrConflict", func(t *testing.T) {
		t.Parallel()
		ns := randomNS(t)
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("one"), nil, nil)
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("two"), nil, nil)
		res := ts.do(t, "PUT", path(ns, "/flows"), flowsDoc("stale"), hdr{"If-Match": `"1"`})
		e := wantError(t, res, http.StatusConflict, domain.ECONFLICT)
		if e.CurrentRevision == nil || *e.CurrentRevision != 2 {
			t.Fatalf("got currentRevision %v, want 2", e.CurrentRevision)
		}
		if got := res.header.Get("ETag"); got != `"2"` {
			t.Fatalf("got ETag %s, want \"2\"", got)
		}
		if got := ts.head(t, ns); got != 2 {
			t.Fatalf("got head %d, want 2: nothing appended", got)
		}
	})

	t.Run("IfMatchCurrent", func(t *testing.T) {
		t.Parallel()
		ns := randomNS(t)
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("one"), nil, nil)
		for i, h := range []string{`"1"`, `W/"2"`, `3`} {
			var put appendResult
			ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc(fmt.Sprint("v", i)), hdr{"If-Match": h}, &put)
			if want := put.Revision; put.FlowsRevision != want {
				t.Fatalf("If-Match %s: got flows revision %d, want %d", h, put.FlowsRevision, want)
			}
		}
		if got := ts.head(t, ns); got != 4 {
			t.Fatalf("got head %d, want 4", got)
		}
	})

	t.Run("Duplicate", func(t *testing.T) {
		t.Parallel()
		ns := randomNS(t)
		h := hdr{"Idempotency-Key": "deploy-7d1c"}
		var first, again appendResult
		ts.ok(t, "PUT", path(ns, "/flows"), doc, h, &first)
		ts.ok(t, "PUT", path(ns, "/flows"), doc, h, &again)
		if first.Duplicate {
			t.Fatalf("got duplicate on the first request, want false")
		}
		if !again.Duplicate || again.Revision != first.Revision || again.FlowsRevision != first.FlowsRevision {
			t.Fatalf("got %+v on the retry, want duplicate at revision %d", again, first.Revision)
		}
		if got := ts.head(t, ns); got != 1 {
			t.Fatalf("got head %d, want 1: nothing appended", got)
		}
	})

	t.Run("ErrInvalidIdempotencyKeyReused", func(t *testing.T) {
		t.Parallel()
		ns := randomNS(t)
		h := hdr{"Idempotency-Key": "deploy-reused"}
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("one"), h, nil)
		res := ts.do(t, "PUT", path(ns, "/flows"), flowsDoc("two"), h)
		e := wantError(t, res, http.StatusBadRequest, domain.EINVALID)
		if !strings.Contains(e.Message, "idempotency key") {
			t.Fatalf("got message %q, want it to name the idempotency key", e.Message)
		}
		if got := ts.head(t, ns); got != 1 {
			t.Fatalf("got head %d, want 1: nothing appended", got)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		t.Parallel()
		for _, tt := range []struct {
			name, body, message string
		}{
			{"NotAnArray", `{"id":"a","type":"tab"}`, "not a JSON array"},
			{"ElementNotAnObject", `[{"id":"a","type":"tab"},"b"]`, "element 1 is not an object"},
			{"MissingID", `[{"id":"a","type":"tab"},{"type":"inject"}]`, `element 1 has no "id"`},
			{"EmptyID", `[{"id":"","type":"tab"}]`, `element 0 "id" is not a non-empty string`},
			{"DuplicateID", `[{"id":"a","type":"tab"},{"id":"b"},{"id":"a"}]`, `duplicate id "a"`},
			{"InvalidJSON", `[{"id":"a","type":"tab"},{"id":"b"`, "invalid JSON"},
			{"DataAfterArray", `[{"id":"a"}] x`, "data after the array"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				ns := randomNS(t)
				res := ts.do(t, "PUT", path(ns, "/flows"), []byte(tt.body), nil)
				e := wantError(t, res, http.StatusBadRequest, domain.EINVALID)
				if !strings.Contains(e.Message, tt.message) {
					t.Fatalf("got message %q, want it to contain %q", e.Message, tt.message)
				}
				if got := ts.head(t, ns); got != 0 {
					t.Fatalf("got head %d, want 0: nothing appended", got)
				}
			})
		}
	})

	t.Run("ErrInvalidEmptyBody", func(t *testing.T) {
		t.Parallel()
		ns := randomNS(t)
		wantError(t, ts.do(t, "PUT", path(ns, "/flows"), nil, nil), http.StatusBadRequest, domain.EINVALID)
		if got := ts.head(t, ns); got != 0 {
			t.Fatalf("got head %d, want 0: nothing appended", got)
		}
	})

	t.Run("ErrInvalidIfMatch", func(t *testing.T) {
		t.Parallel()
		ns := randomNS(t)
		for _, h := range []string{`"abc"`, `"-1"`, `"1.5"`} {
			res := ts.do(t, "PUT", path(ns, "/flows"), flowsDoc("x"), hdr{"If-Match": h})
			e := wantError(t, res, http.StatusBadRequest, domain.EINVALID)
			if !strings.Contains(e.Message, "If-Match") {
				t.Fatalf("If-Match %s: got message %q, want it to name If-Match", h, e.Message)
			}
		}
		if got := ts.head(t, ns); got != 0 {
			t.Fatalf("got head %d, want 0: nothing appended", got)
		}
	})
}

func TestFlowsTooLarge(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{MaxBody: 4096})
	ns := randomNS(t)

	t.Run("OK", func(t *testing.T) {
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("small"), nil, nil)
	})
	t.Run("ErrTooLarge", func(t *testing.T) {
		doc := realisticDoc(20)
		if len(doc) <= 4096 {
			t.Fatalf("the test document has %d bytes, want over 4096", len(doc))
		}
		res := ts.do(t, "PUT", path(ns, "/flows"), doc, nil)
		e := wantError(t, res, http.StatusRequestEntityTooLarge, domain.ETOOLARGE)
		if !strings.Contains(e.Message, "4096") {
			t.Fatalf("got message %q, want it to name the limit", e.Message)
		}
		if got := ts.head(t, ns); got != 1 {
			t.Fatalf("got head %d, want 1: nothing appended", got)
		}
	})
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
