package domain

import (
	"bytes"
	"math"
)

// FlowsPatch turns one flows document into the next: the nodes added or
// changed (whole, byte-exact), the ids removed, and the full id order only
// when applying those would not already give it. A one-node deploy costs
// one node's bytes, not the document's.
type FlowsPatch struct {
	// Upsert holds the nodes added or changed, in their order in the new
	// document.
	Upsert []Node
	// Remove holds the ids removed.
	Remove []string
	// Order is the new document's id order, nil when it is what applying
	// Upsert and Remove gives: the remaining nodes in place, new ones
	// appended in Upsert's order.
	Order []string
}

// IsEmpty reports whether p changes nothing.
func (p FlowsPatch) IsEmpty() bool {
	return len(p.Upsert) == 0 && len(p.Remove) == 0 && p.Order == nil
}

// Size returns the length of MarshalJSON's encoding of p, exact unless ids
// need escapes.
func (p FlowsPatch) Size() int {
	n := len(`{"u":[]}`)
	for i, u := range p.Upsert {
		n += len(u.Raw) + min(i, 1)
	}
	for _, ids := range [][]string{p.Remove, p.Order} {
		if len(ids) > 0 {
			n += len(`,"r":[]`) + len(ids) - 1
			for _, id := range ids {
				n += len(id) + 2
			}
		}
	}
	return n
}

// DiffFlows returns the patch that turns a into b: a.Apply(DiffFlows(a, b))
// is b, byte for byte. Either may be nil (the empty document).
func DiffFlows(a, b *Flows) FlowsPatch {
	var p FlowsPatch
	an, bn := a.Nodes(), b.Nodes()
	// A deploy mostly edits nodes in place: compare position by position
	// and look ids up only where the two documents differ in shape.
	same := 0
	for i, n := range bn {
		var old Node
		var ok bool
		if i < len(an) && an[i].ID == n.ID {
			old, ok = an[i], true
			same++
		} else {
			old, ok = a.Node(n.ID)
		}
		if !ok || !bytes.Equal(old.Raw, n.Raw) {
			p.Upsert = append(p.Upsert, n)
		}
	}
	if same == len(an) && same == len(bn) {
		return p
	}
	for _, n := range an {
		if !b.Has(n.ID) {
			p.Remove = append(p.Remove, n.ID)
		}
	}
	if !keepsOrder(a, b) {
		p.Order = make([]string, len(bn))
		for i, n := range bn {
			p.Order[i] = n.ID
		}
	}
	return p
}

// keepsOrder reports whether Apply's default order (a's remaining nodes in
// place, then the new ones in b's order) is b's order.
func keepsOrder(a, b *Flows) bool {
	bn := b.Nodes()
	j := 0
	for _, n := range a.Nodes() {
		if !b.Has(n.ID) {
			continue
		}
		if bn[j].ID != n.ID {
			return false
		}
		j++
	}
	for _, n := range bn[j:] {
		if a.Has(n.ID) {
			return false
		}
	}
	return true
}

// Apply returns the document p makes of f: f's nodes without the removed
// ones, upserted nodes replacing those with their id in place and the others
// appended, then reordered to p.Order if it is set. f is unchanged; the
// result shares node bytes with f and p. The upserted nodes are trusted to
// be what DiffFlows or UnmarshalJSON made: valid objects with their ids.
//
// Errors: EINVALID when p does not fit f: it removes an id f lacks or
// removes one twice, upserts an empty or repeated id or one it removes, or
// its order is not a permutation of the result's ids.
func (f *Flows) Apply(p FlowsPatch) (*Flows, error) {
	if p.IsEmpty() {
		if f == nil {
			return newFlows(nil)
		}
		return f, nil
	}
	removed := make(map[string]bool, len(p.Remove))
	for _, id := range p.Remove {
		if removed[id] {
			return nil, Errorf(EINVALID, "flows patch: removes %q twice", id)
		}
		if !f.Has(id) {
			return nil, Errorf(EINVALID, "flows patch: removes %q, which is not in the document", id)
		}
		removed[id] = true
	}
	upsert := make(map[string]int, len(p.Upsert))
	for i, n := range p.Upsert {
		if n.ID == "" {
			return nil, Errorf(EINVALID, "flows patch: upsert %d has no id", i)
		}
		if _, dup := upsert[n.ID]; dup {
			return nil, Errorf(EINVALID, "flows patch: upserts %q twice", n.ID)
		}
		if removed[n.ID] {
			return nil, Errorf(EINVALID, "flows patch: both removes and upserts %q", n.ID)
		}
		upsert[n.ID] = i
	}
	nodes := make([]Node, 0, f.Len()+len(p.Upsert)-len(p.Remove))
	placed := 0
	for _, n := range f.Nodes() {
		if removed[n.ID] {
			continue
		}
		if i, ok := upsert[n.ID]; ok {
			n = p.Upsert[i]
			placed++
		}
		nodes = append(nodes, n)
	}
	if f != nil && placed == len(p.Upsert) && len(p.Remove) == 0 && p.Order == nil {
		// Only edits in place: the ids and their positions are f's.
		return &Flows{nodes: nodes, index: f.index, size: docSize(nodes)}, nil
	}
	for _, n := range p.Upsert {
		if !f.Has(n.ID) {
			nodes = append(nodes, n)
		}
	}
	if p.Order != nil {
		return reorder(nodes, p.Order)
	}
	return newFlows(nodes)
}

func docSize(nodes []Node) int {
	n := 1
	for _, nd := range nodes {
		n += len(nd.Raw) + 1
	}
	return max(n, 2)
}

// reorder returns the document of nodes (whose ids are unique) in the order
// of ids, which must name each of them once.
func reorder(nodes []Node, ids []string) (*Flows, error) {
	if len(ids) != len(nodes) {
		return nil, Errorf(EINVALID, "flows patch: order has %d ids for %d nodes", len(ids), len(nodes))
	}
	index := make(map[string]int, len(ids))
	for i, id := range ids {
		if _, dup := index[id]; dup {
			return nil, Errorf(EINVALID, "flows patch: order names %q twice", id)
		}
		index[id] = i
	}
	ordered := make([]Node, len(nodes))
	for _, n := range nodes {
		i, ok := index[n.ID]
		if !ok {
			return nil, Errorf(EINVALID, "flows patch: order lacks %q", n.ID)
		}
		ordered[i] = n
	}
	return &Flows{nodes: ordered, index: index, size: docSize(ordered)}, nil
}

// MarshalJSON encodes p as {"u":[nodes…],"r":[ids…],"o":[ids…]}, leaving
// out empty "r" and "o". Node bytes are written as they are: encoding/json
// would HTML-escape them, and the document's hash would change.
func (p FlowsPatch) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, p.Size())
	b = append(b, `{"u":[`...)
	for i, n := range p.Upsert {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, n.Raw...)
	}
	b = append(b, ']')
	if len(p.Remove) > 0 {
		b = appendIDs(append(b, `,"r":`...), p.Remove)
	}
	if len(p.Order) > 0 {
		b = appendIDs(append(b, `,"o":`...), p.Order)
	}
	return append(b, '}'), nil
}

func appendIDs(b []byte, ids []string) []byte {
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendQuoted(b, id)
	}
	return append(b, ']')
}

// UnmarshalJSON decodes what MarshalJSON wrote, node bytes exactly (with
// insignificant whitespace removed). It validates like ParseFlows, except
// that ids may repeat: Apply refuses that.
//
// Errors: EINVALID for anything but an object with "u" an array of node
// objects and "r" and "o" arrays of strings.
func (p *FlowsPatch) UnmarshalJSON(data []byte) error {
	// The nodes' bytes point into what is scanned, and encoding/json may
	// reuse data once this returns: scan a copy.
	q, ws, err := scanPatch(bytes.Clone(data))
	if err == nil && ws {
		q, _, err = scanPatch(compact(data))
	}
	if err != nil {
		return err
	}
	*p = q
	return nil
}

// scanPatch decodes a patch and reports whether its nodes had whitespace.
func scanPatch(data []byte) (FlowsPatch, bool, error) {
	var p FlowsPatch
	if len(data) > math.MaxInt32 {
		return p, false, Errorf(EINVALID, "flows patch: larger than 2 GiB")
	}
	s := &scanner{data: data, what: "flows patch"}
	s.skipWS()
	if s.pos >= len(data) || data[s.pos] != '{' {
		return p, false, Errorf(EINVALID, "flows patch: not a JSON object")
	}
	s.pos++
	s.depth++
	ws := false
	for first := true; ; first = false {
		s.skipWS()
		if s.pos < len(data) && data[s.pos] == '}' && first {
			s.pos++
			break
		}
		if s.pos >= len(data) || data[s.pos] != '"' {
			return p, false, s.syntaxError("expected a string key")
		}
		key, err := s.string()
		if err != nil {
			return p, false, err
		}
		s.skipWS()
		if s.pos >= len(data) || data[s.pos] != ':' {
			return p, false, s.syntaxError("expected ':' after a key")
		}
		s.pos++
		s.skipWS()
		switch key {
		case "u":
			if s.pos >= len(data) || data[s.pos] != '[' {
				return p, false, Errorf(EINVALID, "flows patch: \"u\" is not an array")
			}
			s.ws = false
			elems, err := s.nodes()
			if err != nil {
				return p, false, err
			}
			ws = s.ws
			p.Upsert = nil
			if len(elems) > 0 {
				p.Upsert = s.resolve(elems)
			}
		case "r":
			if p.Remove, err = s.ids(key); err != nil {
				return p, false, err
			}
		case "o":
			if p.Order, err = s.ids(key); err != nil {
				return p, false, err
			}
		default:
			return p, false, Errorf(EINVALID, "flows patch: unknown key %q", key)
		}
		more, err := s.after('}', "object")
		if err != nil {
			return p, false, err
		}
		if !more {
			break
		}
	}
	s.skipWS()
	if s.pos != len(data) {
		return p, false, s.syntaxError("data after the patch")
	}
	return p, ws, nil
}

// ids scans an array of strings at s.pos.
func (s *scanner) ids(key string) ([]string, error) {
	if s.pos >= len(s.data) || s.data[s.pos] != '[' {
		return nil, Errorf(EINVALID, "flows patch: %q is not an array of ids", key)
	}
	s.pos++
	s.depth++
	var ids []string
	for {
		s.skipWS()
		if s.pos < len(s.data) && s.data[s.pos] == ']' && len(ids) == 0 {
			s.pos++
			return ids, nil
		}
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return nil, Errorf(EINVALID, "flows patch: %q is not an array of ids", key)
		}
		id, err := s.string()
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
		if more, err := s.after(']', "array"); err != nil || !more {
			return ids, err
		}
	}
}

// string scans a string at s.pos (a '"') and returns its value.
func (s *scanner) string() (string, error) {
	start := s.pos + 1
	escaped, err := s.str()
	if err != nil {
		return "", err
	}
	raw := s.data[start : s.pos-1]
	if escaped {
		return string(appendUnescaped(nil, raw)), nil
	}
	return string(raw), nil
}
