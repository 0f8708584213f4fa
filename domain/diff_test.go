package domain_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/domain/domaintest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// parseOrNil parses doc, or returns nil (the empty document) for "".
func parseOrNil(tb testing.TB, doc string) *domain.Flows {
	tb.Helper()
	if doc == "" {
		return nil
	}
	return mustParse(tb, []byte(doc))
}

// diffJSON returns d as indented JSON, the form the tests compare.
func diffJSON(tb testing.TB, d any) string {
	tb.Helper()
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func indentJSON(tb testing.TB, s string) string {
	tb.Helper()
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(s), "", "  "); err != nil {
		tb.Fatalf("want %s: %v", s, err)
	}
	return b.String()
}

// checkGolden compares got with testdata/diff/name, or rewrites it with
// -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "diff", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("got\n%s\nwant (%s)\n%s", got, path, want)
	}
}

func TestDiffFlowsNodes(t *testing.T) {
	tests := []struct {
		name string
		a, b string // "" is a nil document
		want string // FlowsDiff as JSON
	}{
		{
			name: "BothNilIsEmpty",
			want: `{"added":[],"removed":[],"changed":[]}`,
		},
		{
			name: "FromNilAllAdded",
			b:    `[{"id":"t1","type":"tab","label":"Flow 1"},{"id":"n1","type":"inject","z":"t1","name":"tick"}]`,
			want: `{"added":[{"id":"t1","type":"tab","name":"Flow 1"},{"id":"n1","type":"inject","name":"tick"}],"removed":[],"changed":[]}`,
		},
		{
			name: "ToNilAllRemoved",
			a:    `[{"id":"t1","type":"tab","label":"Flow 1"},{"id":"n1","type":"inject","z":"t1","name":"tick"}]`,
			want: `{"added":[],"removed":[{"id":"t1","type":"tab","name":"Flow 1"},{"id":"n1","type":"inject","name":"tick"}],"changed":[]}`,
		},
		{
			name: "EqualIsEmpty",
			a:    `[{"id":"n1","type":"inject","x":1,"y":2}]`,
			b:    "[ {\"id\": \"n1\", \"type\": \"inject\", \"x\": 1, \"y\": 2} ]",
			want: `{"added":[],"removed":[],"changed":[]}`,
		},
		{
			name: "AddedAndRemovedInDocumentOrder",
			a:    `[{"id":"z1","type":"a"},{"id":"a1","type":"b"},{"id":"m1","type":"c"},{"id":"b1","type":"d"}]`,
			b:    `[{"id":"y2","type":"e"},{"id":"a1","type":"b"},{"id":"c2","type":"f"},{"id":"b1","type":"d"},{"id":"a2","type":"g"}]`,
			want: `{"added":[{"id":"y2","type":"e"},{"id":"c2","type":"f"},{"id":"a2","type":"g"}],` +
				`"removed":[{"id":"z1","type":"a"},{"id":"m1","type":"c"}],"changed":[]}`,
		},
		{
			name: "MovedIsPositionOnly",
			a:    `[{"id":"n1","type":"inject","z":"t1","x":100,"y":40,"wires":[]}]`,
			b:    `[{"id":"n1","type":"inject","z":"t1","x":220,"y":80,"wires":[]}]`,
			want: `{"added":[],"removed":[],"changed":[{"id":"n1","type":"inject","positionOnly":true,"properties":[` +
				`{"name":"x","old":100,"new":220},{"name":"y","old":40,"new":80}]}]}`,
		},
		{
			name: "ResizedGroupIsPositionOnly",
			a:    `[{"id":"g1","type":"group","z":"t1","nodes":["n1"],"x":10,"y":10,"w":200,"h":80}]`,
			b:    `[{"id":"g1","type":"group","z":"t1","nodes":["n1"],"x":10,"y":10,"w":240,"h":120}]`,
			want: `{"added":[],"removed":[],"changed":[{"id":"g1","type":"group","positionOnly":true,"properties":[` +
				`{"name":"h","old":80,"new":120},{"name":"w","old":200,"new":240}]}]}`,
		},
		{
			name: "Renamed",
			a:    `[{"id":"n1","type":"debug","z":"t1","name":"log","x":1,"y":2}]`,
			b:    `[{"id":"n1","type":"debug","z":"t1","name":"log errors","x":1,"y":2}]`,
			want: `{"added":[],"removed":[],"changed":[{"id":"n1","type":"debug","name":"log errors","properties":[` +
				`{"name":"name","old":"log","new":"log errors"}]}]}`,
		},
		{
			name: "NameRemovedFallsBackToOld",
			a:    `[{"id":"n1","type":"debug","name":"log"}]`,
			b:    `[{"id":"n1","type":"debug"}]`,
			want: `{"added":[],"removed":[],"changed":[{"id":"n1","type":"debug","name":"log","properties":[` +
				`{"name":"name","old":"log"}]}]}`,
		},
		{
			name: "MovedToAnotherTab",
			a:    `[{"id":"n1","type":"debug","z":"t1","x":1,"y":2}]`,
			b:    `[{"id":"n1","type":"debug","z":"t2","x":5,"y":2}]`,
			want: `{"added":[],"removed":[],"changed":[{"id":"n1","type":"debug","moved":{"from":"t1","to":"t2"},"properties":[` +
				`{"name":"x","old":1,"new":5},{"name":"z","old":"t1","new":"t2"}]}]}`,
		},
		{
			name: "JoinedGroup",
			a:    `[{"id":"n1","type":"debug","z":"t1"}]`,
			b:    `[{"id":"n1","type":"debug","z":"t1","g":"g1"}]`,
			want: `{"added":[],"removed":[],"changed":[{"id":"n1","type":"debug","group":{"from":"","to":"g1"},"properties":[` +
				`{"name":"g","new":"g1"}]}]}`,
		},
		{
			name: "ChangedGroup",
			a:    `[{"id":"n1","type":"debug","z":"t1","g":"g1"}]`,
			b:    `[{"id":"n1","type":"debug","z":"t1","g":"g2"}]`,
			want: `{"added":[],"removed":[],"changed":[{"id":"n1","type":"debug","group":{"from":"g1","to":"g2"},"properties":[` +
				`{"name":"g","old":"g1","new":"g2"}]}]}`,
		},
		{
			name: "LeftGroup",
			a:    `[{"id":"n1","type":"debug","z":"t1","g":"g1"}]`,
			b:    `[{"id":"n1","type":"debug","z":"t1"}]`,
			want: `{"added":[],"removed":[],"changed":[{"id":"n1","type":"debug","group":{"from":"g1","to":""},"properties":[` +
				`{"name":"g","old":"g1"}]}]}`,
		},
		{
			name: "SubflowDefinitionChanged",
			a: `[{"id":"sf1","type":"subflow","name":"retry","info":"","in":[{"x":50,"y":30,"wires":[]}],` +
				`"out":[],"env":[{"name":"RETRIES","type":"num","value":"3"}]},` +
				`{"id":"i1","type":"subflow:sf1","z":"t1","x":1,"y":2}]`,
			b: `[{"id":"sf1","type":"subflow","name":"retry","info":"","in":[{"x":50,"y":30,"wires":[{"id":"n9"}]}],` +
				`"out":[],"env":[{"name":"RETRIES","type":"num","value":"5"}]},` +
				`{"id":"i1","type":"subflow:sf1","z":"t1","x":1,"y":2}]`,
			want: `{"added":[],"removed":[],"changed":[{"id":"sf1","type":"subflow","name":"retry","properties":[` +
				`{"name":"env","old":[{"name":"RETRIES","type":"num","value":"3"}],"new":[{"name":"RETRIES","type":"num","value":"5"}]},` +
				`{"name":"in","old":[{"x":50,"y":30,"wires":[]}],"new":[{"x":50,"y":30,"wires":[{"id":"n9"}]}]}]}]}`,
		},
		{
			name: "SubflowInstanceChanged",
			a:    `[{"id":"i1","type":"subflow:sf1","z":"t1","env":[],"x":1,"y":2}]`,
			b:    `[{"id":"i1","type":"subflow:sf1","z":"t1","env":[{"name":"RETRIES","type":"num","value":"7"}],"x":1,"y":2}]`,
			want: `{"added":[],"removed":[],"changed":[{"id":"i1","type":"subflow:sf1","properties":[` +
				`{"name":"env","old":[],"new":[{"name":"RETRIES","type":"num","value":"7"}]}]}]}`,
		},
		{
			name: "MovedIntoSubflow",
			a: `[{"id":"t1","type":"tab"},{"id":"sf1","type":"subflow","name":"retry"},` +
				`{"id":"n1","type":"delay","z":"t1","x":1,"y":2}]`,
			b: `[{"id":"t1","type":"tab"},{"id":"sf1","type":"subflow","name":"retry"},` +
				`{"id":"n1","type":"delay","z":"sf1","x":1,"y":2}]`,
			want: `{"added":[],"removed":[],"changed":[{"id":"n1","type":"delay","moved":{"from":"t1","to":"sf1"},"properties":[` +
				`{"name":"z","old":"t1","new":"sf1"}]}]}`,
		},
		{
			name: "WiresChanged",
			a:    `[{"id":"n1","type":"switch","z":"t1","wires":[["n2"],["n3"]]}]`,
			b:    `[{"id":"n1","type":"switch","z":"t1","wires":[["n2","n4"],[]]}]`,
			want: `{"added":[],"removed":[],"changed":[{"id":"n1","type":"switch","properties":[` +
				`{"name":"wires","old":[["n2"],["n3"]],"new":[["n2","n4"],[]]}]}]}`,
		},
		{
			name: "PropertyAddedAndRemoved",
			a:    `[{"id":"n1","type":"http request","method":"GET","ret":"txt"}]`,
			b:    `[{"id":"n1","type":"http request","method":"GET","tls":"c1"}]`,
			want: `{"added":[],"removed":[],"changed":[{"id":"n1","type":"http request","properties":[` +
				`{"name":"ret","old":"txt"},{"name":"tls","new":"c1"}]}]}`,
		},
		{
			name: "PropertyTypeChanged",
			a:    `[{"id":"n1","type":"inject","repeat":""}]`,
			b:    `[{"id":"n1","type":"inject","repeat":5}]`,
			want: `{"added":[],"removed":[],"changed":[{"id":"n1","type":"inject","properties":[` +
				`{"name":"repeat","old":"","new":5}]}]}`,
		},
		{
			name: "KeyOrderOnlyIsChangedWithoutProperties",
			a:    `[{"id":"n1","type":"inject","x":1,"y":2}]`,
			b:    `[{"id":"n1","type":"inject","y":2,"x":1}]`,
			want: `{"added":[],"removed":[],"changed":[{"id":"n1","type":"inject","properties":[]}]}`,
		},
		{
			name: "CodePropertyGetsUnified",
			a:    `[{"id":"n1","type":"function","func":"return 1;"}]`,
			b:    `[{"id":"n1","type":"function","func":"return 2;"}]`,
			want: `{"added":[],"removed":[],"changed":[{"id":"n1","type":"function","properties":[` +
				`{"name":"func","old":"return 1;","new":"return 2;",` +
				`"unified":"--- a/n1/func\n+++ b/n1/func\n@@ -1 +1 @@\n-return 1;\n\\ No newline at end of file\n+return 2;\n\\ No newline at end of file\n"}]}]}`,
		},
		{
			name: "MultilineStringGetsUnified",
			a:    `[{"id":"n1","type":"inject","payload":"a\nb"}]`,
			b:    `[{"id":"n1","type":"inject","payload":"a\nc"}]`,
			want: `{"added":[],"removed":[],"changed":[{"id":"n1","type":"inject","properties":[` +
				`{"name":"payload","old":"a\nb","new":"a\nc",` +
				`"unified":"--- a/n1/payload\n+++ b/n1/payload\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n"}]}]}`,
		},
		{
			name: "SingleLineStringGetsNoUnified",
			a:    `[{"id":"n1","type":"inject","payload":"a"}]`,
			b:    `[{"id":"n1","type":"inject","payload":"b"}]`,
			want: `{"added":[],"removed":[],"changed":[{"id":"n1","type":"inject","properties":[` +
				`{"name":"payload","old":"a","new":"b"}]}]}`,
		},
		{
			name: "CodeAddedGetsNoUnified",
			a:    `[{"id":"n1","type":"function"}]`,
			b:    `[{"id":"n1","type":"function","func":"return msg;"}]`,
			want: `{"added":[],"removed":[],"changed":[{"id":"n1","type":"function","properties":[` +
				`{"name":"func","new":"return msg;"}]}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := domain.DiffFlowsNodes(parseOrNil(t, tt.a), parseOrNil(t, tt.b))
			if got, want := diffJSON(t, d), indentJSON(t, tt.want); got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestFlowsDiffWithoutPositionOnly(t *testing.T) {
	a := mustParse(t, []byte(`[{"id":"n1","type":"inject","x":1,"y":2},{"id":"n2","type":"debug","name":"a","x":1,"y":2}]`))
	t.Run("DropsPositionOnly", func(t *testing.T) {
		b := mustParse(t, []byte(`[{"id":"n1","type":"inject","x":5,"y":6},{"id":"n2","type":"debug","name":"b","x":9,"y":2}]`))
		d := domain.DiffFlowsNodes(a, b)
		if got := len(d.Changed); got != 2 {
			t.Fatalf("got %d changed, want 2", got)
		}
		got := d.WithoutPositionOnly()
		if len(got.Changed) != 1 || got.Changed[0].ID != "n2" {
			t.Errorf("got changed %+v, want n2 only", got.Changed)
		}
		if len(d.Changed) != 2 {
			t.Errorf("got %d changed in the original, want it untouched", len(d.Changed))
		}
	})
	t.Run("OnlyPositionIsEmpty", func(t *testing.T) {
		b := mustParse(t, []byte(`[{"id":"n1","type":"inject","x":5,"y":6},{"id":"n2","type":"debug","name":"a","x":1,"y":3}]`))
		d := domain.DiffFlowsNodes(a, b)
		if d.IsEmpty() {
			t.Errorf("got IsEmpty true before filtering, want false")
		}
		got := d.WithoutPositionOnly()
		if !got.IsEmpty() {
			t.Errorf("got %s, want empty", diffJSON(t, got))
		}
		if s := diffJSON(t, got); s != indentJSON(t, `{"added":[],"removed":[],"changed":[]}`) {
			t.Errorf("got %s, want empty lists, not null", s)
		}
	})
}

// TestDiffFlowsNodesDeletedAndReadded follows a node through three
// revisions: there, deleted, back with the same id.
func TestDiffFlowsNodesDeletedAndReadded(t *testing.T) {
	const tab = `{"id":"t1","type":"tab","label":"Flow 1"}`
	revA := mustParse(t, []byte(`[`+tab+`,{"id":"n1","type":"debug","z":"t1","name":"log","active":true}]`))
	revB := mustParse(t, []byte(`[`+tab+`]`))
	revC := mustParse(t, []byte(`[`+tab+`,{"id":"n1","type":"debug","z":"t1","name":"log","active":false}]`))
	revCSame := mustParse(t, []byte(`[`+tab+`,{"id":"n1","type":"debug","z":"t1","name":"log","active":true}]`))
	n1 := `{"id":"n1","type":"debug","name":"log"}`
	tests := []struct {
		name string
		a, b *domain.Flows
		want string
	}{
		{"DeletedIsRemoved", revA, revB, `{"added":[],"removed":[` + n1 + `],"changed":[]}`},
		{"ReaddedIsAdded", revB, revC, `{"added":[` + n1 + `],"removed":[],"changed":[]}`},
		{"ReaddedChangedIsChanged", revA, revC, `{"added":[],"removed":[],"changed":[{"id":"n1","type":"debug","name":"log",` +
			`"properties":[{"name":"active","old":true,"new":false}]}]}`},
		{"ReaddedSameIsEmpty", revA, revCSame, `{"added":[],"removed":[],"changed":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := diffJSON(t, domain.DiffFlowsNodes(tt.a, tt.b)), indentJSON(t, tt.want); got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

const oldFunc = `// Route orders by total.
const order = msg.payload || {};
if (!order.id) {
    node.warn("order without id");
    return null;
}
let total = 0;
for (const line of order.lines || []) {
    total += line.qty * line.price;
}
msg.total = total;
if (total > 1000) {
    msg.priority = "high";
}
node.status({fill: "green", shape: "dot", text: "ok"});
return msg;`

const newFunc = `// Route orders by total.
const order = msg.payload || {};
if (!order.id) {
    node.error("order without id", msg);
    return null;
}
let total = 0;
for (const line of order.lines || []) {
    total += line.qty * line.price;
}
msg.total = total;
if (total > 1000) {
    msg.priority = "high";
}
node.status({fill: "green", shape: "dot", text: "ok"});
node.done();
return msg;
`

// TestDiffFlowsNodesFunctionGolden checks a function node's code change,
// the diff an auditor reads most, against testdata/diff.
func TestDiffFlowsNodesFunctionGolden(t *testing.T) {
	a := mustParse(t, joinDoc([][]byte{obj("id", "f1", "type", "function", "z", "t1", "name", "route",
		"func", oldFunc, "outputs", 1, "x", 300, "y", 120, "wires", [][]string{{"n2"}})}))
	b := mustParse(t, joinDoc([][]byte{obj("id", "f1", "type", "function", "z", "t1", "name", "route",
		"func", newFunc, "outputs", 2, "x", 300, "y", 120, "wires", [][]string{{"n2"}, {}})}))
	d := domain.DiffFlowsNodes(a, b)
	if len(d.Changed) != 1 {
		t.Fatalf("got %d changed, want 1", len(d.Changed))
	}
	c := d.Changed[0]
	if c.PositionOnly || c.Moved != nil || c.Group != nil {
		t.Errorf("got positionOnly %v, moved %v, group %v; want false, nil, nil", c.PositionOnly, c.Moved, c.Group)
	}
	var names []string
	var unified string
	for _, p := range c.Properties {
		names = append(names, p.Name)
		if p.Name == "func" {
			unified = p.Unified
		}
	}
	if got, want := names, []string{"func", "outputs", "wires"}; !slices.Equal(got, want) {
		t.Errorf("got properties %q, want %q", got, want)
	}
	checkGolden(t, "function.diff", []byte(unified))
	checkGolden(t, "function.json", []byte(diffJSON(t, d)+"\n"))
}

func TestNodeDiff(t *testing.T) {
	n := domain.Node{ID: "n1", Type: "debug", Name: "log", Raw: []byte(`{"id":"n1","type":"debug","name":"log","x":1}`)}
	tests := []struct {
		name string
		a, b domain.Node
		want string
	}{
		{"FromZeroAllAdded", domain.Node{}, n, `{"id":"n1","type":"debug","name":"log","properties":[` +
			`{"name":"id","new":"n1"},{"name":"name","new":"log"},{"name":"type","new":"debug"},{"name":"x","new":1}]}`},
		{"ToZeroAllRemoved", n, domain.Node{}, `{"id":"n1","type":"debug","name":"log","properties":[` +
			`{"name":"id","old":"n1"},{"name":"name","old":"log"},{"name":"type","old":"debug"},{"name":"x","old":1}]}`},
		{"SameIsNoProperties", n, n, `{"id":"n1","type":"debug","name":"log","properties":[]}`},
		{"WhitespaceIgnored", n, domain.Node{ID: "n1", Type: "debug", Name: "log", Raw: []byte(`{ "id": "n1", "type": "debug", "name": "log", "x": 1 }`)},
			`{"id":"n1","type":"debug","name":"log","properties":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := diffJSON(t, domain.NodeDiff(tt.a, tt.b)), indentJSON(t, tt.want); got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// BenchmarkDiffFlowsNodes diffs a 1 MB document against itself with 100 of
// its 2000 nodes edited.
func BenchmarkDiffFlowsNodes(b *testing.B) {
	doc := domaintest.NewDoc(2000)
	before := mustParse(b, doc.Bytes())
	for i := range 100 {
		doc.Touch(i * 20)
	}
	after := mustParse(b, doc.Bytes())
	b.SetBytes(int64(after.Size()))
	b.ReportAllocs()
	for b.Loop() {
		if d := domain.DiffFlowsNodes(before, after); len(d.Changed) != 100 {
			b.Fatalf("got %d changed, want 100", len(d.Changed))
		}
	}
}
