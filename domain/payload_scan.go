package domain

import "bytes"

// decodeFlowsPayload reads a flows payload the way FlowsPayload.MarshalJSON
// writes it, {"patch":{…}} or {"patch":{…},"credentials":…}, with the flows
// scanner alone: encoding/json would validate a megabyte's snapshot-sized
// patch three times before the scanner reads it once, and replay, verify
// and node history decode every such payload. done is false for any other
// shape (whitespace, another key order): the caller then decodes with
// encoding/json, which also words the errors.
func decodeFlowsPayload(data []byte) (p FlowsPayload, done bool, err error) {
	const head, creds = `{"patch":`, `,"credentials":`
	if !bytes.HasPrefix(data, []byte(head)) {
		return p, false, nil
	}
	// The nodes' bytes point into what is scanned: scan a copy, as
	// FlowsPatch.UnmarshalJSON does.
	data = bytes.Clone(data)
	s := &scanner{data: data, what: "flows payload"}
	s.pos = len(head)
	start := s.pos
	if s.value() != nil {
		return p, false, nil
	}
	end := s.pos
	if bytes.HasPrefix(data[s.pos:], []byte(creds)) {
		s.pos += len(creds)
		c := s.pos
		if s.value() != nil {
			return p, false, nil
		}
		p.Credentials = data[c:s.pos:s.pos]
	}
	if s.pos != len(data)-1 || data[s.pos] != '}' || s.ws || data[start] != '{' {
		return FlowsPayload{}, false, nil
	}
	patch, ws, err := scanPatch(data[start:end:end])
	if err != nil {
		return FlowsPayload{}, true, err
	}
	if ws {
		return FlowsPayload{}, false, nil
	}
	p.Patch = patch
	return p, true, nil
}
