package domain

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
)

// FlowsDiff is what changed between two flows documents, node by node: what
// an auditor reads to answer "what did this deploy change?".
type FlowsDiff struct {
	Added   []NodeRef    `json:"added"`   // in the new document's order
	Removed []NodeRef    `json:"removed"` // in the old document's order
	Changed []NodeChange `json:"changed"` // in the new document's order
}

// NodeChange is how one node changed: every top-level property whose value
// differs, with the moves between tabs, subflows and groups called out.
type NodeChange struct {
	NodeRef // the new id, type and name; the name falls back to the old one
	// PositionOnly reports that only the node's place in the editor (x, y,
	// w, h) changed: a change that does nothing at runtime.
	PositionOnly bool `json:"positionOnly,omitempty"`
	// Moved is set when "z" changed: the node moved to another tab or
	// subflow.
	Moved *Move `json:"moved,omitempty"`
	// Group is set when "g" changed: the node joined, left or changed group.
	Group *Move `json:"group,omitempty"`
	// Properties holds every changed top-level property, sorted by name,
	// including x, y, z and g. It is empty, not nil, when the node's bytes
	// differ only in key order or string escapes.
	Properties []PropertyChange `json:"properties"`
}

// Move is a change of the tab, subflow or group a node belongs to; "" is
// none.
type Move struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// PropertyChange is one top-level property of a node that changed. Old and
// New are compact JSON values.
type PropertyChange struct {
	Name string          `json:"name"`
	Old  json.RawMessage `json:"old,omitempty"` // absent when the property was added
	New  json.RawMessage `json:"new,omitempty"` // absent when it was removed
	// Unified is a unified line diff of old to new, set for code-like
	// strings: a function's code, templates, descriptions and any other
	// string with more than one line.
	Unified string `json:"unified,omitempty"`
}

// codeProperties are the string properties diffed line by line even when
// they hold a single line.
var codeProperties = map[string]bool{
	"func": true, "initialize": true, "finalize": true,
	"template": true, "format": true, "info": true,
}

// positionProperties are where a node is drawn in the editor.
var positionProperties = map[string]bool{"x": true, "y": true, "w": true, "h": true}

// DiffFlowsNodes returns what changed from a to b, comparing nodes by id.
// Either may be nil (the empty document). Only changed nodes are decoded, so
// a small change to a large document is cheap.
func DiffFlowsNodes(a, b *Flows) FlowsDiff {
	d := FlowsDiff{Added: []NodeRef{}, Removed: []NodeRef{}, Changed: []NodeChange{}}
	for _, n := range b.Nodes() {
		old, ok := a.Node(n.ID)
		switch {
		case !ok:
			d.Added = append(d.Added, ref(n))
		case !bytes.Equal(old.Raw, n.Raw):
			d.Changed = append(d.Changed, NodeDiff(old, n))
		}
	}
	for _, n := range a.Nodes() {
		if !b.Has(n.ID) {
			d.Removed = append(d.Removed, ref(n))
		}
	}
	return d
}

// WithoutPositionOnly returns d without the nodes that were only moved
// around in the editor.
func (d FlowsDiff) WithoutPositionOnly() FlowsDiff {
	changed := make([]NodeChange, 0, len(d.Changed))
	for _, c := range d.Changed {
		if !c.PositionOnly {
			changed = append(changed, c)
		}
	}
	d.Changed = changed
	return d
}

// IsEmpty reports whether no node was added, removed or changed.
func (d FlowsDiff) IsEmpty() bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Changed) == 0
}

// NodeDiff returns how node a became node b, property by property. Values
// are compared ignoring insignificant whitespace. A zero a or b stands for a
// node that did not exist: all of the other's properties are added or
// removed.
func NodeDiff(a, b Node) NodeChange {
	c := NodeChange{NodeRef: ref(b), Properties: []PropertyChange{}}
	if c.ID == "" {
		c.ID = a.ID
	}
	if c.Type == "" {
		c.Type = a.Type
	}
	if c.Name == "" {
		c.Name = a.Name
	}
	olds, news := properties(a.Raw), properties(b.Raw)
	names := make([]string, 0, len(news))
	for name := range olds {
		names = append(names, name)
	}
	for name := range news {
		if _, ok := olds[name]; !ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)

	for _, name := range names {
		before, after := olds[name], news[name]
		if bytes.Equal(before, after) {
			continue
		}
		p := PropertyChange{Name: name, Old: before, New: after}
		oldText, oldIsString := decodeString(before)
		newText, newIsString := decodeString(after)
		if oldIsString && newIsString && (codeProperties[name] ||
			strings.Contains(oldText, "\n") || strings.Contains(newText, "\n")) {
			p.Unified = UnifiedDiff(oldText, newText, "a/"+c.ID+"/"+name, "b/"+c.ID+"/"+name, 3)
		}
		switch name {
		case "z":
			c.Moved = &Move{From: oldText, To: newText}
		case "g":
			c.Group = &Move{From: oldText, To: newText}
		}
		c.Properties = append(c.Properties, p)
	}

	c.PositionOnly = len(c.Properties) > 0
	for _, p := range c.Properties {
		if !positionProperties[p.Name] {
			c.PositionOnly = false
		}
	}
	return c
}

// properties decodes a node's top-level properties, each value compact.
// Invalid bytes (a node not made by ParseFlows) give no properties.
func properties(raw []byte) map[string]json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil
	}
	var props map[string]json.RawMessage
	if err := json.Unmarshal(buf.Bytes(), &props); err != nil {
		return nil
	}
	return props
}

// decodeString returns the string a JSON value holds, and false if it is
// not a string (or absent).
func decodeString(v json.RawMessage) (string, bool) {
	if len(v) == 0 || v[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false
	}
	return s, true
}

// ApplyAll returns f with patches applied in order, as applying them one by
// one would, but faster on a long run: consecutive patches that only upsert
// (no removes, no new order) are merged and applied as one patch, since
// each Apply copies the whole document (a diff of a 10 MB document a
// hundred deploys from its snapshot applied a hundred copies). Merging
// keeps Apply's result: nodes already in the document are edited in place
// with their last version, new nodes are appended in the order they first
// came, with their last version.
//
// Errors: those of Apply, for the first patch that does not fit.
func (f *Flows) ApplyAll(patches []FlowsPatch) (*Flows, error) {
	var run FlowsPatch
	at := map[string]int{} // run's upserts by id
	flush := func() error {
		if len(run.Upsert) == 0 {
			return nil
		}
		var err error
		f, err = f.Apply(run)
		run, at = FlowsPatch{}, map[string]int{}
		return err
	}
	for _, p := range patches {
		if len(p.Remove) > 0 || p.Order != nil {
			if err := flush(); err != nil {
				return nil, err
			}
			var err error
			if f, err = f.Apply(p); err != nil {
				return nil, err
			}
			continue
		}
		seen := make(map[string]bool, len(p.Upsert))
		for i, n := range p.Upsert {
			// Apply's own checks of one patch, which merging would hide.
			if n.ID == "" {
				return nil, Errorf(EINVALID, "flows patch: upsert %d has no id", i)
			}
			if seen[n.ID] {
				return nil, Errorf(EINVALID, "flows patch: upserts %q twice", n.ID)
			}
			seen[n.ID] = true
			if j, ok := at[n.ID]; ok {
				run.Upsert[j] = n
			} else {
				at[n.ID] = len(run.Upsert)
				run.Upsert = append(run.Upsert, n)
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return f, nil
}
