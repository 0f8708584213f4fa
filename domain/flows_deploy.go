package domain

import (
	"bytes"
	"strings"
)

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
	b, _, done = SplitDeployBodyFrom(body, nil)
	return b, done
}

// SplitDeployBodyFrom is SplitDeployBody for a deploy whose flows are
// likely an edit of prev (see ParseFlowsInputFrom): it finds where they
// end by where prev's last bytes are, and parses them as that edit, so
// that a megabyte of flows is compared rather than scanned. flows is that
// parse (what ParseFlowsInput(b.Flows) answers), nil when it was not made:
// then parse b.Flows.
func SplitDeployBodyFrom(body []byte, prev *Flows) (b DeployBody, flows *Flows, done bool) {
	s := &scanner{data: body, what: "deploy"}
	s.skipWS()
	if s.pos >= len(body) || body[s.pos] != '{' {
		return b, nil, false
	}
	s.pos++
	s.depth++
	s.skipWS()
	if s.pos < len(body) && body[s.pos] == '}' {
		s.pos++
		b, done = s.deployEnd(b)
		return b, nil, done
	}
	for {
		s.skipWS()
		if s.pos >= len(body) || body[s.pos] != '"' {
			return b, nil, false
		}
		k := s.pos
		escaped, err := s.str()
		if err != nil || escaped {
			return b, nil, false
		}
		key := string(body[k+1 : s.pos-1])
		s.skipWS()
		if s.pos >= len(body) || body[s.pos] != ':' {
			return b, nil, false
		}
		s.pos++
		s.skipWS()
		v := s.pos
		var edit *Flows
		if key == "flows" {
			if edit = flowsEditAt(body, v, prev); edit != nil {
				s.pos = v + len(edit.doc)
			}
		}
		if edit == nil && s.value() != nil {
			return b, nil, false
		}
		val := body[v:s.pos:s.pos]
		switch key {
		case "flows":
			b.Flows, flows = val, edit
		case "credentials":
			b.Credentials = val
		case "user":
			b.User = val
		default:
			if strings.EqualFold(key, "flows") || strings.EqualFold(key, "credentials") || strings.EqualFold(key, "user") {
				return DeployBody{}, nil, false
			}
		}
		more, err := s.after('}', "object")
		if err != nil {
			return DeployBody{}, nil, false
		}
		if !more {
			if b, done = s.deployEnd(b); !done {
				flows = nil
			}
			return b, flows, done
		}
	}
}

// flowsEditAt parses the flows array at body[at:] as an edit of prev, its
// end guessed as the last place prev's last bytes are: a parse that
// succeeds proves the guess (a valid array ends where its brackets do).
// It returns nil when the guess or the edit parse fails.
func flowsEditAt(body []byte, at int, prev *Flows) *Flows {
	if prev == nil || prev.doc == nil || at >= len(body) || body[at] != '[' {
		return nil
	}
	last := prev.doc[len(prev.doc)-min(64, len(prev.doc)):]
	i := bytes.LastIndex(body[at:], last)
	if i < 0 {
		return nil
	}
	return parseEdit(body[at:at+i+len(last):at+i+len(last)], prev)
}

// deployEnd accepts b if only whitespace follows the body's object.
func (s *scanner) deployEnd(b DeployBody) (DeployBody, bool) {
	s.skipWS()
	if s.pos != len(s.data) {
		return DeployBody{}, false
	}
	return b, true
}
