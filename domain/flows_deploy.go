package domain

import "strings"

// DeployBody is the parts of a deploy's body, {"flows": […],
// "credentials": {…}, "user": "…"}: each member's value as sent (nil when
// absent), for the parsers of each part.
type DeployBody struct {
	Flows, Credentials, User []byte
}

// SplitDeployBody splits a deploy's body with the flows scanner, which
// reads a megabyte in a fraction of encoding/json's time (json.Unmarshal
// validates the whole body, then decodes it: two passes before the flows
// are even scanned). It answers what json.Unmarshal into a struct with
// those three fields would: the last of repeated members wins, others are
// ignored. done is false for what it leaves to encoding/json, which also
// words the errors: invalid JSON, a body that is not an object, and keys
// with escapes or that only match a field ignoring case.
func SplitDeployBody(body []byte) (b DeployBody, done bool) {
	s := &scanner{data: body, what: "deploy"}
	s.skipWS()
	if s.pos >= len(body) || body[s.pos] != '{' {
		return b, false
	}
	s.pos++
	s.depth++
	s.skipWS()
	if s.pos < len(body) && body[s.pos] == '}' {
		s.pos++
		return s.deployEnd(b)
	}
	for {
		s.skipWS()
		if s.pos >= len(body) || body[s.pos] != '"' {
			return b, false
		}
		k := s.pos
		escaped, err := s.str()
		if err != nil || escaped {
			return b, false
		}
		key := string(body[k+1 : s.pos-1])
		s.skipWS()
		if s.pos >= len(body) || body[s.pos] != ':' {
			return b, false
		}
		s.pos++
		s.skipWS()
		v := s.pos
		if s.value() != nil {
			return b, false
		}
		val := body[v:s.pos:s.pos]
		switch key {
		case "flows":
			b.Flows = val
		case "credentials":
			b.Credentials = val
		case "user":
			b.User = val
		default:
			if strings.EqualFold(key, "flows") || strings.EqualFold(key, "credentials") || strings.EqualFold(key, "user") {
				return DeployBody{}, false
			}
		}
		more, err := s.after('}', "object")
		if err != nil {
			return DeployBody{}, false
		}
		if !more {
			return s.deployEnd(b)
		}
	}
}

// deployEnd accepts b if only whitespace follows the body's object.
func (s *scanner) deployEnd(b DeployBody) (DeployBody, bool) {
	s.skipWS()
	if s.pos != len(s.data) {
		return DeployBody{}, false
	}
	return b, true
}
