package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
)

func TestLibrary(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	ns := randomNS(t)
	lib := func(p string) string { return path(ns, "/library/functions?path="+url.QueryEscape(p)) }
	entries := []struct{ path, meta, body string }{
		{"team/b.js", `{"name":"b","outputs":1}`, "return msg;"},
		{"team/a.js", `{"name":"a","outputs":2,"info":"<a> & \"b\""}`, "// ünïcode ✓\nreturn [msg, null];"},
		{"other/c.js", `{"name":"c"}`, "return null;"},
		{"top.js", `{"name":"top"}`, "return msg;"},
	}
	for i, e := range entries {
		var res appendResult
		ts.ok(t, "PUT", lib(e.path), []byte(`{"meta":`+e.meta+`,"body":`+jsonString(e.body)+`}`), nil, &res)
		if res.Revision != domain.Revision(i+1) || res.AggregateRevision != 1 {
			t.Fatalf("PUT %s: got revision %d, aggregate revision %d, want %d and 1", e.path, res.Revision, res.AggregateRevision, i+1)
		}
	}

	t.Run("Entry", func(t *testing.T) {
		var got map[string]any
		ts.ok(t, "GET", lib("team/a.js"), nil, nil, &got)
		want := map[string]any{
			"body": "// ünïcode ✓\nreturn [msg, null];",
			"meta": map[string]any{"name": "a", "outputs": 2, "info": `<a> & "b"`},
		}
		if !jsonEqual(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})

	t.Run("Directory", func(t *testing.T) {
		var got map[string]any
		ts.ok(t, "GET", lib("team"), nil, nil, &got)
		want := map[string]any{"listing": []any{
			map[string]any{"fn": "a.js", "name": "a", "outputs": 2, "info": `<a> & "b"`},
			map[string]any{"fn": "b.js", "name": "b", "outputs": 1},
		}}
		if !jsonEqual(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})

	t.Run("Root", func(t *testing.T) {
		for _, p := range []string{path(ns, "/library/functions"), lib(""), lib("/")} {
			var got map[string]any
			ts.ok(t, "GET", p, nil, nil, &got)
			want := map[string]any{"listing": []any{"other", "team", map[string]any{"fn": "top.js", "name": "top"}}}
			if !jsonEqual(got, want) {
				t.Fatalf("GET %s: got %v, want %v (directories first, then files, each sorted)", p, got, want)
			}
		}
	})

	t.Run("OtherType", func(t *testing.T) {
		var got map[string]any
		ts.ok(t, "GET", path(ns, "/library/flows"), nil, nil, &got)
		if want := map[string]any{"listing": []any{}}; !jsonEqual(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		for _, p := range []string{"team/z.js", "nowhere", "top.js/deeper"} {
			wantError(t, ts.do(t, "GET", lib(p), nil, nil), http.StatusNotFound, domain.ENOTFOUND)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		before := ts.head(t, ns)
		for _, p := range []string{"../x.js", "team/../../x.js", "team/./a.js", "team//a.js", ".."} {
			wantError(t, ts.do(t, "PUT", lib(p), []byte(`{"meta":{},"body":"x"}`), nil), http.StatusBadRequest, domain.EINVALID)
			wantError(t, ts.do(t, "GET", lib(p), nil, nil), http.StatusBadRequest, domain.EINVALID)
		}
		for _, body := range []string{`{"meta":{}}`, `{"meta":[],"body":"x"}`, `{"body":1}`, `[]`} {
			wantError(t, ts.do(t, "PUT", lib("team/new.js"), []byte(body), nil), http.StatusBadRequest, domain.EINVALID)
		}
		wantError(t, ts.do(t, "PUT", lib(""), []byte(`{"body":"x"}`), nil), http.StatusBadRequest, domain.EINVALID)
		if got := ts.head(t, ns); got != before {
			t.Fatalf("got head %d, want %d: nothing appended", got, before)
		}
	})
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
