package domain

import (
	"bytes"
	"encoding/json"
	"slices"
)

// The promotion merge: what a target namespace's flows become when a
// source's flows are promoted onto them (docs/promotion.md, "the merge
// rule"). The source decides which nodes exist, in which order, and all of
// their properties but two kinds: the entries of Node-RED's env arrays
// (tab, group, subflow, subflow instance, global-config) that the target
// already has, and what the target's overlay declares its own.

// EnvKey names one env entry of one node, for the preview.
type EnvKey struct {
	Node string `json:"node"`
	Type string `json:"type"`
	Name string `json:"name,omitempty"`
	Key  string `json:"key"`
}

// Merged is the result of MergePromotion.
type Merged struct {
	// Flows is the target's flows after the promotion.
	Flows *Flows
	// EnvNew are keys that arrive with the source's values.
	EnvNew []EnvKey
	// EnvOverlaid are keys of the source the overlay kept out.
	EnvOverlaid []EnvKey
	// OverlayKept are overlay properties whose target value was kept over
	// a different source value.
	OverlayKept []OverlayProperty
}

// envProperty is the node property Node-RED keeps environment entries in.
const envProperty = "env"

// MergePromotion merges source's flows onto target's (either may be nil:
// empty) under overlay o.
//
// Errors: EINVALID when the merged document is not a valid flows document
// (it cannot be, short of a bug: every node keeps its id).
func MergePromotion(source, target *Flows, o Overlay) (Merged, error) {
	var out Merged
	props := map[string][]string{}
	for _, p := range o.Properties {
		props[p.Node] = append(props[p.Node], p.Path)
	}
	nodes := make([]Node, 0, source.Len())
	edited := false
	for _, sn := range source.Nodes() {
		tn, inTarget := target.Node(sn.ID)
		raw := sn.Raw
		var tgt []byte
		if inTarget {
			tgt = tn.Raw
		}
		if !mayHaveEnv(raw) && !mayHaveEnv(tgt) && len(props[sn.ID]) == 0 {
			nodes = append(nodes, sn) // nothing of the target's to keep
			continue
		}
		raw, added, overlaid := mergeEnv(raw, tgt, o.Env)
		name := ref(sn).Name // a tab by its label, as summaries name it
		for _, k := range added {
			out.EnvNew = append(out.EnvNew, EnvKey{Node: sn.ID, Type: sn.Type, Name: name, Key: k})
		}
		for _, k := range overlaid {
			out.EnvOverlaid = append(out.EnvOverlaid, EnvKey{Node: sn.ID, Type: sn.Type, Name: name, Key: k})
		}
		if inTarget {
			for _, p := range props[sn.ID] {
				path := splitPath(p)
				tv, tok := valueAt(tn.Raw, path)
				sv, sok := valueAt(raw, path)
				if tok == sok && (!tok || bytes.Equal(tv, sv)) {
					continue
				}
				if !tok {
					tv = nil
				}
				raw = withValueAt(raw, path, tv)
				out.OverlayKept = append(out.OverlayKept, OverlayProperty{Node: sn.ID, Path: p})
			}
		}
		n := sn
		if !bytes.Equal(raw, sn.Raw) {
			n.Raw, edited = raw, true
		}
		nodes = append(nodes, n)
	}
	if !edited {
		out.Flows = source // the source's document as it is
		return out, nil
	}
	// Re-parse: a node whose bytes changed must still read as a node.
	f, err := newFlows(nodes)
	if err == nil {
		f, err = ParseFlows(f.Bytes())
	}
	if err != nil {
		return Merged{}, Errorf(EINVALID, "promotion merge: %s", ErrorMessage(err))
	}
	out.Flows = f
	return out, nil
}

// mayHaveEnv is a cheap test that node has no env property: most nodes
// are not tabs, groups or subflows.
func mayHaveEnv(node []byte) bool { return bytes.Contains(node, []byte(`"env"`)) }

// envEntry is one element of an env array.
type envEntry struct {
	name string
	raw  []byte
}

// envEntries reads node's env array; ok is false when it has none (or one
// that is not an array of objects: then it is left alone).
func envEntries(node []byte) (entries []envEntry, ok bool) {
	v, has := valueAt(node, []string{envProperty})
	if !has || firstByte(v) != '[' {
		return nil, false
	}
	elems, err := arrayElements(v)
	if err != nil {
		return nil, false
	}
	for _, e := range elems {
		var named struct {
			Name string `json:"name"`
		}
		if firstByte(e) != '{' || json.Unmarshal(e, &named) != nil {
			return nil, false
		}
		entries = append(entries, envEntry{name: named.Name, raw: e})
	}
	return entries, true
}

// mergeEnv merges the env array of target node tgt (nil: the node is new to
// the target) into source node src: the source's keys in its order, each
// with the target's entry when the target has the key; keys of the overlay
// only as the target has them. It returns the merged node, the keys that
// arrive with the source's values, and the source's keys the overlay kept
// out.
func mergeEnv(src, tgt []byte, overlay []string) (node []byte, added, overlaid []string) {
	se, sok := envEntries(src)
	te, tok := envEntries(tgt)
	if !sok && !tok {
		return src, nil, nil
	}
	if !sok {
		if _, has := valueAt(src, []string{envProperty}); has {
			return src, nil, nil // not an env array we understand: the source's
		}
	}
	target := map[string][]byte{}
	for _, e := range te {
		target[e.name] = e.raw
	}
	var merged [][]byte
	seen := map[string]bool{}
	for _, e := range se {
		seen[e.name] = true
		t, has := target[e.name]
		switch {
		case has:
			merged = append(merged, t)
		case slices.Contains(overlay, e.name):
			overlaid = append(overlaid, e.name)
		default:
			merged = append(merged, e.raw)
			added = append(added, e.name)
		}
	}
	// The target's overlay keys stay even where the source dropped them.
	for _, e := range te {
		if !seen[e.name] && slices.Contains(overlay, e.name) {
			merged = append(merged, e.raw)
		}
	}
	if !sok && len(merged) == 0 {
		return src, added, overlaid
	}
	if sok && len(merged) == len(se) && slices.EqualFunc(merged, se, func(m []byte, e envEntry) bool { return bytes.Equal(m, e.raw) }) {
		return src, added, overlaid
	}
	return withValueAt(src, []string{envProperty}, joinElements(merged)), added, overlaid
}
