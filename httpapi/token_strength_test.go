package httpapi_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/httpapi"
)

// TestWeakToken is issue 19's finding 3: the shipped placeholder met the
// only check there was (16 characters).
func TestWeakToken(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, secret string
		weak         bool
	}{
		{"ErrPlaceholderSecretYAML", "replace-with-openssl-rand-hex-32", true},
		{"ErrPlaceholderOther", "replace-with-another-openssl-rand-hex-32", true},
		{"ErrPlaceholderREADME", "ADMIN_TOKEN", true},
		{"ErrChangeme", "changeme-changeme-changeme-changeme", true},
		{"ErrShortHex", "0123456789abcdef0123456789abcde", true}, // 31 digits: 124 bits
		{"ErrShortBase64", "AbCdEfGhIjKlMnOpQrStU", true},        // 21: 126 bits
		{"ErrRepeated", strings.Repeat("ab", 40), true},
		{"OKHex32", "9f86d081884c7d659a2feaa0c55ad015", false},
		{"OKHex64", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", false},
		{"OKBase64URL22", "Xq3_-Lm9Pz2Rk8Vb1Nw4Ty", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			why := httpapi.WeakToken(tt.secret)
			if (why != "") != tt.weak {
				t.Fatalf("got %q, want weak %v", why, tt.weak)
			}
			if strings.Contains(why, tt.secret) {
				t.Errorf("got reason %q, which quotes the secret", why)
			}
		})
	}
}

// TestTokenSHA256 checks that a token configured by its sha256 alone is
// accepted, so that the configuration need hold no usable secret.
func TestTokenSHA256(t *testing.T) {
	t.Parallel()
	const secret = "9f86d081884c7d659a2feaa0c55ad015"
	sum := sha256.Sum256([]byte(secret))
	ns := randomNS(t)
	ts := mustServer(t, httpapi.Config{Tokens: []httpapi.Token{
		{Name: "hashed", SecretSHA256: hex.EncodeToString(sum[:]), Scopes: []httpapi.Scope{httpapi.ScopeRead}, Namespaces: []string{"*"}},
	}})
	ts.ok(t, "GET", path(ns, "/flows"), nil, hdr{"Authorization": "Bearer " + secret}, nil)
	if res := ts.do(t, "GET", path(ns, "/flows"), nil, hdr{"Authorization": "Bearer " + hex.EncodeToString(sum[:])}); res.status != http.StatusUnauthorized {
		t.Fatalf("the hash itself as a bearer token: got status %d, want 401", res.status)
	}
	for _, bad := range []httpapi.Token{
		{Name: "both", Secret: secret, SecretSHA256: hex.EncodeToString(sum[:]), Scopes: []httpapi.Scope{httpapi.ScopeRead}, Namespaces: []string{"*"}},
		{Name: "short", SecretSHA256: "abc", Scopes: []httpapi.Scope{httpapi.ScopeRead}, Namespaces: []string{"*"}},
		{Name: "glob", Secret: secret, Scopes: []httpapi.Scope{httpapi.ScopeRead}, Namespaces: []string{"*"}, Workers: []string{"edge-["}},
	} {
		if err := (httpapi.Config{Tokens: []httpapi.Token{bad}}).Validate(); err == nil {
			t.Errorf("token %s: got no error, want one", bad.Name)
		}
	}
}
