package domain_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
)

// checkRoundTrip checks that a.Apply(DiffFlows(a, b)) is b byte for byte,
// directly and through the patch's JSON, and leaves a unchanged.
func checkRoundTrip(t *testing.T, a, b *domain.Flows) domain.FlowsPatch {
	t.Helper()
	before := bytes.Clone(a.Bytes())
	p := domain.DiffFlows(a, b)
	if got, want := p.IsEmpty(), bytes.Equal(a.Bytes(), b.Bytes()); got != want {
		t.Errorf("got IsEmpty %v, want %v", got, want)
	}
	got, err := a.Apply(p)
	if err != nil {
		t.Fatalf("Apply: got error %v, want none", err)
	}
	if !bytes.Equal(got.Bytes(), b.Bytes()) {
		t.Fatalf("Apply: got\n%s\nwant\n%s", got.Bytes(), b.Bytes())
	}
	if got.SHA256() != b.SHA256() || got.Size() != b.Size() || got.Len() != b.Len() {
		t.Errorf("Apply: got SHA256 %s, Size %d, Len %d, want %s, %d, %d", got.SHA256(), got.Size(), got.Len(), b.SHA256(), b.Size(), b.Len())
	}
	for _, n := range b.Nodes() {
		if g, ok := got.Node(n.ID); !ok || !bytes.Equal(g.Raw, n.Raw) {
			t.Fatalf("Apply: got node %q %s (found %v), want %s", n.ID, g.Raw, ok, n.Raw)
		}
	}

	js, err := p.MarshalJSON()
	if err != nil {
		t.Fatalf("MarshalJSON: %v", err)
	}
	if p.Size() > len(js) {
		t.Errorf("got Size %d, want at most the %d bytes encoded", p.Size(), len(js))
	}
	if !json.Valid(js) {
		t.Fatalf("MarshalJSON: got invalid JSON %s", js)
	}
	var q domain.FlowsPatch
	if err := json.Unmarshal(js, &q); err != nil {
		t.Fatalf("UnmarshalJSON(%s): got error %v, want none", js, err)
	}
	if !slices.EqualFunc(q.Upsert, p.Upsert, sameNode) || !slices.Equal(q.Remove, p.Remove) || !slices.Equal(q.Order, p.Order) {
		t.Fatalf("UnmarshalJSON: got %+v, want %+v", q, p)
	}
	got, err = a.Apply(q)
	if err != nil {
		t.Fatalf("Apply after JSON: got error %v, want none", err)
	}
	if !bytes.Equal(got.Bytes(), b.Bytes()) {
		t.Fatalf("Apply after JSON: got\n%s\nwant\n%s", got.Bytes(), b.Bytes())
	}
	if !bytes.Equal(a.Bytes(), before) {
		t.Fatalf("Apply changed its receiver: got\n%s\nwant\n%s", a.Bytes(), before)
	}
	return p
}

func sameNode(a, b domain.Node) bool {
	return a.ID == b.ID && a.Type == b.Type && a.Name == b.Name && a.Z == b.Z && bytes.Equal(a.Raw, b.Raw)
}

func ids(nodes []domain.Node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.ID)
	}
	return out
}

// bigDocs returns two 5000-node documents: the second with nodes edited,
// removed, added at the front and the end, and two moved.
func bigDocs() (a, b []byte) {
	a = realisticDoc(5000, 0)
	var f []json.RawMessage
	if err := json.Unmarshal(realisticDoc(5000, 3), &f); err != nil {
		panic(err)
	}
	raws := make([][]byte, 0, len(f)+2)
	raws = append(raws, []byte(`{"id":"new-front","type":"comment","name":"added"}`))
	for i, r := range f {
		if i%97 != 3 {
			raws = append(raws, r)
		}
	}
	raws[10], raws[4000] = raws[4000], raws[10]
	raws = append(raws, []byte(`{"id":"new-end","type":"comment","name":"added"}`))
	return a, joinDoc(raws)
}

func TestPatchRoundTrip(t *testing.T) {
	bigA, bigB := bigDocs()
	tests := []struct {
		name       string
		a, b       string
		wantUpsert []string
		wantRemove []string
		wantOrder  bool
	}{
		{name: "Identical", a: `[{"id":"a"},{"id":"b"}]`, b: `[{"id":"a"},{"id":"b"}]`},
		{name: "BothEmpty", a: `[]`, b: `[]`},
		{name: "Reorder", a: `[{"id":"a"},{"id":"b"},{"id":"c"}]`, b: `[{"id":"c"},{"id":"a"},{"id":"b"}]`, wantOrder: true},
		{name: "NodeEdited", a: `[{"id":"a","x":1},{"id":"b","x":2},{"id":"c"}]`, b: `[{"id":"a","x":1},{"id":"b","x":3},{"id":"c"}]`,
			wantUpsert: []string{"b"}},
		{name: "KeyOrderIsAChange", a: `[{"id":"a","x":1,"y":2}]`, b: `[{"id":"a","y":2,"x":1}]`, wantUpsert: []string{"a"}},
		{name: "AllDeleted", a: `[{"id":"a"},{"id":"b"}]`, b: `[]`, wantRemove: []string{"a", "b"}},
		{name: "FromEmpty", a: `[]`, b: `[{"id":"a"},{"id":"b"}]`, wantUpsert: []string{"a", "b"}},
		{name: "AddedAtFront", a: `[{"id":"a"},{"id":"b"}]`, b: `[{"id":"new"},{"id":"a"},{"id":"b"}]`, wantUpsert: []string{"new"}, wantOrder: true},
		{name: "AddedAtEnd", a: `[{"id":"a"},{"id":"b"}]`, b: `[{"id":"a"},{"id":"b"},{"id":"new"}]`, wantUpsert: []string{"new"}},
		{name: "RemovedEditedAdded", a: `[{"id":"a"},{"id":"b"},{"id":"c","v":1}]`, b: `[{"id":"a"},{"id":"c","v":2},{"id":"d"}]`,
			wantUpsert: []string{"c", "d"}, wantRemove: []string{"b"}},
		{name: "ReplacedSameLength", a: `[{"id":"a"},{"id":"b"}]`, b: `[{"id":"a"},{"id":"c"}]`, wantUpsert: []string{"c"}, wantRemove: []string{"b"}},
		{name: "Swapped", a: `[{"id":"a"},{"id":"b"}]`, b: `[{"id":"b"},{"id":"a"}]`, wantOrder: true},
		{name: "UnicodeAndEscapes",
			a:          `[{"id":"é\u00e9","name":"caf\u00e9 \"q\" \\ 😀 \ud83d\ude00","v":"<b>&amp;</b>"},{"id":"\ud800","x":"\udc00\ud800"},{"id":"x\"y\\z\n"}]`,
			b:          `[{"id":"x\"y\\z\n","v":"\u2028\u2029"},{"id":"\u00e9é","name":"caf\u00e9 \"q\" \\ 😀 \ud83d\ude00","v":"<b>&amp;</b>"},{"id":"\udc00"},{"id":"<&>\u0001"}]`,
			wantUpsert: []string{"x\"y\\z\n", "éé", "\xed\xb0\x80", "<&>\x01"}, wantRemove: []string{"\xed\xa0\x80"}, wantOrder: true},
		{name: "EscapedIDSameNode", a: `[{"id":"\u0061","v":1},{"id":"b"}]`, b: `[{"id":"a","v":1},{"id":"b"}]`, wantUpsert: []string{"a"}},
		{name: "Nested", a: `[{"id":"a","w":[["b","c"],[]],"o":{"p":{"q":[1,{"r":null}]}}},{"id":"b"}]`,
			b:          `[{"id":"b","o":{"id":"not this"}},{"id":"a","w":[["b","c"],[]],"o":{"p":{"q":[1,{"r":true}]}}}]`,
			wantUpsert: []string{"b", "a"}, wantOrder: true},
		{name: "5000Nodes", a: string(bigA), b: string(bigB), wantOrder: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := mustParse(t, []byte(tt.a)), mustParse(t, []byte(tt.b))
			p := checkRoundTrip(t, a, b)
			if tt.name == "5000Nodes" {
				if len(p.Upsert) != 3 || len(p.Remove) != 52 {
					t.Errorf("got %d upserts and %d removals, want 3 and 52", len(p.Upsert), len(p.Remove))
				}
			} else if got := ids(p.Upsert); !slices.Equal(got, tt.wantUpsert) {
				t.Errorf("got upserts %q, want %q", got, tt.wantUpsert)
			} else if !slices.Equal(p.Remove, tt.wantRemove) {
				t.Errorf("got removals %q, want %q", p.Remove, tt.wantRemove)
			}
			if got := p.Order != nil; got != tt.wantOrder {
				t.Errorf("got order %q, want one: %v", p.Order, tt.wantOrder)
			}
		})
	}
}

func TestPatchRoundTripNil(t *testing.T) {
	f := mustParse(t, []byte(`[{"id":"a"}]`))
	t.Run("FromNil", func(t *testing.T) { checkRoundTrip(t, nil, f) })
	t.Run("ToNil", func(t *testing.T) {
		p := domain.DiffFlows(f, nil)
		if got, err := f.Apply(p); err != nil || string(got.Bytes()) != "[]" {
			t.Errorf("got %s, %v, want [] and no error", got.Bytes(), err)
		}
	})
	t.Run("EmptyOnNil", func(t *testing.T) {
		var empty *domain.Flows
		if got, err := empty.Apply(domain.FlowsPatch{}); err != nil || got == nil || string(got.Bytes()) != "[]" {
			t.Errorf("got %v, %v, want an empty document and no error", got, err)
		}
	})
}

func TestApplyInvalid(t *testing.T) {
	node := func(id string) domain.Node { return domain.Node{ID: id, Raw: []byte(`{"id":"` + id + `"}`)} }
	tests := []struct {
		name  string
		patch domain.FlowsPatch
		want  string
	}{
		{"ErrRemoveMissing", domain.FlowsPatch{Remove: []string{"x"}}, `removes "x", which is not in the document`},
		{"ErrRemoveTwice", domain.FlowsPatch{Remove: []string{"a", "a"}}, `removes "a" twice`},
		{"ErrUpsertTwice", domain.FlowsPatch{Upsert: []domain.Node{node("d"), node("d")}}, `upserts "d" twice`},
		{"ErrUpsertNoID", domain.FlowsPatch{Upsert: []domain.Node{node("d"), {Raw: []byte(`{}`)}}}, `upsert 1 has no id`},
		{"ErrRemoveAndUpsert", domain.FlowsPatch{Upsert: []domain.Node{node("b")}, Remove: []string{"b"}}, `both removes and upserts "b"`},
		{"ErrOrderShort", domain.FlowsPatch{Order: []string{"a", "b"}}, "order has 2 ids for 3 nodes"},
		{"ErrOrderLong", domain.FlowsPatch{Order: []string{"a", "b", "c", "d"}}, "order has 4 ids for 3 nodes"},
		{"ErrOrderDuplicate", domain.FlowsPatch{Order: []string{"a", "b", "b"}}, `order names "b" twice`},
		{"ErrOrderUnknown", domain.FlowsPatch{Order: []string{"a", "b", "x"}}, `order lacks "c"`},
		{"ErrOrderLacksUpsert", domain.FlowsPatch{Upsert: []domain.Node{node("d")}, Order: []string{"a", "b", "c", "x"}}, `order lacks "d"`},
		{"ErrOrderNamesRemoved", domain.FlowsPatch{Remove: []string{"c"}, Order: []string{"a", "c"}}, `order lacks "b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustParse(t, []byte(`[{"id":"a"},{"id":"b"},{"id":"c"}]`))
			got, err := f.Apply(tt.patch)
			if err == nil {
				t.Fatalf("got %s, want an error", got.Bytes())
			}
			if code := domain.ErrorCode(err); code != domain.EINVALID {
				t.Errorf("got code %q, want %q", code, domain.EINVALID)
			}
			if msg := domain.ErrorMessage(err); !strings.Contains(msg, tt.want) {
				t.Errorf("got message %q, want one containing %q", msg, tt.want)
			}
		})
	}
	t.Run("ErrRemoveFromNil", func(t *testing.T) {
		var f *domain.Flows
		if _, err := f.Apply(domain.FlowsPatch{Remove: []string{"a"}}); domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("got %v, want %s", err, domain.EINVALID)
		}
	})
}

func TestFlowsPatchMarshalJSON(t *testing.T) {
	tests := []struct {
		name  string
		patch domain.FlowsPatch
		want  string
	}{
		{"Empty", domain.FlowsPatch{}, `{"u":[]}`},
		{"RawNotEscaped", domain.FlowsPatch{Upsert: []domain.Node{{ID: "a", Raw: []byte(`{"id":"a","v":"<b>&\u2028</b>"}`)}, {ID: "b", Raw: []byte(`{"id":"b"}`)}}},
			`{"u":[{"id":"a","v":"<b>&\u2028</b>"},{"id":"b"}]}`},
		{"IDsQuotedLikeStringify", domain.FlowsPatch{Remove: []string{"<&>", "q\"\\", "\n\x01\x7f", "é😀", "\xed\xa0\x80"}, Order: []string{"a", "b"}},
			`{"u":[],"r":["<&>","q\"\\","\n\u0001` + "\x7f" + `","é😀","\ud800"],"o":["a","b"]}`},
		{"EmptyOrderLeftOut", domain.FlowsPatch{Remove: []string{}, Order: []string{}}, `{"u":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.patch.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			if n := tt.patch.Size(); n != len(got) && !strings.Contains(tt.name, "Quoted") {
				t.Errorf("got Size %d, want the %d bytes encoded", n, len(got))
			}
		})
	}
}

func TestFlowsPatchUnmarshalJSON(t *testing.T) {
	t.Run("PrettyCompacted", func(t *testing.T) {
		in := "{\n  \"o\": [ \"b\" , \"\\u0061\" ],\n  \"u\": [\n    { \"id\": \"a\", \"type\" : \"t\", \"v\": [ 1, \" x \" ] }\n  ],\n  \"r\": [ ]\n}"
		var p domain.FlowsPatch
		if err := p.UnmarshalJSON([]byte(in)); err != nil {
			t.Fatal(err)
		}
		want := domain.FlowsPatch{Upsert: []domain.Node{{ID: "a", Type: "t", Raw: []byte(`{"id":"a","type":"t","v":[1," x "]}`)}}, Order: []string{"b", "a"}}
		if !slices.EqualFunc(p.Upsert, want.Upsert, sameNode) || len(p.Remove) != 0 || !slices.Equal(p.Order, want.Order) {
			t.Errorf("got %+v, want %+v", p, want)
		}
	})
	t.Run("InputReusable", func(t *testing.T) {
		in := []byte(`{"u":[{"id":"a","v":1}]}`)
		var p domain.FlowsPatch
		if err := p.UnmarshalJSON(in); err != nil {
			t.Fatal(err)
		}
		for i := range in {
			in[i] = 'x'
		}
		if got := string(p.Upsert[0].Raw); got != `{"id":"a","v":1}` {
			t.Errorf("got %s after the input changed, want %s", got, `{"id":"a","v":1}`)
		}
	})
	t.Run("InAStruct", func(t *testing.T) {
		var v struct{ Patch domain.FlowsPatch }
		if err := json.Unmarshal([]byte(`{"Patch": {"u": [{"id":"a", "x":"<"}], "r": ["b"]}}`), &v); err != nil {
			t.Fatal(err)
		}
		if len(v.Patch.Upsert) != 1 || string(v.Patch.Upsert[0].Raw) != `{"id":"a","x":"<"}` || !slices.Equal(v.Patch.Remove, []string{"b"}) {
			t.Errorf("got %+v, want one upsert of a and a removal of b", v.Patch)
		}
	})

	invalid := []struct{ name, in, want string }{
		{"ErrEmpty", ``, "not a JSON object"},
		{"ErrArray", `[]`, "not a JSON object"},
		{"ErrUpsertNotArray", `{"u":{}}`, `"u" is not an array`},
		{"ErrUpsertNotObject", `{"u":[{"id":"a"},1]}`, "element 1 is not an object"},
		{"ErrUpsertNoID", `{"u":[{"type":"a"}]}`, `element 0 has no "id"`},
		{"ErrUpsertBadJSON", `{"u":[{"id":"a","x":01}]}`, "invalid JSON"},
		{"ErrRemoveNotStrings", `{"u":[],"r":["a",1]}`, `"r" is not an array of ids`},
		{"ErrOrderNotArray", `{"u":[],"o":"a"}`, `"o" is not an array of ids`},
		{"ErrUnknownKey", `{"u":[],"x":1}`, `unknown key "x"`},
		{"ErrTrailingComma", `{"u":[],}`, "expected a string key"},
		{"ErrMissingComma", `{"u":[] "r":[]}`, "expected ',' or '}'"},
		{"ErrTrailingData", `{"u":[]}{}`, "data after the patch"},
		{"ErrUnterminated", `{"u":[]`, "unterminated object"},
		{"ErrNoSeparator", `{"u":[] "r":[]}`, "expected ',' or '}'"},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			var p domain.FlowsPatch
			err := p.UnmarshalJSON([]byte(tt.in))
			if code := domain.ErrorCode(err); code != domain.EINVALID {
				t.Fatalf("got %v, want code %q", err, domain.EINVALID)
			}
			if msg := domain.ErrorMessage(err); !strings.HasPrefix(msg, "flows patch: ") || !strings.Contains(msg, tt.want) {
				t.Errorf("got message %q, want one containing %q", msg, tt.want)
			}
		})
	}
}

// FuzzPatchRoundTrip checks apply(a, diff(a, b)) == b for two documents made
// from the input: parsed if it is a valid flows document, else built from
// its bytes.
func FuzzPatchRoundTrip(f *testing.F) {
	seeds := [][2]string{
		{`[{"id":"a"},{"id":"b"},{"id":"c"}]`, `[{"id":"c"},{"id":"a","v":1},{"id":"d"}]`},
		{`[]`, `[{"id":"\ud800","name":"\"<&>\""},{"id":"é"}]`},
		{`[{"id":"x","w":[["y"]]},{"id":"y"}]`, `[]`},
		{string(realisticDoc(8, 0)), string(realisticDoc(8, 1))},
		{"\x01\x02\x03\x04", "\x04\x03\x02\x01\x05"},
		{"abcdefgh", "hgfedcbaxyz"},
	}
	for _, s := range seeds {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		fa, fb := fuzzDoc(t, a), fuzzDoc(t, b)
		p := checkRoundTrip(t, fa, fb)
		s := domain.Summarize(fa, p)
		if len(s.Added)+len(s.Changed) != len(p.Upsert) || len(s.Removed) != len(p.Remove) {
			t.Fatalf("got summary %+v, want one entry for each of %d upserts and %d removals", s, len(p.Upsert), len(p.Remove))
		}
	})
}

// fuzzDoc parses in if it is a flows document, else builds one from its
// bytes: each byte picks one of 16 ids (first use wins) and a version of
// that node with a string of the input in it.
func fuzzDoc(t *testing.T, in []byte) *domain.Flows {
	if f, err := domain.ParseFlows(in); err == nil {
		return f
	}
	seen := map[string]bool{}
	var raws [][]byte
	for i, c := range in {
		id := fmt.Sprintf("n%d", c&15)
		if seen[id] {
			continue
		}
		seen[id] = true
		s := string(in[i:min(i+4, len(in))])
		raws = append(raws, obj("id", id, "type", fmt.Sprintf("t%d", c>>6), "v", int(c>>4), "s", s))
	}
	return mustParse(t, joinDoc(raws))
}
