package httpapi_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/httpapi"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares the JSON answer got, indented, with testdata/name, or
// rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(got), "", "  "); err != nil {
		t.Fatalf("indent %s: %v", got, err)
	}
	buf.WriteByte('\n')
	goldenBytes(t, name, buf.Bytes())
}

// goldenBytes compares got with testdata/name byte for byte, or rewrites
// the file with -update.
func goldenBytes(t *testing.T, name string, got []byte) {
	t.Helper()
	buf := bytes.NewBuffer(got)
	file := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (go test -run %s -update writes it)", err, t.Name())
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("got\n%s\nwant (%s)\n%s", buf.Bytes(), file, want)
	}
}

// diffAnswer is the answer of GET …/diff.
type diffAnswer = httpapi.Diff

func changedIDs(d diffAnswer) []string {
	out := []string{}
	for _, c := range d.Changed {
		out = append(out, c.ID)
	}
	return out
}

func property(d diffAnswer, id, name string) (domain.PropertyChange, bool) {
	for _, c := range d.Changed {
		if c.ID != id {
			continue
		}
		for _, p := range c.Properties {
			if p.Name == name {
				return p, true
			}
		}
	}
	return domain.PropertyChange{}, false
}

func propertyNames(ps []domain.PropertyChange) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

func refIDs(refs []domain.NodeRef) []string {
	out := []string{}
	for _, r := range refs {
		out = append(out, r.ID)
	}
	return out
}

// canvas is a flows document being edited node by node, written in a fixed
// order.
type canvas struct {
	order []string
	nodes map[string]string
}

func newCanvas() *canvas {
	c := &canvas{nodes: map[string]string{}}
	for _, n := range []struct{ id, raw string }{
		{"t1", `{"id":"t1","type":"tab","label":"Main","disabled":false,"info":""}`},
		{"sf1", `{"id":"sf1","type":"subflow","name":"retry","info":"","in":[{"x":50,"y":30,"wires":[{"id":"sfn1"}]}],"out":[{"x":300,"y":30,"wires":[{"id":"sfn1","port":0}]}],"env":[{"name":"RETRIES","type":"num","value":"3"}]}`},
		{"sfn1", `{"id":"sfn1","type":"delay","z":"sf1","name":"wait","timeout":"5","x":160,"y":30,"wires":[[]]}`},
		{"i1", `{"id":"i1","type":"subflow:sf1","z":"t1","name":"","x":120,"y":80,"wires":[["f1"]]}`},
		{"f1", `{"id":"f1","type":"function","z":"t1","name":"transform","func":"const a = msg.payload;\nmsg.payload = a * 2;\nreturn msg;","outputs":1,"x":300,"y":80,"wires":[["d1"]]}`},
		{"c1", `{"id":"c1","type":"comment","z":"t1","name":"hello","info":"","x":100,"y":20,"wires":[]}`},
		{"d1", `{"id":"d1","type":"debug","z":"t1","name":"out","active":true,"x":500,"y":80,"wires":[]}`},
	} {
		c.set(n.id, n.raw)
	}
	return c
}

// set adds or replaces a node (new ones go last).
func (c *canvas) set(id, raw string) {
	if _, ok := c.nodes[id]; !ok {
		c.order = append(c.order, id)
	}
	c.nodes[id] = raw
}

// edit replaces old with new in node id's bytes.
func (c *canvas) edit(tb testing.TB, id, old, new string) {
	tb.Helper()
	if !strings.Contains(c.nodes[id], old) {
		tb.Fatalf("node %s has no %s", id, old)
	}
	c.nodes[id] = strings.Replace(c.nodes[id], old, new, 1)
}

func (c *canvas) remove(id string) {
	delete(c.nodes, id)
	c.order = slices.DeleteFunc(c.order, func(x string) bool { return x == id })
}

func (c *canvas) bytes() []byte {
	raws := make([]string, len(c.order))
	for i, id := range c.order {
		raws[i] = c.nodes[id]
	}
	return []byte("[" + strings.Join(raws, ",") + "]")
}

// seedCanvas deploys, one revision each:
//
//	1 the canvas: tab t1, subflow sf1 (with sfn1), its instance i1, f1, c1, d1
//	2 f1 moved on the canvas
//	3 c1 renamed hello → greeting
//	4 f1's code changed
//	5 sf1's definition changed (env RETRIES 3 → 5)
//	6 d1 deleted
//	7 d1 re-added, as it was
//	8 n9 added, c1 removed
//	9 credentials saved
//	10 settings saved
func seedCanvas(t *testing.T, ts *testServer, ns string) {
	t.Helper()
	c := newCanvas()
	put := func(want domain.Revision) {
		var res appendResult
		ts.ok(t, "PUT", path(ns, "/flows"), c.bytes(), hdr{"Flowhist-User": "erin"}, &res)
		if res.Revision != want {
			t.Fatalf("got revision %d, want %d", res.Revision, want)
		}
	}
	put(1)
	c.edit(t, "f1", `"x":300,"y":80`, `"x":320,"y":140`)
	put(2)
	c.edit(t, "c1", `"name":"hello"`, `"name":"greeting"`)
	put(3)
	c.edit(t, "f1", `msg.payload = a * 2;\n`, `msg.payload = a * 3;\nnode.warn(a);\n`)
	put(4)
	c.edit(t, "sf1", `"value":"3"`, `"value":"5"`)
	put(5)
	d1 := c.nodes["d1"]
	c.remove("d1")
	put(6)
	c.set("d1", d1)
	put(7)
	c.set("n9", `{"id":"n9","type":"inject","z":"t1","name":"tick","repeat":"60","x":80,"y":200,"wires":[["f1"]]}`)
	c.remove("c1")
	put(8)
	ts.ok(t, "PUT", path(ns, "/credentials"), []byte(credsCipher), nil, nil)
	ts.ok(t, "PUT", path(ns, "/settings"), []byte(`{"telemetryEnabled":false}`), nil, nil)
}

func TestDiff(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	ns := randomNS(t)
	seedCanvas(t, ts, ns)

	diff := func(t *testing.T, query, goldenName string) diffAnswer {
		t.Helper()
		var d diffAnswer
		res := ts.ok(t, "GET", path(ns, "/diff?"+query), nil, hdr{"Authorization": "Bearer " + readSecret}, &d)
		if goldenName != "" {
			golden(t, filepath.Join("diff", goldenName+".json"), res.body)
		}
		if contains(res.body, credsCipherText) {
			t.Fatalf("got %s, want no credentials' text in it", res.body)
		}
		return d
	}
	wantLists := func(t *testing.T, d diffAnswer, added, removed, changed []string) {
		t.Helper()
		if !slices.Equal(refIDs(d.Added), added) || !slices.Equal(refIDs(d.Removed), removed) || !slices.Equal(changedIDs(d), changed) {
			t.Fatalf("got added %v, removed %v, changed %v, want %v, %v, %v", refIDs(d.Added), refIDs(d.Removed), changedIDs(d), added, removed, changed)
		}
	}
	none := []string{}

	t.Run("PositionOnly", func(t *testing.T) {
		d := diff(t, "from=1&to=2", "position-only")
		wantLists(t, d, none, none, []string{"f1"})
		if c := d.Changed[0]; !c.PositionOnly || !slices.Equal(propertyNames(c.Properties), []string{"x", "y"}) {
			t.Fatalf("got positionOnly %v, properties %v, want true, [x y]", c.PositionOnly, propertyNames(c.Properties))
		}
		if d.From != 1 || d.To != 2 {
			t.Fatalf("got from %d to %d, want 1 to 2", d.From, d.To)
		}
	})

	t.Run("PositionsFalseHidesMoves", func(t *testing.T) {
		wantLists(t, diff(t, "from=1&to=2&positions=false", "position-only-hidden"), none, none, none)
		// A move next to a real change: only the real change stays.
		wantLists(t, diff(t, "from=1&to=4&positions=false", ""), none, none, []string{"f1", "c1"})
		if d := diff(t, "from=3&to=4&positions=false", ""); len(d.Changed) != 1 || d.Changed[0].PositionOnly {
			t.Fatalf("got %+v, want f1's code change kept", d.Changed)
		}
	})

	t.Run("Renamed", func(t *testing.T) {
		d := diff(t, "from=2&to=3", "renamed")
		wantLists(t, d, none, none, []string{"c1"})
		p, ok := property(d, "c1", "name")
		if !ok || string(p.Old) != `"hello"` || string(p.New) != `"greeting"` {
			t.Fatalf("got name change %+v (found %v), want \"hello\" → \"greeting\"", p, ok)
		}
		if d.Changed[0].Name != "greeting" || d.Changed[0].PositionOnly {
			t.Fatalf("got %+v, want the new name and not positionOnly", d.Changed[0])
		}
	})

	t.Run("FunctionCode", func(t *testing.T) {
		d := diff(t, "from=3&to=4", "function-code")
		wantLists(t, d, none, none, []string{"f1"})
		p, ok := property(d, "f1", "func")
		if !ok {
			t.Fatalf("got properties %v, want func", propertyNames(d.Changed[0].Properties))
		}
		for _, line := range []string{"--- a/f1/func", "+++ b/f1/func", "-msg.payload = a * 2;", "+msg.payload = a * 3;", "+node.warn(a);", " return msg;"} {
			if !strings.Contains(p.Unified, line+"\n") {
				t.Fatalf("got unified diff\n%s\nwant a line %q", p.Unified, line)
			}
		}
	})

	t.Run("SubflowDefinition", func(t *testing.T) {
		d := diff(t, "from=4&to=5", "subflow-definition")
		wantLists(t, d, none, none, []string{"sf1"})
		if c := d.Changed[0]; c.Type != "subflow" || c.Name != "retry" || !slices.Equal(propertyNames(c.Properties), []string{"env"}) {
			t.Fatalf("got %s %q changing %v, want subflow \"retry\" changing [env]", c.Type, c.Name, propertyNames(c.Properties))
		}
	})

	t.Run("DeletedThenReAdded", func(t *testing.T) {
		wantLists(t, diff(t, "from=5&to=6", "deleted"), none, []string{"d1"}, none)
		wantLists(t, diff(t, "from=6&to=7", "re-added"), []string{"d1"}, none, none)
		// Across both, d1 is as it was.
		wantLists(t, diff(t, "from=5&to=7", ""), none, none, none)
	})

	t.Run("AddedAndRemoved", func(t *testing.T) {
		d := diff(t, "from=7&to=8", "added-removed")
		wantLists(t, d, []string{"n9"}, []string{"c1"}, none)
		if d.Added[0] != (domain.NodeRef{ID: "n9", Type: "inject", Name: "tick"}) || d.Removed[0] != (domain.NodeRef{ID: "c1", Type: "comment", Name: "greeting"}) {
			t.Fatalf("got added %+v, removed %+v, want n9 inject tick, c1 comment greeting", d.Added, d.Removed)
		}
	})

	t.Run("Credentials", func(t *testing.T) {
		for _, c := range []struct {
			query string
			want  bool
		}{
			{"from=8&to=9", true}, {"from=9&to=10", false}, {"from=1&to=8", false},
			{"from=1&to=10", true}, {"from=1&to=10&reverse=1", true}, {"from=9&to=9", false},
		} {
			d := diff(t, c.query, "")
			if d.Credentials.Changed != c.want {
				t.Fatalf("?%s: got credentials changed %v, want %v", c.query, d.Credentials.Changed, c.want)
			}
		}
		wantLists(t, diff(t, "from=8&to=10", "credentials"), none, none, none)
	})

	t.Run("Everything", func(t *testing.T) {
		d := diff(t, "from=1&to=10", "everything")
		wantLists(t, d, []string{"n9"}, []string{"c1"}, []string{"sf1", "f1"})
	})

	t.Run("Backwards", func(t *testing.T) {
		d := diff(t, "from=3&to=4&reverse=1", "")
		p, ok := property(d, "f1", "func")
		if !ok || !strings.Contains(p.Unified, "+msg.payload = a * 2;\n") || !strings.Contains(p.Unified, "-node.warn(a);\n") {
			t.Fatalf("got %+v, want the code change undone", p)
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		for _, q := range []string{"", "from=1", "to=2", "from=0&to=2", "from=1&to=0", "from=abc&to=2", "from=1&to=-2", "from=1.0&to=2", "from=4&to=3", "from=3&to=4&reverse=x"} {
			wantError(t, ts.do(t, "GET", path(ns, "/diff?"+q), nil, nil), http.StatusBadRequest, domain.EINVALID)
		}
	})

	t.Run("BeyondHead", func(t *testing.T) {
		for _, q := range []string{"from=1&to=11", "from=11&to=12", "from=1&to=99999"} {
			wantError(t, ts.do(t, "GET", path(ns, "/diff?"+q), nil, nil), http.StatusNotFound, domain.ENOTFOUND)
		}
	})
}

// nodeHistoryAnswer is the answer of GET …/nodes/{id}/history.
type nodeHistoryAnswer = httpapi.NodeHistory

func nodeHistorySummary(a nodeHistoryAnswer) string {
	parts := []string{}
	for _, e := range a.Entries {
		parts = append(parts, fmt.Sprintf("%d:%s", e.Revision, e.Change))
	}
	return strings.Join(parts, " ")
}

func TestNodeHistory(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	ns := randomNS(t)
	seedCanvas(t, ts, ns)
	nodeHistory := func(t *testing.T, id, query string) nodeHistoryAnswer {
		t.Helper()
		var a nodeHistoryAnswer
		ts.ok(t, "GET", path(ns, "/nodes/"+id+"/history?"+query), nil, nil, &a)
		if a.Node != id {
			t.Fatalf("got node %q, want %q", a.Node, id)
		}
		return a
	}

	t.Run("EveryChangeNewestFirst", func(t *testing.T) {
		for _, c := range []struct{ id, want string }{
			{"f1", "4:changed 2:changed 1:added"},
			{"c1", "8:removed 3:changed 1:added"},
			{"d1", "7:added 6:removed 1:added"},
			{"sf1", "5:changed 1:added"},
			{"n9", "8:added"},
			{"t1", "1:added"},
		} {
			if got := nodeHistorySummary(nodeHistory(t, c.id, "")); got != c.want {
				t.Fatalf("%s: got %s, want %s", c.id, got, c.want)
			}
		}
	})

	t.Run("PropertyChanges", func(t *testing.T) {
		a := nodeHistory(t, "f1", "")
		code, moved, added := a.Entries[0], a.Entries[1], a.Entries[2]
		if code.PositionOnly || !slices.Equal(propertyNames(code.Properties), []string{"func"}) || !strings.Contains(code.Properties[0].Unified, "+node.warn(a);\n") {
			t.Fatalf("revision 4: got %+v, want func changed with a unified diff", code)
		}
		if !moved.PositionOnly || !slices.Equal(propertyNames(moved.Properties), []string{"x", "y"}) || string(moved.Properties[0].New) != "320" {
			t.Fatalf("revision 2: got %+v, want a position-only move to x 320", moved)
		}
		if len(added.Properties) == 0 || added.Properties[0].Old != nil {
			t.Fatalf("revision 1: got %+v, want every property added", added)
		}
		if added.Actor.User != "erin" || added.Type != domain.FlowsDeployed {
			t.Fatalf("revision 1: got %s by %q, want flows.deployed by erin", added.Type, added.Actor.User)
		}
		c1 := nodeHistory(t, "c1", "")
		if p := c1.Entries[1].Properties; len(p) != 1 || p[0].Name != "name" || string(p[0].Old) != `"hello"` || string(p[0].New) != `"greeting"` {
			t.Fatalf("revision 3: got %+v, want name \"hello\" → \"greeting\"", p)
		}
		removed := c1.Entries[0]
		if len(removed.Properties) == 0 || removed.Properties[0].New != nil || removed.Properties[0].Old == nil {
			t.Fatalf("revision 8: got %+v, want every property removed", removed)
		}
	})

	t.Run("Pages", func(t *testing.T) {
		var got []string
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 3 {
				t.Fatalf("got more than 3 pages of 2 for 3 entries")
			}
			q := "limit=2"
			if cursor != "" {
				q += "&cursor=" + cursor
			}
			a := nodeHistory(t, "d1", q)
			got = append(got, nodeHistorySummary(a))
			if a.NextCursor == "" {
				break
			}
			cursor = a.NextCursor
		}
		if want := []string{"7:added 6:removed", "1:added"}; !slices.Equal(got, want) {
			t.Fatalf("got pages %q, want %q", got, want)
		}
	})

	t.Run("UnknownNode", func(t *testing.T) {
		wantError(t, ts.do(t, "GET", path(ns, "/nodes/nope/history"), nil, nil), http.StatusNotFound, domain.ENOTFOUND)
		wantError(t, ts.do(t, "GET", path(randomNS(t), "/nodes/f1/history"), nil, nil), http.StatusNotFound, domain.ENOTFOUND)
	})

	t.Run("Invalid", func(t *testing.T) {
		for _, q := range []string{"limit=0", "limit=501", "limit=x", "cursor=0", "cursor=x"} {
			wantError(t, ts.do(t, "GET", path(ns, "/nodes/f1/history?"+q), nil, nil), http.StatusBadRequest, domain.EINVALID)
		}
	})
}
