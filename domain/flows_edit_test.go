package domain_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/domain/domaintest"
)

// editCases are edits of a document of n nodes, each as ParseFlowsInputFrom
// must parse it against the original: as ParseFlowsInput does.
func editCases(doc *domaintest.Doc) map[string][]byte {
	b := doc.Bytes()
	n := doc.Len()
	node := func(i int) []byte { return doc.Node(i) }
	at := func(i int) int { return bytes.Index(b, node(i)) }
	replace := func(i int, with string) []byte {
		s := at(i)
		return slicesConcat(b[:s], []byte(with), b[s+len(node(i)):])
	}
	touched := domaintest.NewDoc(n)
	touched.Touch(n / 2)
	return map[string][]byte{
		"Same":             b,
		"TouchedMiddle":    touched.Bytes(),
		"ChangedFirst":     replace(0, `{"id":"new0","type":"tab"}`),
		"ChangedLast":      replace(n-1, `{"id":"newlast","type":"x","z":"t"}`),
		"Removed":          slicesConcat(b[:at(n/2)], b[at(n/2)+len(node(n/2))+1:]),
		"RemovedLast":      slicesConcat(b[:at(n-1)-1], []byte("]")),
		"Inserted":         slicesConcat(b[:at(n/2)], []byte(`{"id":"ins","type":"debug","name":"\u00e9"},`), b[at(n/2):]),
		"Appended":         slicesConcat(b[:len(b)-1], []byte(`,{"id":"app"}]`)),
		"Swapped":          slicesConcat(b[:at(3)], node(4), []byte(","), node(3), b[at(4)+len(node(4)):]),
		"SpaceInside":      replace(n/2, `{"id":"sp", "type":"x"}`),
		"SpaceBetween":     slicesConcat(b[:at(n/2)], []byte(" "), b[at(n/2):]),
		"DuplicateID":      replace(n/2, string(node(n/2+1))),
		"Credentials":      replace(n/2, `{"id":"c","credentials":{"user":"u"}}`),
		"InvalidUTF8":      replace(n/2, "{\"id\":\"u\",\"name\":\"\xff\"}"),
		"LoneSurrogate":    replace(n/2, `{"id":"u","name":"\ud800"}`),
		"NoID":             replace(n/2, `{"type":"x"}`),
		"NotAnObject":      replace(n/2, `[1]`),
		"BrokenJSON":       replace(n/2, `{"id":"b",}`),
		"Truncated":        b[:len(b)-1],
		"TrailingData":     slicesConcat(b, []byte("]")),
		"EscapedID":        replace(n/2, `{"id":"\u0061b","type":"x"}`),
		"NestedDeep":       replace(n/2, `{"id":"d","x":[[[[{"a":[]}]]]]}`),
		"EmptyIDString":    replace(n/2, `{"id":""}`),
		"NewTailSameBytes": slicesConcat(b[:at(n/2)], []byte(`{"id":"q"},`), b[at(n/2):]),
	}
}

func slicesConcat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestParseFlowsInputFrom(t *testing.T) {
	doc := domaintest.NewDoc(400)
	prev, err := domain.ParseFlowsInput(doc.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	fast := map[string]bool{
		"Same": true, "TouchedMiddle": true, "ChangedFirst": true, "ChangedLast": true, "Removed": true,
		"RemovedLast": true, "Inserted": true, "Appended": true, "Swapped": true, "EscapedID": true,
		"NestedDeep": true, "NewTailSameBytes": true,
	}
	for name, in := range editCases(doc) {
		t.Run(name, func(t *testing.T) {
			checkParseFrom(t, in, prev)
			// Valid edits are parsed as edits; the others in full, so
			// that their errors are worded as ParseFlowsInput's.
			if got := domain.ParseEdit(in, prev) != nil; got != fast[name] {
				t.Fatalf("parsed as an edit: got %v, want %v", got, fast[name])
			}
		})
	}
	t.Run("NoPrevious", func(t *testing.T) {
		fromStore, err := domain.ParseFlows(doc.Bytes()) // not by the input rules
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []*domain.Flows{nil, fromStore} {
			if domain.ParseEdit(doc.Bytes(), p) != nil {
				t.Fatal("parsed as an edit of a document not parsed by the input rules")
			}
		}
	})
}

func FuzzParseFlowsInputFrom(f *testing.F) {
	doc := domaintest.NewDoc(300)
	prev, err := domain.ParseFlowsInput(doc.Bytes())
	if err != nil {
		f.Fatal(err)
	}
	b := doc.Bytes()
	for _, in := range editCases(doc) {
		if i := commonPrefixLen(in, b); i < len(in) {
			f.Add(i, in[i:min(len(in), i+40)], len(b)-len(in))
		}
	}
	f.Add(len(b)/2, []byte(`"id":"x"`), 0)
	// An edit: the document with its bytes from at replaced by with,
	// keeping the length when grow is 0.
	f.Fuzz(func(t *testing.T, at int, with []byte, grow int) {
		if at < 0 || at > len(b) || len(with) > 200 || grow < -200 || grow > 200 {
			return
		}
		end := min(len(b), at+len(with)-grow)
		if end < at {
			end = at
		}
		checkParseFrom(t, slicesConcat(b[:at], with, b[end:]), prev)
	})
}

func commonPrefixLen(a, b []byte) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

func checkParseFrom(t *testing.T, in []byte, prev *domain.Flows) {
	t.Helper()
	want, wantErr := domain.ParseFlowsInput(in)
	got, err := domain.ParseFlowsInputFrom(in, prev)
	if fmt.Sprint(err) != fmt.Sprint(wantErr) {
		t.Fatalf("got error %v, want %v", err, wantErr)
	}
	if err != nil {
		return
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) || got.SHA256() != want.SHA256() || got.SHA256() != domain.SHA256Hex(want.Bytes()) {
		t.Fatal("got another document")
	}
	if got.Len() != want.Len() {
		t.Fatalf("got %d nodes, want %d", got.Len(), want.Len())
	}
	for i, n := range got.Nodes() {
		w := want.Nodes()[i]
		if n.ID != w.ID || n.Type != w.Type || n.Name != w.Name || n.Z != w.Z || !bytes.Equal(n.Raw, w.Raw) {
			t.Fatalf("node %d: got %+v, want %+v", i, n, w)
		}
		if g, ok := got.Node(w.ID); !ok || !bytes.Equal(g.Raw, w.Raw) {
			t.Fatalf("node %q: not found by id", w.ID)
		}
	}
}
