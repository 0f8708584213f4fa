package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/flowhist/flowhist/domain"
)

// Scope is what a token may do. Each scope includes the ones before it:
// admin ⊃ deploy ⊃ read.
type Scope string

// Scopes.
const (
	ScopeRead   Scope = "read"   // read flows, settings, library; follow the worker feed
	ScopeDeploy Scope = "deploy" // also save flows, credentials, settings, library, sessions
	ScopeAdmin  Scope = "admin"  // also roll back
	// ScopeAudit reads the events of every namespace the token covers at
	// once (GET /v1/audit). It stands apart from the others: admin
	// implies it, it implies nothing.
	ScopeAudit Scope = "audit"
)

var scopeRank = map[Scope]int{ScopeRead: 1, ScopeDeploy: 2, ScopeAdmin: 3}

// Token is one accepted bearer token.
type Token struct {
	// Name identifies the token in logs and as the actor when a request
	// names no user. It is not secret.
	Name string
	// Secret is the bearer token itself.
	Secret string
	// Scopes granted; the highest one counts.
	Scopes []Scope
	// Namespaces covered; "*" covers all.
	Namespaces []string

	sum [32]byte
}

func (t Token) validate() error {
	if t.Name == "" {
		return fmt.Errorf("has no name")
	}
	if len(t.Secret) < 16 {
		return fmt.Errorf("secret is shorter than 16 characters (flowhist token prints a good one)")
	}
	if len(t.Scopes) == 0 {
		return fmt.Errorf("has no scopes (read, deploy, admin)")
	}
	for _, s := range t.Scopes {
		if scopeRank[s] == 0 && s != ScopeAudit {
			return fmt.Errorf("unknown scope %q (read, deploy, admin, audit)", s)
		}
	}
	if len(t.Namespaces) == 0 {
		return fmt.Errorf("covers no namespaces (use \"*\" for all)")
	}
	return nil
}

func (t Token) covers(ns string) bool {
	return ns == "" || slices.Contains(t.Namespaces, "*") || slices.Contains(t.Namespaces, ns)
}

func (t Token) allows(scope Scope) bool {
	if scope == ScopeAudit {
		return slices.Contains(t.Scopes, ScopeAudit) || slices.Contains(t.Scopes, ScopeAdmin)
	}
	for _, s := range t.Scopes {
		if scopeRank[s] >= scopeRank[scope] {
			return true
		}
	}
	return false
}

type ctxKey int

const tokenKey ctxKey = 0

// authorize checks r's bearer token for scope on ns. Tokens are compared by
// their sha256 in constant time, so neither content nor length leaks
// through timing.
func (s *Server) authorize(r *http.Request, scope Scope, ns string) (*Token, error) {
	if s.cfg.AuthDisabled {
		return nil, nil
	}
	h := r.Header.Get("Authorization")
	secret, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || secret == "" {
		return nil, domain.Errorf(domain.EUNAUTHORIZED, "missing bearer token: send Authorization: Bearer <token>")
	}
	sum := sha256.Sum256([]byte(secret))
	var found *Token
	for i := range s.cfg.Tokens {
		t := &s.cfg.Tokens[i]
		if subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1 {
			found = t
		}
	}
	if found == nil {
		return nil, domain.Errorf(domain.EUNAUTHORIZED, "unknown bearer token")
	}
	if !found.covers(ns) {
		return nil, domain.Errorf(domain.EFORBIDDEN, "token %s does not cover namespace %s", found.Name, ns)
	}
	if !found.allows(scope) {
		return nil, domain.Errorf(domain.EFORBIDDEN, "token %s lacks the %s scope", found.Name, scope)
	}
	return found, nil
}

// actor is who makes r: the user the client names (Node-RED's editor user,
// sent as Flowhist-User) or else the token's name, the channel it names
// (Flowhist-Channel: node-red, cli or api) and the remote address.
func actor(r *http.Request) domain.Actor {
	a := domain.Actor{User: r.Header.Get("Flowhist-User"), Channel: domain.ChannelAPI, RemoteAddr: r.RemoteAddr}
	switch c := r.Header.Get("Flowhist-Channel"); c {
	case domain.ChannelNodeRED, domain.ChannelCLI:
		a.Channel = c
	}
	if a.User == "" {
		if t, ok := r.Context().Value(tokenKey).(*Token); ok && t != nil {
			a.User = t.Name
		}
	}
	if len(a.User) > 200 {
		// Without the character the cut splits, if any.
		a.User = strings.ToValidUTF8(a.User[:200], "")
	}
	return a
}
