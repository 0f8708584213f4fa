package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"path"
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
	// ScopeApprove approves and rejects promotion requests into the
	// namespaces the token covers (docs/promotion.md). It stands apart
	// like audit: admin implies it, it implies nothing.
	ScopeApprove Scope = "approve"
)

var scopeRank = map[Scope]int{ScopeRead: 1, ScopeDeploy: 2, ScopeAdmin: 3}

// Token is one accepted bearer token.
type Token struct {
	// Name identifies the token in logs and as the actor when a request
	// names no user. It is not secret.
	Name string
	// Secret is the bearer token itself. Either it or SecretSHA256.
	Secret string
	// SecretSHA256 is the hex sha256 of the bearer token, so that a
	// config file need hold no usable secret (auth.tokens[].token_sha256).
	SecretSHA256 string
	// Scopes granted; the highest one counts.
	Scopes []Scope
	// Namespaces covered; "*" covers all.
	Namespaces []string
	// AssertUsers lets the token name the user it acts for
	// (Flowhist-User, a deploy's "user"): Node-RED's admin names its
	// editor users. Any other token acts as itself (domain.Attribute).
	AssertUsers bool
	// Workers are the worker ids (path.Match globs: "edge-*") the token
	// may act as: follow the feed, acknowledge, report packages. None:
	// it may not act as any worker, whatever its scopes.
	Workers []string
	// Rings are the rollout rings (path.Match globs) the token's workers
	// may follow and report in. None: any ring (a worker names its own).
	Rings []string
	// ClientCertCN names the client certificate (its subject's common
	// name) that stands for this token on a TLS connection with a
	// verified client certificate and no bearer token: mTLS-only clients.
	ClientCertCN string
	// Limits bound what the token may ask for at once; zero fields take
	// DefaultLimits'.
	Limits Limits

	sum [32]byte
}

// Validate reports the first unusable setting of the token, never its
// secret (Config.Validate checks each; serve checks them before it
// connects to Valkey).
func (t Token) Validate() error {
	if t.Name == "" {
		return fmt.Errorf("has no name")
	}
	switch {
	case t.Secret != "" && t.SecretSHA256 != "":
		return fmt.Errorf("has both token and token_sha256: keep one")
	case t.SecretSHA256 != "":
		if !isSHA256Hex(t.SecretSHA256) {
			return fmt.Errorf("token_sha256 is not 64 hex digits (flowhist token --sha256 prints one)")
		}
	case t.Secret == "" && t.ClientCertCN == "":
		return fmt.Errorf("has no token, token_sha256 or client_cert_cn")
	case t.Secret != "" && len(t.Secret) < 16:
		return fmt.Errorf("secret is shorter than 16 characters (flowhist token prints a good one)")
	}
	for _, w := range t.Workers {
		if _, err := path.Match(w, ""); err != nil || w == "" {
			return fmt.Errorf("workers entry %q is not a worker id or glob such as \"edge-*\"", w)
		}
	}
	for _, g := range t.Rings {
		if _, err := path.Match(g, ""); err != nil || g == "" {
			return fmt.Errorf("rings entry %q is not a ring name or glob such as \"canary\"", g)
		}
	}
	if err := t.Limits.validate(); err != nil {
		return err
	}
	if len(t.Scopes) == 0 {
		return fmt.Errorf("has no scopes (read, deploy, admin)")
	}
	for _, s := range t.Scopes {
		if scopeRank[s] == 0 && s != ScopeAudit && s != ScopeApprove {
			return fmt.Errorf("unknown scope %q (read, deploy, admin, audit, approve)", s)
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

// actsAs reports whether the token may act as worker id.
func (t Token) actsAs(id string) bool {
	for _, w := range t.Workers {
		if ok, _ := path.Match(w, id); ok {
			return true
		}
	}
	return false
}

// mayActAs checks that the request's token may act as worker id (auth
// disabled: anyone may). The worker routes call it with the id the request
// names, from its path, query or body.
//
// Errors: EFORBIDDEN.
func mayActAs(r *http.Request, id string) error {
	t, ok := r.Context().Value(tokenKey).(*Token)
	if !ok || t == nil {
		return nil
	}
	if len(t.Workers) == 0 {
		if id == "" {
			id = "<worker id>"
		}
		return domain.Errorf(domain.EFORBIDDEN, "token %s may not act as a worker: give each worker a token of its own with auth.tokens[].workers: [\"%s\"]", t.Name, clip(id))
	}
	if !t.actsAs(id) {
		return domain.Errorf(domain.EFORBIDDEN, "token %s may not act as worker %q: its auth.tokens[].workers are %s", t.Name, clip(id), strings.Join(t.Workers, ", "))
	}
	return nil
}

// mayJoinRing checks that the request's token may put its worker in ring
// ("": the default ring). A canary ring gates every rollout: a worker
// token bound to rings cannot join another, and fail (or pass) its gate.
//
// Errors: EFORBIDDEN.
func mayJoinRing(r *http.Request, ring string) error {
	t, ok := r.Context().Value(tokenKey).(*Token)
	if !ok || t == nil || len(t.Rings) == 0 {
		return nil
	}
	if ring == "" {
		ring = domain.DefaultRing
	}
	for _, g := range t.Rings {
		if ok, _ := path.Match(g, ring); ok {
			return nil
		}
	}
	return domain.Errorf(domain.EFORBIDDEN, "token %s may not put a worker in ring %q: its auth.tokens[].rings are %s", t.Name, clip(ring), strings.Join(t.Rings, ", "))
}

func (t Token) allows(scope Scope) bool {
	if scope == ScopeAudit || scope == ScopeApprove {
		return slices.Contains(t.Scopes, scope) || slices.Contains(t.Scopes, ScopeAdmin)
	}
	for _, s := range t.Scopes {
		if scopeRank[s] >= scopeRank[scope] {
			return true
		}
	}
	return false
}

// hasSecret: the token can be presented as a bearer token.
func (t *Token) hasSecret() bool { return t.Secret != "" || t.SecretSHA256 != "" }

// prepare computes the hash the token is compared by.
func (t *Token) prepare() {
	switch {
	case t.SecretSHA256 != "":
		b, _ := hex.DecodeString(t.SecretSHA256) // validated
		copy(t.sum[:], b)
	case t.Secret != "":
		t.sum = sha256.Sum256([]byte(t.Secret))
	}
}

// clientCertToken is the token whose ClientCertCN names the verified
// client certificate of r's TLS connection, if any.
func (s *Server) clientCertToken(r *http.Request) *Token {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return nil
	}
	cn := r.TLS.VerifiedChains[0][0].Subject.CommonName
	for i := range s.cfg.Tokens {
		if t := &s.cfg.Tokens[i]; cn != "" && t.ClientCertCN == cn {
			return t
		}
	}
	return nil
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
	var found *Token
	switch {
	case ok && secret != "":
		sum := sha256.Sum256([]byte(secret))
		for i := range s.cfg.Tokens {
			t := &s.cfg.Tokens[i]
			if t.hasSecret() && subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1 {
				found = t
			}
		}
		if found == nil {
			return nil, domain.Errorf(domain.EUNAUTHORIZED, "unknown bearer token")
		}
	case h == "":
		found = s.clientCertToken(r)
	}
	if found == nil {
		return nil, domain.Errorf(domain.EUNAUTHORIZED, "missing bearer token: send Authorization: Bearer <token>")
	}
	if !found.covers(ns) {
		return nil, domain.Errorf(domain.EFORBIDDEN, "token %s does not cover namespace %s", found.Name, ns)
	}
	if !found.allows(scope) {
		return nil, domain.Errorf(domain.EFORBIDDEN, "token %s lacks the %s scope", found.Name, scope)
	}
	return found, nil
}

// actor is who makes r: user (see origin), the channel the client names
// (Flowhist-Channel: node-red, cli or api; its claim) and the remote
// address.
func actor(r *http.Request, user string) domain.Actor {
	a := domain.Actor{User: user, Channel: domain.ChannelAPI, RemoteAddr: r.RemoteAddr}
	switch c := r.Header.Get("Flowhist-Channel"); c {
	case domain.ChannelNodeRED, domain.ChannelCLI:
		a.Channel = c
	}
	if len(a.User) > 200 {
		// Without the character the cut splits, if any.
		a.User = strings.ToValidUTF8(a.User[:200], "")
	}
	return a
}
