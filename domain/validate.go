package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// What a client sends is stored in one canonical form and hashed in that
// form, so that whatever is accepted reads back equal and verifies: JSON
// objects are compacted (key order, string escapes and numbers kept as
// sent), and refused when they hold text JSON cannot carry faithfully.

// CheckText returns an EINVALID error naming what and the byte offset if
// the JSON text b holds invalid UTF-8 or a \u escape of a lone surrogate
// (which JSON.parse keeps but encoding/json, and so every Go reader, turns
// into U+FFFD). b must be valid JSON, so that backslashes only occur in
// strings.
func CheckText(what string, b []byte) error {
	if !utf8.Valid(b) {
		for i := 0; i < len(b); {
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				return Errorf(EINVALID, "%s: invalid UTF-8 at byte %d: text must be UTF-8", what, i)
			}
			i += n
		}
	}
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\\')
		if j < 0 || i+j+1 >= len(b) {
			return nil
		}
		i += j
		if b[i+1] != 'u' || i+6 > len(b) {
			i += 2
			continue
		}
		r := hex4(b[i+2:])
		switch {
		case r < 0xD800 || r >= 0xE000:
			i += 6
			continue
		case r < 0xDC00 && i+12 <= len(b) && b[i+6] == '\\' && b[i+7] == 'u':
			if lo := hex4(b[i+8:]); lo >= 0xDC00 && lo < 0xE000 {
				i += 12
				continue
			}
		}
		return Errorf(EINVALID, "%s: lone surrogate escape %s at byte %d: text must be UTF-8 (a character beyond U+FFFF is a pair of escapes)", what, b[i:i+6], i)
	}
}

// CanonicalObject validates b, a JSON object a client sent as what
// ("credentials", "sessions", …), and returns the form to store: compact,
// with key order, string escapes and numbers as sent.
//
// Errors: EINVALID when b is not one JSON object (null, an array, a string
// or a number included) or holds invalid UTF-8 or a lone surrogate escape.
func CanonicalObject(what string, b []byte) ([]byte, error) {
	var c bytes.Buffer
	if err := json.Compact(&c, b); err != nil {
		return nil, Errorf(EINVALID, "%s must be a JSON object: %v", what, err)
	}
	if c.Len() == 0 || c.Bytes()[0] != '{' {
		return nil, Errorf(EINVALID, "%s must be a JSON object, not %s", what, jsonKind(c.Bytes()))
	}
	if err := CheckText(what, b); err != nil {
		return nil, err
	}
	return c.Bytes(), nil
}

// jsonKind names the kind of a valid JSON value.
func jsonKind(v []byte) string {
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case 'n':
		return "null"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case '{':
		return "an object"
	}
	return "a number"
}

// CredentialSecretKey is the settings key of the secret that decrypts every
// credential: it must never enter the log, its history or an answer.
const CredentialSecretKey = "_credentialSecret"

// CanonicalSettings returns the settings document to store for one a
// client sent: CanonicalObject's form without a top-level
// _credentialSecret (instances share it through credentialSecret in
// settings.js). Its sha256 is the one to record.
//
// Errors: EINVALID as CanonicalObject.
func CanonicalSettings(b []byte) ([]byte, error) {
	c, err := CanonicalObject("settings", b)
	if err != nil {
		return nil, err
	}
	return withoutKey(c, CredentialSecretKey)
}

// withoutKey removes every top-level member named key from a compact
// object, keeping the others' order and bytes. Keys are compared as
// JSON.parse reads them (escapes resolved).
func withoutKey(obj []byte, key string) ([]byte, error) {
	if !bytes.Contains(obj, []byte(key[1:])) && !bytes.Contains(obj, []byte(`\u`)) {
		return obj, nil
	}
	s := &scanner{data: obj, what: "object"}
	out := make([]byte, 0, len(obj))
	out = append(out, '{')
	s.pos = 1
	for s.pos < len(obj) && obj[s.pos] != '}' {
		start := s.pos
		escaped, err := s.str()
		if err != nil {
			return nil, err
		}
		k := obj[start+1 : s.pos-1]
		if escaped {
			k = appendUnescaped(nil, k)
		}
		if s.pos >= len(obj) || obj[s.pos] != ':' {
			return nil, s.syntaxError("expected ':' after a key")
		}
		s.pos++
		if err := s.value(); err != nil {
			return nil, err
		}
		if string(k) != key {
			if len(out) > 1 {
				out = append(out, ',')
			}
			out = append(out, obj[start:s.pos]...)
		}
		if s.pos < len(obj) && obj[s.pos] == ',' {
			s.pos++
		}
	}
	return append(out, '}'), nil
}

// Library names are bounded so that listings, keys and file names built
// from them stay sane.
const (
	MaxLibraryType        = 64
	MaxLibraryPath        = 1024
	MaxLibraryPathSegment = 255
)

// ValidateLibraryType checks a library type ("flows", "functions", …): 1
// to MaxLibraryType bytes of printable UTF-8, no '/' or ':', not "." or
// "..".
//
// Errors: EINVALID.
func ValidateLibraryType(typ string) error {
	switch {
	case typ == "":
		return Errorf(EINVALID, "library type is empty")
	case len(typ) > MaxLibraryType:
		return Errorf(EINVALID, "library type is longer than %d bytes", MaxLibraryType)
	case typ == "." || typ == "..":
		return Errorf(EINVALID, "library type %q is not a name", typ)
	case strings.ContainsAny(typ, "/:"):
		return Errorf(EINVALID, "library type %q has a '/' or ':'", typ)
	}
	if err := printable(typ); err != nil {
		return Errorf(EINVALID, "library type %q %v", typ, err)
	}
	return nil
}

// ValidateLibraryPath checks a library path without its leading and
// trailing slashes ("" is the root): at most MaxLibraryPath bytes of
// printable UTF-8, segments of 1 to MaxLibraryPathSegment bytes, none "."
// or "..".
//
// Errors: EINVALID.
func ValidateLibraryPath(path string) error {
	if path == "" {
		return nil
	}
	if len(path) > MaxLibraryPath {
		return Errorf(EINVALID, "library path is longer than %d bytes", MaxLibraryPath)
	}
	if err := printable(path); err != nil {
		return Errorf(EINVALID, "library path %q %v", path, err)
	}
	for _, seg := range strings.Split(path, "/") {
		switch {
		case seg == "" || seg == "." || seg == "..":
			return Errorf(EINVALID, "library path %q has an empty, '.' or '..' segment", path)
		case len(seg) > MaxLibraryPathSegment:
			return Errorf(EINVALID, "library path has a segment longer than %d bytes", MaxLibraryPathSegment)
		}
	}
	return nil
}

// printable returns an error if s is not valid UTF-8 or has a control
// character (C0, DEL or C1).
func printable(s string) error {
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			return fmt.Errorf("has invalid UTF-8 at byte %d", i)
		case r < 0x20 || r >= 0x7f && r < 0xa0:
			return fmt.Errorf("has control character %U at byte %d", r, i)
		}
	}
	return nil
}

// MaxCorrelationID bounds a correlation id: every event of a request
// carries it.
const MaxCorrelationID = 200

// ValidateLabel checks a label a client attaches to the events it appends
// (the acting user, a correlation id): printable UTF-8, at most max bytes
// when max > 0. Empty is valid (none).
//
// Errors: EINVALID.
func ValidateLabel(what, v string, max int) error {
	if max > 0 && len(v) > max {
		return Errorf(EINVALID, "%s is longer than %d bytes", what, max)
	}
	if err := printable(v); err != nil {
		return Errorf(EINVALID, "%s %v", what, err)
	}
	return nil
}
