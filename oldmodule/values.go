package oldmodule

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"

	"github.com/flowhist/flowhist/domain"
)

// The decoded values of the old module's keys, one writer and one reader
// each. Writers return JSON text for Encode; readers take what Decode
// returned.

// Flows is the flows value: {"flows": [...], "rev": "…"}, with rev the
// document's sha256 (the old module itself writes its own revision, "0").
// Built by hand so the document's bytes stay exactly as stored.
func Flows(f *domain.Flows) []byte {
	doc := f.Bytes()
	var b bytes.Buffer
	b.Grow(len(doc) + 96)
	b.WriteString(`{"flows":`)
	b.Write(doc)
	b.WriteString(`,"rev":"`)
	b.WriteString(f.SHA256())
	b.WriteString(`"}`)
	return b.Bytes()
}

// FlowsValue is a flows value read back.
type FlowsValue struct {
	// Flows is the flows array as stored.
	Flows json.RawMessage `json:"flows"`
	// Rev is "" when the value was a bare array.
	Rev string `json:"rev"`
}

// ParseFlows reads a flows value: {"flows": [...], "rev": "…"}, or a bare
// flows array, which the old module's reader accepts too.
func ParseFlows(doc []byte) (FlowsValue, error) {
	doc = bytes.TrimSpace(doc)
	if len(doc) > 0 && doc[0] == '[' {
		return FlowsValue{Flows: doc}, nil
	}
	var v FlowsValue
	if err := json.Unmarshal(doc, &v); err != nil || len(v.Flows) == 0 || v.Flows[0] != '[' {
		return FlowsValue{}, errors.New(`the value is neither {"flows": [...], "rev": …} nor a flows array`)
	}
	return v, nil
}

// Library is a library entry's value: the entry's meta properties with
// the body as "fn".
func Library(e domain.LibraryEntry) []byte {
	body, _ := json.Marshal(e.Body)
	meta := bytes.TrimSpace(e.Meta)
	var b bytes.Buffer
	if len(meta) >= 2 && meta[0] == '{' && len(bytes.TrimSpace(meta[1:len(meta)-1])) > 0 {
		b.Write(meta[:len(meta)-1])
		b.WriteString(`,"fn":`)
	} else {
		b.WriteString(`{"fn":`)
	}
	b.Write(body)
	b.WriteByte('}')
	return b.Bytes()
}

// ParseLibrary reads the value of the library entry of type typ at path.
func ParseLibrary(typ, path string, doc []byte) (domain.LibraryEntry, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil {
		return domain.LibraryEntry{}, errors.New(`the value is not a JSON object {…meta, "fn": body}`)
	}
	var body string
	if fn, ok := m["fn"]; ok {
		if err := json.Unmarshal(fn, &body); err != nil {
			return domain.LibraryEntry{}, errors.New(`"fn" (the entry's body) is not a string`)
		}
		delete(m, "fn")
	}
	meta, _ := json.Marshal(m)
	return domain.LibraryEntry{Type: typ, Path: path, Meta: meta, Body: body}, nil
}

// Project is the active project's value: {"name": "…", "updated": <ms>}.
func Project(name string, updated time.Time) []byte {
	b, _ := json.Marshal(struct {
		Name    string `json:"name"`
		Updated int64  `json:"updated"`
	}{name, updated.UnixMilli()})
	return b
}

// ParseProject reads the active project's value: its name.
func ParseProject(doc []byte) (string, error) {
	var p struct {
		Name *string `json:"name"`
	}
	if json.Unmarshal(doc, &p) != nil || p.Name == nil {
		return "", errors.New(`the value is not {"name": "…", "updated": …}`)
	}
	return *p.Name, nil
}

// Packages is the package list's value: a JSON array of module names (the
// old module keeps no versions).
func Packages(pk []domain.Package) []byte {
	names := make([]string, 0, len(pk))
	for _, p := range pk {
		names = append(names, p.Name)
	}
	b, _ := json.Marshal(names)
	return b
}

// ParsePackages reads the package list's value: the names, nil if it is
// not a list of names (a later fork's {name: version}).
func ParsePackages(doc []byte) []string {
	var names []string
	json.Unmarshal(doc, &names)
	return names
}
