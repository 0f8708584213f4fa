package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	nsA, nsB := randomNS(t), randomNS(t)
	const (
		teamA  = "team-a-secret-0d9f8e7c6b"
		reader = "reader-secret-1a2b3c4d5e"
		deploy = "deploy-secret-9e8d7c6b5a"
		all    = "all-ns-secret-5f4e3d2c1b"
		wrong  = "wrong-secret-77aa88bb99cc"
	)
	ts := mustServer(t, httpapi.Config{Tokens: []httpapi.Token{
		{Name: "team-a", Secret: teamA, Scopes: []httpapi.Scope{httpapi.ScopeAdmin}, Namespaces: []string{nsA}},
		{Name: "reader", Secret: reader, Scopes: []httpapi.Scope{httpapi.ScopeRead}, Namespaces: []string{nsA, nsB}},
		{Name: "deployer", Secret: deploy, Scopes: []httpapi.Scope{httpapi.ScopeDeploy}, Namespaces: []string{nsA, nsB}},
		{Name: "everywhere", Secret: all, Scopes: []httpapi.Scope{httpapi.ScopeRead, httpapi.ScopeAdmin}, Namespaces: []string{"*"}, AssertUsers: true},
	}})

	for _, tt := range []struct {
		name, auth, method, ns string
		status                 int
		code                   string
	}{
		{"ErrUnauthorizedNoToken", "", "GET", nsA, http.StatusUnauthorized, domain.EUNAUTHORIZED},
		{"ErrUnauthorizedEmptyBearer", "Bearer ", "GET", nsA, http.StatusUnauthorized, domain.EUNAUTHORIZED},
		{"ErrUnauthorizedNotBearer", "Basic " + teamA, "GET", nsA, http.StatusUnauthorized, domain.EUNAUTHORIZED},
		{"ErrUnauthorizedWrongToken", "Bearer " + wrong, "GET", nsA, http.StatusUnauthorized, domain.EUNAUTHORIZED},
		{"ErrUnauthorizedTokenPrefix", "Bearer " + teamA[:len(teamA)-1], "GET", nsA, http.StatusUnauthorized, domain.EUNAUTHORIZED},
		{"ErrForbiddenOtherNamespace", "Bearer " + teamA, "GET", nsB, http.StatusForbidden, domain.EFORBIDDEN},
		{"ErrForbiddenOtherNamespacePUT", "Bearer " + teamA, "PUT", nsB, http.StatusForbidden, domain.EFORBIDDEN},
		{"ErrForbiddenReadScope", "Bearer " + reader, "PUT", nsA, http.StatusForbidden, domain.EFORBIDDEN},
		{"OKRead", "Bearer " + reader, "GET", nsB, http.StatusOK, ""},
		{"OKOwnNamespace", "Bearer " + teamA, "PUT", nsA, http.StatusOK, ""},
		{"OKDeploy", "Bearer " + deploy, "PUT", nsB, http.StatusOK, ""},
		{"OKWildcard", "Bearer " + all, "PUT", randomNS(t), http.StatusOK, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var body []byte
			if tt.method == "PUT" {
				body = flowsDoc(tt.name)
			}
			before := ts.head(t, tt.ns)
			res := ts.do(t, tt.method, path(tt.ns, "/flows"), body, hdr{"Authorization": tt.auth})
			if tt.status == http.StatusOK {
				if res.status != http.StatusOK {
					t.Fatalf("got status %d (%s), want 200", res.status, res.body)
				}
				return
			}
			wantError(t, res, tt.status, tt.code)
			for _, secret := range []string{teamA, reader, deploy, all, wrong, teamA[:len(teamA)-1]} {
				if strings.Contains(string(res.body), secret) {
					t.Fatalf("got %s, want no token echoed", res.body)
				}
			}
			if got := ts.head(t, tt.ns); got != before {
				t.Fatalf("got head %d, want %d: nothing appended", got, before)
			}
		})
	}

	t.Run("ActorIsTokenName", func(t *testing.T) {
		ns := randomNS(t)
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("x"), hdr{"Authorization": "Bearer " + all}, nil)
		ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("y"), hdr{"Authorization": "Bearer " + all, "Flowhist-User": "alice", "Flowhist-Channel": domain.ChannelNodeRED}, nil)
		events := ts.events(t, ns)
		if len(events) != 2 {
			t.Fatalf("got %d events, want 2", len(events))
		}
		if a := events[0].Actor; a.User != "everywhere" || a.Channel != domain.ChannelAPI || a.RemoteAddr == "" {
			t.Fatalf("got actor %+v, want user everywhere (the token's name) on channel api with an address", a)
		}
		if a := events[1].Actor; a.User != "alice" || a.Channel != domain.ChannelNodeRED {
			t.Fatalf("got actor %+v, want user alice on channel node-red", a)
		}
	})
}

func TestAuthDisabled(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{AuthDisabled: true})
	ns := randomNS(t)
	t.Run("OK", func(t *testing.T) {
		for _, auth := range []string{"", "Bearer whatever-it-is"} {
			ts.ok(t, "PUT", path(ns, "/flows"), flowsDoc("x"+auth), hdr{"Authorization": auth}, nil)
			ts.ok(t, "GET", path(ns, "/flows"), nil, hdr{"Authorization": auth}, nil)
			ts.ok(t, "GET", path(ns, "/sessions"), nil, hdr{"Authorization": auth}, nil)
		}
	})
}

func TestNewConfig(t *testing.T) {
	t.Parallel()
	tok := func(mod func(*httpapi.Token)) httpapi.Config {
		tk := httpapi.Token{Name: "t", Secret: "0123456789abcdef", Scopes: []httpapi.Scope{httpapi.ScopeRead}, Namespaces: []string{"*"}}
		mod(&tk)
		return httpapi.Config{Tokens: []httpapi.Token{tk}}
	}
	for _, tt := range []struct {
		name string
		cfg  httpapi.Config
	}{
		{"ErrNoTokens", httpapi.Config{}},
		{"ErrNoName", tok(func(t *httpapi.Token) { t.Name = "" })},
		{"ErrShortSecret", tok(func(t *httpapi.Token) { t.Secret = "0123456789abcde" })},
		{"ErrNoScopes", tok(func(t *httpapi.Token) { t.Scopes = nil })},
		{"ErrUnknownScope", tok(func(t *httpapi.Token) { t.Scopes = []httpapi.Scope{"root"} })},
		{"ErrNoNamespaces", tok(func(t *httpapi.Token) { t.Namespaces = nil })},
		{"ErrSmallMaxBody", httpapi.Config{AuthDisabled: true, MaxBody: 1023}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := httpapi.New(nil, nil, tt.cfg, nil, nil); err == nil {
				t.Fatalf("got no error, want the configuration refused")
			}
		})
	}
	t.Run("OK", func(t *testing.T) {
		s, err := httpapi.New(nil, nil, tok(func(*httpapi.Token) {}), nil, nil)
		if err != nil {
			t.Fatalf("got %v, want a server", err)
		}
		s.Close()
	})
}
