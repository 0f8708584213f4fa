package httpapi

import (
	"math"
	"strconv"
	"strings"
)

// MinTokenBits is the least estimated entropy a bearer token must carry.
const MinTokenBits = 128

// Placeholders are token values that appear in flowhist's own files and
// documentation: publicly known, so never accepted.
var Placeholders = []string{
	"replace-with-openssl-rand-hex-32",
	"replace-with-another-openssl-rand-hex-32",
	"ADMIN_TOKEN", "WORKERS_TOKEN", "WORKER_TOKEN",
}

// placeholderWords are parts of a token someone meant to replace.
var placeholderWords = []string{"replace", "changeme", "change-me", "example", "placeholder", "password", "secret", "token"}

// TokenBits estimates a token's entropy in bits: its length times log2 of
// the smallest alphabet holding all its characters: hex (16), base64 or
// base64url (64), printable ASCII (95), anything else 256 per byte. A
// random token carries that much; a chosen one less, which the
// placeholder check and the distinct-characters check catch in part.
func TokenBits(secret string) float64 {
	alphabet := 16.0
	for _, c := range secret {
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '+', c == '/', c == '-', c == '_', c == '=':
			alphabet = max(alphabet, 64)
		case c > ' ' && c < 0x7f:
			alphabet = max(alphabet, 95)
		default:
			alphabet = 256
		}
	}
	return float64(len(secret)) * math.Log2(alphabet)
}

// WeakToken says why secret is not good enough for a bearer token, or ""
// if it is: under MinTokenBits (a hex token needs 32 digits, base64 22
// characters; `flowhist token` prints 64 hex digits), fewer than 8
// distinct characters, or a placeholder from flowhist's documentation (or
// containing a word such as "replace" or "changeme"). The reason never
// quotes the secret.
func WeakToken(secret string) string {
	lower := strings.ToLower(secret)
	for _, p := range Placeholders {
		if lower == strings.ToLower(p) {
			return "is the placeholder from flowhist's documentation: replace it with the output of flowhist token"
		}
	}
	for _, w := range placeholderWords {
		if strings.Contains(lower, w) {
			return "contains the word \"" + w + "\", as a placeholder would: replace it with the output of flowhist token"
		}
	}
	if bits := TokenBits(secret); bits < MinTokenBits {
		return "carries about " + strconv.Itoa(int(bits)) + " bits, under 128 (hex: at least 32 digits; flowhist token prints 64)"
	}
	distinct := map[rune]bool{}
	for _, c := range secret {
		distinct[c] = true
	}
	if len(distinct) < 8 {
		return "has fewer than 8 distinct characters: it is not random (flowhist token prints a random one)"
	}
	return ""
}
