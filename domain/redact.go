package domain

import (
	"bytes"
	"encoding/json"
	"regexp"
)

// secretKey matches settings keys whose values are secrets.
var secretKey = regexp.MustCompile(`(?i)secret|passw|pass$|token|credential|api_?key|private`)

// Redact returns a settings document with every value under a secret-like
// key replaced, at any depth, for display; nil if doc is not JSON. Numbers are kept as written
// (UseNumber): settings may hold numbers beyond float64.
func Redact(doc []byte) any {
	var v any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil
	}
	return redactValue(v)
}

func redactValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if secretKey.MatchString(k) {
				t[k] = "[redacted]"
			} else {
				t[k] = redactValue(x)
			}
		}
	case []any:
		for i, x := range t {
			t[i] = redactValue(x)
		}
	}
	return v
}
