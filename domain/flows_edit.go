package domain

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// ParseFlowsInputFrom is ParseFlowsInput for a document that is likely an
// edit of prev, a document ParseFlowsInput returned (the head a deploy
// changes): it answers exactly what ParseFlowsInput(data) answers, but the
// nodes before and after the part that differs from prev are compared with
// prev's, not scanned again. A deploy changes a few nodes of a document of
// thousands, and comparing runs at memory speed where scanning costs about
// a millisecond a megabyte. Bytes equal to those of prev's nodes, at the
// same place among top-level elements, are those nodes: valid by the same
// rules, with the same properties. Anything else (no usable prev, a
// difference spread over the whole document, whitespace, any error) is
// parsed in full, so the errors are ParseFlowsInput's.
func ParseFlowsInputFrom(data []byte, prev *Flows) (*Flows, error) {
	if f := parseEdit(data, prev); f != nil {
		return f, nil
	}
	return ParseFlowsInput(data)
}

// parseEdit parses data as an edit of prev, or returns nil when it cannot
// tell it is valid without a full parse.
func parseEdit(data []byte, prev *Flows) *Flows {
	if prev == nil || !prev.input || prev.doc == nil || len(prev.nodes) == 0 ||
		len(data) < hashAlongsideAbove || data[0] != '[' || data[len(data)-1] != ']' {
		return nil
	}
	old := prev.doc
	pre := commonPrefix(data, old)
	suf := commonSuffix(data[pre:], old[pre:])
	if pre+suf < len(data)/2 {
		return nil // mostly new: the full parse scans it once
	}
	prev.SHA256() // known already: its hash states are set
	sum := hashAlongside(data, prev.mids, pre)
	delta := len(data) - len(old)

	// The nodes wholly inside the common prefix are prev's.
	nodes := make([]Node, 0, len(prev.nodes)+8)
	off, k := 1, 0 // off: where node k starts, in both documents
	for ; k < len(prev.nodes) && off+len(prev.nodes[k].Raw) <= pre; k++ {
		n := prev.nodes[k]
		n.Raw = data[off : off+len(n.Raw) : off+len(n.Raw)]
		nodes = append(nodes, n)
		off += len(n.Raw) + 1
	}
	s := &scanner{data: data, what: "flows", depth: 1, pos: 1}
	if k > 0 {
		s.pos = off - 1 // after node k-1: a ',' or the ']'
	}
	// Scan elements from there until one starts, in the common suffix, where
	// one of prev's started: from there on the rest is prev's.
	tail := len(data) - suf
	var elems []element
	j, oj := k, off // prev's node j starts at oj
	for first := k == 0; ; first = false {
		if !first {
			more, err := s.after(']', "array")
			if err != nil || s.ws {
				return nil
			}
			if !more {
				break
			}
		}
		if s.pos >= tail {
			for o := s.pos - delta; j < len(prev.nodes) && oj < o; j++ {
				oj += len(prev.nodes[j].Raw) + 1
			}
			if j < len(prev.nodes) && oj == s.pos-delta {
				for ; j < len(prev.nodes); j++ {
					n := prev.nodes[j]
					n.Raw = data[oj+delta : oj+delta+len(n.Raw) : oj+delta+len(n.Raw)]
					oj += len(n.Raw) + 1
					elems = append(elems, element{start: -1})
					nodes = append(nodes, n)
				}
				s.pos = len(data)
				break
			}
		}
		if s.pos >= len(data) || data[s.pos] != '{' {
			return nil
		}
		e := element{start: int32(s.pos)}
		if s.object(&e.props) != nil || s.ws || s.sawCreds || s.badText != 0 {
			return nil
		}
		if id := e.props[propID]; !id.set || !id.str || id.off == id.end {
			return nil
		}
		e.end = int32(s.pos)
		elems = append(elems, e)
		nodes = append(nodes, Node{}) // resolved below
	}
	if s.pos != len(data) {
		return nil
	}
	// Resolve the scanned elements into their places.
	var scanned []element
	for _, e := range elems {
		if e.start >= 0 {
			scanned = append(scanned, e)
		}
	}
	resolved := s.resolve(scanned)
	for i, r := 0, 0; i < len(elems); i++ {
		if elems[i].start >= 0 {
			nodes[k+i] = resolved[r]
			r++
		}
	}
	f, err := newFlows(nodes)
	if err != nil {
		return nil
	}
	f.doc, f.input = data, true
	f.setHash(sum)
	return f
}

// commonPrefix returns the length of the longest common prefix of a and
// b: a block at a time (bytes.Equal is vectorised), then eight bytes at a
// time in the block that differs.
func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	a, b = a[:n], b[:n]
	i := 0
	for i+compareBlock <= n && bytes.Equal(a[i:i+compareBlock], b[i:i+compareBlock]) {
		i += compareBlock
	}
	for ; i+8 <= n; i += 8 {
		if x := binary.LittleEndian.Uint64(a[i:i+8]) ^ binary.LittleEndian.Uint64(b[i:i+8]); x != 0 {
			return i + bits.TrailingZeros64(x)>>3
		}
	}
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

// commonSuffix returns the length of the longest common suffix of a and b,
// as commonPrefix does from the end.
func commonSuffix(a, b []byte) int {
	n := min(len(a), len(b))
	a, b = a[len(a)-n:], b[len(b)-n:]
	i := n // a[i:] == b[i:]
	for i >= compareBlock && bytes.Equal(a[i-compareBlock:i], b[i-compareBlock:i]) {
		i -= compareBlock
	}
	for ; i >= 8; i -= 8 {
		if x := binary.LittleEndian.Uint64(a[i-8:i]) ^ binary.LittleEndian.Uint64(b[i-8:i]); x != 0 {
			return n - i + bits.LeadingZeros64(x)>>3
		}
	}
	for i > 0 && a[i-1] == b[i-1] {
		i--
	}
	return n - i
}

// compareBlock is what commonPrefix and commonSuffix compare at once.
const compareBlock = 256
