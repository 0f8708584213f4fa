package userdir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"github.com/flowhist/flowhist/domain"
)

// GlobalFile holds the config nodes of a per-tab layout: those on no tab
// or subflow.
const GlobalFile = "_global.json"

// File is one file of a per-tab layout.
type File struct {
	Name string
	Data []byte
}

// SplitFlows splits a flows document into one file per tab and subflow
// definition, <label or name>-<id>.json holding the tab or subflow
// followed by its nodes, in document order, then GlobalFile if any node is
// on no tab. A node whose tab is missing goes to the global file too, so
// that no node is lost. Each file is a JSON array indented by 4 spaces
// like Node-RED's flows.json, so that the same document always gives the
// same files. Errors: EINTERNAL if doc is not an array of objects.
func SplitFlows(doc []byte) ([]File, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(doc, &raws); err != nil {
		return nil, domain.Errorf(domain.EINTERNAL, "the flows are not a JSON array: %v", err)
	}
	type node struct {
		ID    string `json:"id"`
		Type  string `json:"type"`
		Z     string `json:"z"`
		Label string `json:"label"`
		Name  string `json:"name"`
	}
	nodes := make([]node, len(raws))
	var order []string                        // tab and subflow ids
	members := map[string][]json.RawMessage{} // by tab or subflow id, the container first
	names := map[string]string{}
	container := map[string]int{} // index of each tab and subflow node
	for i, r := range raws {
		if err := json.Unmarshal(r, &nodes[i]); err != nil {
			return nil, domain.Errorf(domain.EINTERNAL, "node %d of the flows is not an object: %v", i, err)
		}
		if n := nodes[i]; n.Type == "tab" || n.Type == "subflow" {
			if _, dup := members[n.ID]; dup {
				continue // a second node with the same id: kept with the global nodes
			}
			label := n.Label
			if n.Type == "subflow" || label == "" {
				label = n.Name
			}
			if label == "" {
				label = n.Type
			}
			order = append(order, n.ID)
			container[n.ID] = i
			members[n.ID] = []json.RawMessage{r}
			names[n.ID] = sanitize(label) + "-" + sanitize(n.ID) + ".json"
		}
	}
	var global []json.RawMessage
	for i, n := range nodes {
		if at, ok := container[n.ID]; ok && at == i {
			continue // a tab or subflow itself, already first in its file
		}
		if n.Z != "" && members[n.Z] != nil {
			members[n.Z] = append(members[n.Z], raws[i])
		} else {
			global = append(global, raws[i])
		}
	}
	var files []File
	for _, id := range order {
		data, err := indentArray(members[id])
		if err != nil {
			return nil, err
		}
		files = append(files, File{names[id], data})
	}
	if len(global) > 0 {
		data, err := indentArray(global)
		if err != nil {
			return nil, err
		}
		files = append(files, File{GlobalFile, data})
	}
	return files, nil
}

// WriteTabs writes doc's SplitFlows files into dir, creating it, and
// returns their names. Files of tabs no longer in doc are left alone.
// Errors: EINTERNAL.
func WriteTabs(dir string, doc []byte) ([]string, error) {
	files, err := SplitFlows(doc)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, domain.Errorf(domain.EINTERNAL, "create %s: %v", dir, err)
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Name
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
			return nil, domain.Errorf(domain.EINTERNAL, "write %s: %v", filepath.Join(dir, f.Name), err)
		}
	}
	return names, nil
}

// ReadTabs joins the files of a per-tab layout in dir back into one flows
// document: each tab or subflow file in name order, then GlobalFile. The
// node order across files is not kept by the layout. Errors: EINVALID.
func ReadTabs(dir string) ([]byte, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		return nil, domain.Errorf(domain.EINVALID, "%s: no .json files (want what export --dir writes)", dir)
	}
	slices.SortFunc(files, func(a, b string) int {
		ga, gb := filepath.Base(a) == GlobalFile, filepath.Base(b) == GlobalFile
		switch {
		case ga && !gb:
			return 1
		case gb && !ga:
			return -1
		}
		return strings.Compare(a, b)
	})
	var all []json.RawMessage
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, domain.Errorf(domain.EINVALID, "%s: %v", f, err)
		}
		var nodes []json.RawMessage
		if err := json.Unmarshal(b, &nodes); err != nil {
			return nil, domain.Errorf(domain.EINVALID, "%s: not a JSON array of nodes: %v", f, err)
		}
		all = append(all, nodes...)
	}
	// Not json.Marshal: it would write <, > and & in strings as \u003c…,
	// and the nodes' bytes are kept as they were exported.
	var doc bytes.Buffer
	enc := json.NewEncoder(&doc)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(all); err != nil {
		return nil, domain.Errorf(domain.EINVALID, "%s: %v", dir, err)
	}
	return bytes.TrimSuffix(doc.Bytes(), []byte("\n")), nil
}

// indentArray writes nodes as a JSON array indented by 4 spaces, as
// Node-RED writes flows.json, with a final newline.
func indentArray(nodes []json.RawMessage) ([]byte, error) {
	var compact bytes.Buffer
	compact.WriteByte('[')
	for i, n := range nodes {
		if i > 0 {
			compact.WriteByte(',')
		}
		compact.Write(n)
	}
	compact.WriteByte(']')
	var out bytes.Buffer
	if err := json.Indent(&out, compact.Bytes(), "", "    "); err != nil {
		return nil, fmt.Errorf("indent the flows: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// sanitize makes s safe in a file name on every system: letters, digits,
// '_', '.' and '-', other runs of characters as one '-', at most 40
// characters.
func sanitize(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '.' || r == '-' {
			b.WriteRune(r)
			dash = r == '-'
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.Trim(b.String(), "-.")
	if r := []rune(out); len(r) > 40 {
		out = strings.TrimRight(string(r[:40]), "-.")
	}
	if out == "" {
		return "_"
	}
	return out
}
