package domain

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"sync"
)

// Node is one element of a flows document.
type Node struct {
	ID   string // the top-level "id" (unescaped)
	Type string // top-level "type" if it is a string, else ""
	Name string // top-level "name" if it is a string, else ""
	Z    string // top-level "z" (the tab or subflow it is on) if a string, else ""
	// Raw is the object's exact compact bytes. It must not be modified.
	Raw []byte
}

// Flows is a Node-RED flows document: an ordered array of node objects with
// unique ids, each kept byte for byte as received. A Flows is immutable and
// safe to share between goroutines; a nil *Flows is the empty document.
type Flows struct {
	nodes []Node
	index map[string]int
	size  int
	doc   []byte // the whole document when parsed, else nil
	input bool   // parsed by ParseFlowsInput's rules (ParseFlowsInputFrom reuses its nodes)

	builtOnce sync.Once
	built     []byte // the whole document built from the nodes
	shaOnce   sync.Once
	sha       string
	mids      [][]byte // hash states of doc (flows_hash.go), set with sha
}

// ParseFlows parses and validates a flows document: a JSON array of
// objects, each with a non-empty string "id", the ids unique. Insignificant
// whitespace is removed, key order and string escapes are kept, so the
// bytes of a document JSON.stringify wrote stay the same. The result refers
// to data, which must not be modified afterwards. It reads stored documents
// too, so it accepts what JSON.parse accepts; a document a client sends
// goes through ParseFlowsInput.
//
// Errors: EINVALID, naming the fault and the element's index or id.
func ParseFlows(data []byte) (*Flows, error) { return parseFlows(data, false) }

// ParseFlowsInput is ParseFlows with the rules for a document a client
// sends: its strings are valid UTF-8 without lone surrogate escapes (JSON
// has no way to keep those apart from U+FFFD everywhere they are read), and
// no node has a "credentials" property: Node-RED never sends credentials
// inside its flows, and credentials in the history would be clear text
// for ever. They go through a deploy's "credentials" or PUT credentials,
// encrypted.
//
// Errors: EINVALID, naming the fault and the node.
func ParseFlowsInput(data []byte) (*Flows, error) { return parseFlows(data, true) }

func parseFlows(data []byte, input bool) (*Flows, error) {
	if len(data) > math.MaxInt32 {
		return nil, Errorf(EINVALID, "flows: larger than 2 GiB")
	}
	s := &scanner{data: data, what: "flows"}
	s.skipWS()
	if s.pos >= len(data) || data[s.pos] != '[' {
		return nil, Errorf(EINVALID, "flows: not a JSON array")
	}
	start := s.pos
	s.ws = false // around the array it costs nothing
	// A client's document is usually the whole body, compact: its hash is
	// then the body's, computed on another core while this one scans.
	var sum <-chan docHash
	if input && len(data)-start >= hashAlongsideAbove && data[len(data)-1] == ']' {
		sum = hashAlongside(data[start:], nil, 0)
	}
	elems, err := s.nodes()
	if err != nil {
		return nil, err
	}
	doc, ws := data[start:s.pos:s.pos], s.ws
	s.skipWS()
	if s.pos != len(data) {
		return nil, s.syntaxError("data after the array")
	}
	if ws {
		// Rare (a pretty-printed flows.json): compact it, then scan again
		// so that the nodes' bytes are compact and contiguous.
		return parseFlows(compact(doc), input)
	}
	nodes := s.resolve(elems)
	if input {
		if err := s.inputError(elems, nodes); err != nil {
			return nil, err
		}
	}
	f, err := newFlows(nodes)
	if err != nil {
		return nil, err
	}
	f.doc, f.input = doc, input
	if sum != nil && len(doc) == len(data)-start {
		f.setHash(sum)
	}
	return f, nil
}

// hashAlongsideAbove is the size from which ParseFlowsInput hashes the
// document while it scans it: below it a goroutine costs more than it
// saves.
const hashAlongsideAbove = 64 << 10

// inputError returns what ParseFlowsInput refuses in a scanned document,
// naming the node.
func (s *scanner) inputError(elems []element, nodes []Node) error {
	if s.badText > 0 {
		off := int32(s.badText - 1)
		for i, e := range elems {
			if off >= e.start && off < e.end {
				return Errorf(EINVALID, "flows: node %q (element %d) has %s at byte %d of the node: strings must be valid UTF-8",
					nodes[i].ID, i, s.badWhat, off-e.start)
			}
		}
		return Errorf(EINVALID, "flows: %s at byte %d: strings must be valid UTF-8", s.badWhat, off)
	}
	if s.credsNode > 0 {
		return Errorf(EINVALID, "flows: node %s has a credentials property: credentials go through /deploy's \"credentials\" or PUT /credentials, encrypted",
			nodes[s.credsNode-1].ID)
	}
	return nil
}

// newFlows indexes nodes, refusing duplicate ids.
func newFlows(nodes []Node) (*Flows, error) {
	index := make(map[string]int, len(nodes))
	size := 1
	for i, n := range nodes {
		if j, dup := index[n.ID]; dup {
			return nil, Errorf(EINVALID, "flows: duplicate id %q at elements %d and %d", n.ID, j, i)
		}
		index[n.ID] = i
		size += len(n.Raw) + 1
	}
	return &Flows{nodes: nodes, index: index, size: max(size, 2)}, nil
}

// Len returns the number of nodes.
func (f *Flows) Len() int {
	if f == nil {
		return 0
	}
	return len(f.nodes)
}

// Nodes returns the nodes in order. The slice must not be modified.
func (f *Flows) Nodes() []Node {
	if f == nil {
		return nil
	}
	return f.nodes
}

// Node returns the node with the given id.
func (f *Flows) Node(id string) (Node, bool) {
	if f == nil {
		return Node{}, false
	}
	i, ok := f.index[id]
	if !ok {
		return Node{}, false
	}
	return f.nodes[i], true
}

// Has reports whether f has a node with the given id.
func (f *Flows) Has(id string) bool {
	if f == nil {
		return false
	}
	_, ok := f.index[id]
	return ok
}

// Bytes returns the document as JSON.stringify writes it:
// "[" + node bytes joined by "," + "]". It must not be modified.
func (f *Flows) Bytes() []byte {
	if f == nil {
		return []byte("[]")
	}
	if f.doc != nil {
		return f.doc
	}
	f.builtOnce.Do(func() {
		b := make([]byte, 0, f.size)
		b = append(b, '[')
		for i, n := range f.nodes {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, n.Raw...)
		}
		f.built = append(b, ']')
	})
	return f.built
}

// Size returns len(f.Bytes()).
func (f *Flows) Size() int {
	if f == nil {
		return 2
	}
	return f.size
}

// SHA256 returns the lowercase hex sha256 of Bytes(): the revision Node-RED
// computes as sha256(JSON.stringify(flows)).
func (f *Flows) SHA256() string {
	if f == nil {
		return emptyFlowsSHA
	}
	f.shaOnce.Do(func() {
		// Hash a patched document node by node rather than build it: it is
		// often checked and stored as a patch, never read whole.
		if f.doc != nil {
			d := hashDoc(f.doc, nil, 0)
			f.sha, f.mids = d.sum, d.mids
			return
		}
		h := sha256.New()
		h.Write([]byte{'['})
		for i, n := range f.nodes {
			if i > 0 {
				h.Write([]byte{','})
			}
			h.Write(n.Raw)
		}
		h.Write([]byte{']'})
		f.sha = hex.EncodeToString(h.Sum(nil))
	})
	return f.sha
}

// Equal reports whether f and g are the same document, byte for byte.
// Nodes that share their bytes (a patched document and the one it was
// patched from) compare at once, so it costs far less than hashing.
func (f *Flows) Equal(g *Flows) bool {
	if f.Len() != g.Len() {
		return false
	}
	gn := g.Nodes()
	for i, n := range f.Nodes() {
		if !bytes.Equal(n.Raw, gn[i].Raw) {
			return false
		}
	}
	return true
}

var emptyFlowsSHA = func() string {
	sum := sha256.Sum256([]byte("[]"))
	return hex.EncodeToString(sum[:])
}()
