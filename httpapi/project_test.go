package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
)

func TestProject(t *testing.T) {
	ts := mustServer(t, httpapi.Config{AuthDisabled: true})
	ns := randomNS(t)
	t.Run("NoneYet", func(t *testing.T) {
		var p struct{ Name string }
		if r := ts.ok(t, "GET", path(ns, "/project"), nil, nil, &p); p.Name != "" || r.header.Get("ETag") != `"0"` {
			t.Fatalf("got %+v, ETag %s, want no project at revision 0", p, r.header.Get("ETag"))
		}
	})
	t.Run("Activated", func(t *testing.T) {
		var res appendResult
		ts.ok(t, "PUT", path(ns, "/project"), []byte(`{"name":"orders"}`), hdr{"Flowhist-User": "alice"}, &res)
		var p struct{ Name string }
		ts.ok(t, "GET", path(ns, "/project"), nil, nil, &p)
		if p.Name != "orders" || res.AggregateRevision != 1 {
			t.Fatalf("got %+v after %+v, want orders at project revision 1", p, res)
		}
		ev := ts.events(t, ns)
		if len(ev) != 1 || ev[0].Type != domain.ProjectActivated || ev[0].Actor.User != "alice" {
			t.Fatalf("got events %+v, want one project.activated by alice", ev)
		}
	})
	for _, tc := range []struct{ name, body string }{
		{"ErrNoName", `{}`},
		{"ErrNotObject", `"orders"`},
		{"ErrNameNotText", `{"name":"a\u0001b"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := ts.head(t, ns)
			wantError(t, ts.do(t, "PUT", path(ns, "/project"), []byte(tc.body), nil), http.StatusBadRequest, domain.EINVALID)
			if after := ts.head(t, ns); after != before {
				t.Fatalf("got revision %d after a refused save, want %d", after, before)
			}
		})
	}
}

// TestHistoryByProject: saves made with Flowhist-Project carry the
// project's name, and the history filters by it.
func TestHistoryByProject(t *testing.T) {
	ts := mustServer(t, httpapi.Config{AuthDisabled: true})
	ns := randomNS(t)
	for i, p := range []string{"A", "B", "A", ""} {
		h := hdr{}
		if p != "" {
			h["Flowhist-Project"] = p
		}
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc(p+string(rune('0'+i))), h, nil)
	}
	var got struct {
		Entries []struct {
			Revision domain.Revision `json:"revision"`
			Project  string          `json:"project"`
		} `json:"entries"`
	}
	ts.ok(t, "GET", path(ns, "/history?project=A"), nil, nil, &got)
	if len(got.Entries) != 2 || got.Entries[0].Revision != 3 || got.Entries[1].Revision != 1 || got.Entries[0].Project != "A" {
		t.Fatalf("got %+v, want revisions 3 and 1, of project A", got.Entries)
	}
	wantError(t, ts.do(t, "PUT", path(ns, "/flows"), flowsDoc("x"), hdr{"Flowhist-Project": "a\u00a0b\u0085"}), http.StatusBadRequest, domain.EINVALID)
}
