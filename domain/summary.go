package domain

// NodeRef names a node in a summary.
type NodeRef struct {
	ID   string `json:"id"`
	Type string `json:"type,omitempty"`
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
		ref := NodeRef{ID: n.ID, Type: n.Type, Name: n.Name}
		if before.Has(n.ID) {
			s.Changed = append(s.Changed, ref)
		} else {
			s.Added = append(s.Added, ref)
		}
	}
	for _, id := range p.Remove {
		n, _ := before.Node(id)
		s.Removed = append(s.Removed, NodeRef{ID: id, Type: n.Type, Name: n.Name})
	}
	return s
}
