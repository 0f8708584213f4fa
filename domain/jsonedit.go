package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// Editing one property of a node while keeping every other byte: the
// promotion merge (envmerge.go) replaces env arrays and overlay properties
// inside nodes whose other properties must stay exactly as the source sent
// them, key order and escapes included.

// member is one property of a JSON object: its key as written (quotes
// included) and its compact value.
type member struct {
	key   string // unescaped
	raw   []byte // the key as written, quoted
	value []byte
}

// objectMembers splits a compact JSON object into its members, in order.
//
// Errors: a plain error when obj is not a JSON object.
func objectMembers(obj []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var out []member
	for dec.More() {
		start := dec.InputOffset()
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := t.(string)
		rawKey := bytes.TrimLeft(obj[start:dec.InputOffset()], " \t\r\n,")
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, member{key: key, raw: bytes.Clone(rawKey), value: bytes.TrimSpace(v)})
	}
	return out, nil
}

// joinMembers writes members back as a compact object.
func joinMembers(ms []member) []byte {
	b := []byte{'{'}
	for i, m := range ms {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, m.raw...)
		b = append(b, ':')
		b = append(b, m.value...)
	}
	return append(b, '}')
}

// arrayElements splits a compact JSON array into its elements.
func arrayElements(arr []byte) ([][]byte, error) {
	var elems []json.RawMessage
	if err := json.Unmarshal(arr, &elems); err != nil {
		return nil, err
	}
	out := make([][]byte, len(elems))
	for i, e := range elems {
		out[i] = bytes.TrimSpace(e)
	}
	return out, nil
}

// joinElements writes elements back as a compact array.
func joinElements(elems [][]byte) []byte {
	return append(append([]byte{'['}, bytes.Join(elems, []byte{','})...), ']')
}

// splitPath splits a dotted property path ("rules.0.to").
func splitPath(p string) []string { return strings.Split(p, ".") }

// valueAt returns the value at path inside v (an object or array), and
// false when there is none.
func valueAt(v []byte, path []string) ([]byte, bool) {
	if len(path) == 0 {
		return v, true
	}
	switch firstByte(v) {
	case '{':
		ms, err := objectMembers(v)
		if err != nil {
			return nil, false
		}
		for _, m := range ms {
			if m.key == path[0] {
				return valueAt(m.value, path[1:])
			}
		}
	case '[':
		i, err := strconv.Atoi(path[0])
		elems, err2 := arrayElements(v)
		if err != nil || err2 != nil || i < 0 || i >= len(elems) {
			return nil, false
		}
		return valueAt(elems[i], path[1:])
	}
	return nil, false
}

// withValueAt returns v with the value at path set to val, or removed when
// val is nil. A path whose parents do not exist is left as it is (there is
// nothing to keep there), and so is v when it is not an object or array.
func withValueAt(v []byte, path []string, val []byte) []byte {
	switch firstByte(v) {
	case '{':
		ms, err := objectMembers(v)
		if err != nil {
			return v
		}
		for i, m := range ms {
			if m.key != path[0] {
				continue
			}
			switch {
			case len(path) > 1:
				ms[i].value = withValueAt(m.value, path[1:], val)
			case val == nil:
				ms = append(ms[:i], ms[i+1:]...)
			default:
				ms[i].value = val
			}
			return joinMembers(ms)
		}
		if len(path) == 1 && val != nil {
			key, _ := json.Marshal(path[0])
			return joinMembers(append(ms, member{key: path[0], raw: key, value: val}))
		}
	case '[':
		elems, err := arrayElements(v)
		i, err2 := strconv.Atoi(path[0])
		if err != nil || err2 != nil || i < 0 || i >= len(elems) {
			return v
		}
		switch {
		case len(path) > 1:
			elems[i] = withValueAt(elems[i], path[1:], val)
		case val == nil:
			elems = append(elems[:i], elems[i+1:]...)
		default:
			elems[i] = val
		}
		return joinElements(elems)
	}
	return v
}

func firstByte(v []byte) byte {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return 0
	}
	return v[0]
}
