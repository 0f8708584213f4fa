package domain

import "encoding/json"

// NodeRef names a node in a summary.
type NodeRef struct {
	ID   string `json:"id"`
	Type string `json:"type,omitempty"`
	// Name is the node's name; a tab's label.
	Name string `json:"name,omitempty"`
}

// Summary is what a flows change did, node by node: what an audit shows.
type Summary struct {
	Added   []NodeRef `json:"added,omitempty"`
	Changed []NodeRef `json:"changed,omitempty"`
	Removed []NodeRef `json:"removed,omitempty"`
}

// IsEmpty reports whether no node was added, changed or removed.
func (s Summary) IsEmpty() bool {
	return len(s.Added) == 0 && len(s.Changed) == 0 && len(s.Removed) == 0
}

// Summarize describes p applied to before: an upserted node that was in
// before is changed, any other added; removed nodes are named as they were.
func Summarize(before *Flows, p FlowsPatch) Summary {
	var s Summary
	for _, n := range p.Upsert {
		ref := ref(n)
		if before.Has(n.ID) {
			s.Changed = append(s.Changed, ref)
		} else {
			s.Added = append(s.Added, ref)
		}
	}
	for _, id := range p.Remove {
		n, _ := before.Node(id)
		r := ref(n)
		r.ID = id
		s.Removed = append(s.Removed, r)
	}
	return s
}

// ref names n as a summary or diff shows it: by its name, and a tab by its
// label (what the editor shows on it), so a change to
// the tab "Acceptance" reads `tab Acceptance`, not its id.
func ref(n Node) NodeRef {
	r := NodeRef{ID: n.ID, Type: n.Type, Name: n.Name}
	if n.Type == "tab" {
		if l := tabLabel(n.Raw); l != "" {
			r.Name = l
		}
	}
	return r
}

// tabLabel reads a tab's "label". Tabs are few in any document, so parsing
// the one object here costs less than a slot in every node's scan.
func tabLabel(raw []byte) string {
	var t struct {
		Label any `json:"label"`
	}
	if json.Unmarshal(raw, &t) != nil {
		return ""
	}
	s, _ := t.Label.(string)
	return s
}
