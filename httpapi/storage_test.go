package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
)

func TestDeploy(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	const creds = `{"$":"4f1e9b0c2d7a6e53b8f0a1c9d2e4f6a8b0c1d3e5f7a9b1c3d5e7f9a1b3c5d7e9"}`

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		ns := randomNS(t)
		doc := realisticDoc(100)
		body := []byte(`{"flows":` + string(doc) + `,"credentials":` + creds + `,"user":"alice"}`)
		var res appendResult
		ts.ok(t, "POST", path(ns, "/deploy"), body, nil, &res)
		if res.Revision != 1 || res.FlowsRevision != 1 {
			t.Fatalf("got revision %d, flows revision %d, want 1 and 1", res.Revision, res.FlowsRevision)
		}
		events := ts.events(t, ns)
		if len(events) != 1 {
			t.Fatalf("got %d events, want 1: flows and credentials saved together", len(events))
		}
		e := events[0]
		if e.Type != domain.FlowsDeployed {
			t.Fatalf("got event type %s, want %s", e.Type, domain.FlowsDeployed)
		}
		if e.Actor.User != "alice" {
			t.Fatalf("got actor user %q, want alice", e.Actor.User)
		}
		var p domain.FlowsPayload
		if err := domain.DecodePayload(e, &p); err != nil {
			t.Fatal(err)
		}
		if string(p.Credentials) != creds {
			t.Fatalf("got credentials %s in the payload, want %s", p.Credentials, creds)
		}
		if got := ts.ok(t, "GET", path(ns, "/flows"), nil, nil, nil).body; !bytes.Equal(got, doc) {
			t.Fatalf("got flows differing from those deployed at byte %d", firstDiff(got, doc))
		}
		get := ts.ok(t, "GET", path(ns, "/credentials"), nil, nil, nil)
		if string(get.body) != creds {
			t.Fatalf("got credentials %s, want %s", get.body, creds)
		}
		if got := get.header.Get("ETag"); got != `"1"` {
			t.Fatalf("got ETag %s, want \"1\"", got)
		}
	})

	t.Run("CredentialsAlone", func(t *testing.T) {
		t.Parallel()
		ns := randomNS(t)
		ts.ok(t, "POST", path(ns, "/deploy"), []byte(`{"flows":`+string(flowsDoc("one"))+`,"credentials":`+creds+`}`), nil, nil)
		const next = `{"$":"0000aaaa"}`
		var res appendResult
		ts.ok(t, "PUT", path(ns, "/credentials"), []byte(next), hdr{"Flowhist-User": "bob"}, &res)
		if res.Revision != 2 || res.FlowsRevision != 2 {
			t.Fatalf("got revision %d, flows revision %d, want 2 and 2", res.Revision, res.FlowsRevision)
		}
		events := ts.events(t, ns)
		if len(events) != 2 {
			t.Fatalf("got %d events, want 2", len(events))
		}
		if e := events[1]; e.Type != domain.CredentialsSaved || e.Actor.User != "bob" {
			t.Fatalf("got %s by %q, want %s by bob", e.Type, e.Actor.User, domain.CredentialsSaved)
		}
		if got := ts.ok(t, "GET", path(ns, "/credentials"), nil, nil, nil).body; string(got) != next {
			t.Fatalf("got credentials %s, want %s", got, next)
		}
		if got := ts.ok(t, "GET", path(ns, "/flows"), nil, nil, nil).body; string(got) != string(flowsDoc("one")) {
			t.Fatalf("got flows %s, want them unchanged %s", got, flowsDoc("one"))
		}
	})

	t.Run("EmptyNamespace", func(t *testing.T) {
		t.Parallel()
		res := ts.ok(t, "GET", path(randomNS(t), "/credentials"), nil, nil, nil)
		if string(res.body) != "{}" {
			t.Fatalf("got %s, want {}", res.body)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		t.Parallel()
		for _, tt := range []struct{ name, method, rest, body, message string }{
			{"DeployNoFlows", "POST", "/deploy", `{"credentials":{}}`, `no "flows"`},
			{"DeployNotAnObject", "POST", "/deploy", `[1]`, "deploy body"},
			{"DeployCredentialsNotAnObject", "POST", "/deploy", `{"flows":[],"credentials":[1]}`, "credentials must be a JSON object"},
			{"DeployInvalidFlows", "POST", "/deploy", `{"flows":[{"type":"tab"}]}`, `no "id"`},
			{"CredentialsNotAnObject", "PUT", "/credentials", `"secret"`, "credentials must be a JSON object"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				ns := randomNS(t)
				e := wantError(t, ts.do(t, tt.method, path(ns, tt.rest), []byte(tt.body), nil), http.StatusBadRequest, domain.EINVALID)
				if !strings.Contains(e.Message, tt.message) {
					t.Fatalf("got message %q, want it to contain %q", e.Message, tt.message)
				}
				if got := ts.head(t, ns); got != 0 {
					t.Fatalf("got head %d, want 0: nothing appended", got)
				}
			})
		}
	})
}

func TestSettings(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})

	t.Run("SecretRemoved", func(t *testing.T) {
		t.Parallel()
		ns := randomNS(t)
		const secret = "c2VjcmV0LXRoYXQtZGVjcnlwdHMtZXZlcnl0aGluZw"
		body := []byte(`{"_credentialSecret":"` + secret + `","editorTheme":{"projects":{"enabled":false}},"telemetryEnabled":false}`)
		put := ts.ok(t, "PUT", path(ns, "/settings"), body, nil, nil)
		get := ts.ok(t, "GET", path(ns, "/settings"), nil, nil, nil)
		for _, b := range [][]byte{put.body, get.body} {
			if contains(b, "_credentialSecret") || contains(b, secret) {
				t.Fatalf("got %s, want no _credentialSecret", b)
			}
		}
		var got map[string]any
		get.decode(t, &got)
		want := map[string]any{"editorTheme": map[string]any{"projects": map[string]any{"enabled": false}}, "telemetryEnabled": false}
		if !jsonEqual(got, want) {
			t.Fatalf("got settings %s, want the rest kept: %v", get.body, want)
		}
		events := ts.events(t, ns)
		if len(events) != 1 || events[0].Type != domain.SettingsSaved {
			t.Fatalf("got %d events, want one %s", len(events), domain.SettingsSaved)
		}
		if contains(events[0].Payload, "_credentialSecret") || contains(events[0].Payload, secret) {
			t.Fatalf("got payload %s in the log, want no _credentialSecret", events[0].Payload)
		}
	})

	t.Run("NoSecret", func(t *testing.T) {
		t.Parallel()
		ns := randomNS(t)
		body := []byte(`{"telemetryEnabled":true,"editorTheme":{"a":"<&>"}}`)
		ts.ok(t, "PUT", path(ns, "/settings"), body, nil, nil)
		if got := ts.ok(t, "GET", path(ns, "/settings"), nil, nil, nil).body; !bytes.Equal(got, body) {
			t.Fatalf("got %s, want the bytes put %s", got, body)
		}
	})

	t.Run("PackagesChanged", func(t *testing.T) {
		t.Parallel()
		ns := randomNS(t)
		settings := []byte(`{"nodes":{` +
			`"node-red":{"name":"node-red","version":"4.0.2","local":false,"user":false,"nodes":{}},` +
			`"node-red-contrib-x":{"name":"node-red-contrib-x","version":"1.2.0","local":true,"user":true,"nodes":{"x":{"name":"x","types":["x in"],"enabled":true}}}` +
			`}}`)
		var res appendResult
		ts.ok(t, "PUT", path(ns, "/settings"), settings, nil, &res)
		events := ts.events(t, ns)
		if got := types(events); !slices.Equal(got, []domain.EventType{domain.SettingsSaved, domain.PackagesChanged}) {
			t.Fatalf("got events %v, want settings.saved then packages.changed", got)
		}
		if res.Revision != 1 || res.PackagesRevision != 2 {
			t.Fatalf("got revision %d and packages revision %d, want 1 (settings.saved) and 2 (packages.changed)", res.Revision, res.PackagesRevision)
		}
		var p domain.PackagesPayload
		if err := domain.DecodePayload(events[1], &p); err != nil {
			t.Fatal(err)
		}
		if want := []domain.Package{{Name: "node-red-contrib-x", Version: "1.2.0"}}; !slices.Equal(p.Packages, want) {
			t.Fatalf("got packages %+v, want %+v", p.Packages, want)
		}

		t.Run("Unchanged", func(t *testing.T) {
			ts.ok(t, "PUT", path(ns, "/settings"), settings, nil, nil)
			got := types(ts.events(t, ns))
			if want := []domain.EventType{domain.SettingsSaved, domain.PackagesChanged, domain.SettingsSaved}; !slices.Equal(got, want) {
				t.Fatalf("got events %v, want %v: no packages.changed for the same modules", got, want)
			}
		})

		t.Run("Upgraded", func(t *testing.T) {
			upgraded := bytes.Replace(settings, []byte(`"1.2.0"`), []byte(`"1.3.0"`), 1)
			ts.ok(t, "PUT", path(ns, "/settings"), upgraded, nil, nil)
			events := ts.events(t, ns)
			last := events[len(events)-1]
			if last.Type != domain.PackagesChanged {
				t.Fatalf("got last event %s, want %s", last.Type, domain.PackagesChanged)
			}
			var p domain.PackagesPayload
			if err := domain.DecodePayload(last, &p); err != nil {
				t.Fatal(err)
			}
			if want := []domain.Package{{Name: "node-red-contrib-x", Version: "1.3.0"}}; !slices.Equal(p.Packages, want) {
				t.Fatalf("got packages %+v, want %+v", p.Packages, want)
			}
		})
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		t.Parallel()
		ns := randomNS(t)
		for _, body := range []string{`[]`, `"x"`, `{"a":`} {
			wantError(t, ts.do(t, "PUT", path(ns, "/settings"), []byte(body), nil), http.StatusBadRequest, domain.EINVALID)
		}
		if got := ts.head(t, ns); got != 0 {
			t.Fatalf("got head %d, want 0: nothing appended", got)
		}
	})
}

func TestSessions(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	ns := randomNS(t)
	const sessions = `{"eyJhbGciOi-token-1":{"user":"admin","client":"node-red-editor","scope":["*"],"accessToken":"eyJhbGciOi-token-1","expires":1893456000000}}`

	t.Run("OK", func(t *testing.T) {
		if got := ts.ok(t, "GET", path(ns, "/sessions"), nil, nil, nil).body; string(got) != "{}" {
			t.Fatalf("got %s before any save, want {}", got)
		}
		ts.ok(t, "PUT", path(ns, "/sessions"), []byte(sessions), nil, nil)
		get := ts.ok(t, "GET", path(ns, "/sessions"), nil, nil, nil)
		if string(get.body) != sessions {
			t.Fatalf("got %s, want %s", get.body, sessions)
		}
		if got := get.header.Get("Cache-Control"); got != "no-store" {
			t.Fatalf("got Cache-Control %q, want no-store", got)
		}
	})

	t.Run("NotInLog", func(t *testing.T) {
		if events := ts.events(t, ns); len(events) != 0 {
			t.Fatalf("got %d events, want none: sessions are live tokens", len(events))
		}
		if got := ts.head(t, ns); got != 0 {
			t.Fatalf("got head %d, want 0", got)
		}
	})

	t.Run("ErrForbiddenReadScope", func(t *testing.T) {
		res := ts.do(t, "GET", path(ns, "/sessions"), nil, hdr{"Authorization": "Bearer " + readSecret})
		wantError(t, res, http.StatusForbidden, domain.EFORBIDDEN)
		if contains(res.body, "token-1") {
			t.Fatalf("got %s, want no session in a refusal", res.body)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		wantError(t, ts.do(t, "PUT", path(ns, "/sessions"), []byte(`["x"]`), nil), http.StatusBadRequest, domain.EINVALID)
	})
}

func types(events []*domain.Event) []domain.EventType {
	out := make([]domain.EventType, len(events))
	for i, e := range events {
		out[i] = e.Type
	}
	return out
}

// jsonEqual compares two values by their JSON encoding.
func jsonEqual(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}
