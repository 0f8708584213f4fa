package domain_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/flowhist/flowhist/domain"
)

// realisticDoc returns a Node-RED-like flows document of n nodes as
// JSON.stringify writes it, about 500 bytes a node: a tab every 50 nodes,
// then function nodes with code, injects, changes, switches, debugs and
// HTTP requests. Edit v of the document changes function node 7's code
// (v = 0 is the original).
func realisticDoc(n, v int) []byte {
	raws := make([][]byte, n)
	for i := range raws {
		edit := 0
		if i == 7 {
			edit = v
		}
		raws[i] = realisticNode(i, edit)
	}
	return joinDoc(raws)
}

func joinDoc(raws [][]byte) []byte {
	return append(append([]byte{'['}, bytes.Join(raws, []byte{','})...), ']')
}

func nodeID(i int) string { return fmt.Sprintf("%016x", uint64(i)*0x9e3779b97f4a7c15) }

func realisticNode(i, edit int) []byte {
	tab := nodeID(i / 50 * 50)
	if i%50 == 0 {
		return obj("id", tab, "type", "tab", "label", fmt.Sprintf("Flow %d", i/50), "disabled", false,
			"info", "Handles <orders> & \"refunds\" — ünïcode ✓", "env", []any{})
	}
	x, y := 120+i%7*180, 40+i%50*60
	wires := [][]string{{nodeID(i + 1)}}
	switch i % 6 {
	case 1:
		code := fmt.Sprintf("// edit %d\nconst items = msg.payload.items || [];\nlet total = 0;\n"+
			"for (const it of items) {\n    if (it.qty > 0 && it.price != null) {\n        total += it.qty * it.price;\n    }\n}\n"+
			"if (total > 1000) {\n    node.warn(\"large order: \" + total + \" \\u20ac\");\n}\n"+
			"// Group by customer, keeping the order of first appearance.\n"+
			"const byCustomer = new Map();\nfor (const it of items) {\n    const key = it.customer && it.customer.id;\n"+
			"    if (!key) { continue; }\n    const group = byCustomer.get(key) || { id: key, name: it.customer.name, lines: [] };\n"+
			"    group.lines.push({ sku: it.sku, qty: it.qty, price: it.price });\n    byCustomer.set(key, group);\n}\n"+
			"const vat = env.get(\"VAT_RATE\") || 0.19;\nconst net = Math.round(total * 100) / 100;\n"+
			"node.status({ fill: total > 0 ? \"green\" : \"grey\", shape: \"dot\", text: `${items.length} items, ${net}` });\n"+
			"msg.payload = { total: net, gross: Math.round(net * (1 + vat) * 100) / 100, count: items.length,\n"+
			"    customers: [...byCustomer.values()], at: new Date().toISOString() };\n"+
			"msg.headers = { \"content-type\": \"application/json\", \"x-correlation-id\": msg._msgid };\n"+
			"flow.set('lastTotal', net);\nreturn msg;", edit)
		return obj("id", nodeID(i), "type", "function", "z", tab, "name", fmt.Sprintf("total order %d", i),
			"info", "Totals an order and groups its lines by customer; see the ERP docs.", "func", code, "outputs", 1, "timeout", 0, "noerr", 0, "initialize", "", "finalize", "", "libs", []any{},
			"x", x, "y", y, "wires", wires)
	case 2:
		return obj("id", nodeID(i), "type", "inject", "z", tab, "name", "every minute",
			"props", []map[string]string{{"p": "payload"}, {"p": "topic", "vt": "str"}},
			"repeat", "60", "crontab", "", "once", false, "onceDelay", 0.1, "topic", "orders/poll",
			"payload", "", "payloadType", "date", "x", x, "y", y, "wires", wires)
	case 3:
		return obj("id", nodeID(i), "type", "change", "z", tab, "name", "",
			"rules", []map[string]any{{"t": "set", "p": "topic", "pt": "msg", "to": "orders/total", "tot": "str"},
				{"t": "delete", "p": "headers", "pt": "msg"}},
			"action", "", "property", "", "from", "", "to", "", "reg", false, "x", x, "y", y, "wires", wires)
	case 4:
		return obj("id", nodeID(i), "type", "switch", "z", tab, "name", "by status", "property", "payload.status",
			"propertyType", "msg", "rules", []map[string]string{{"t": "eq", "v": "paid", "vt": "str"}, {"t": "else"}},
			"checkall", "true", "repair", false, "outputs", 2, "x", x, "y", y,
			"wires", [][]string{{nodeID(i + 1)}, {nodeID(i + 2)}})
	case 5:
		return obj("id", nodeID(i), "type", "http request", "z", tab, "name", "post to ERP", "method", "POST",
			"ret", "obj", "paytoqs", "ignore", "url", "https://erp.example.com/api/v2/orders?source=node-red&x=1",
			"tls", "", "persist", false, "proxy", "", "insecureHTTPParser", false, "authType", "",
			"senderr", false, "headers", []map[string]string{{"keyType": "Content-Type", "valueType": "other", "valueValue": "application/json"}},
			"x", x, "y", y, "wires", wires)
	default:
		return obj("id", nodeID(i), "type", "debug", "z", tab, "name", "debug order", "active", true,
			"tosidebar", true, "console", false, "tostatus", false, "complete", "payload", "targetType", "msg",
			"statusVal", "", "statusType", "auto", "x", x, "y", y, "wires", []any{})
	}
}

// obj writes an object with its keys in the given order, values as
// JSON.stringify writes them (no HTML escaping).
func obj(kv ...any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	b.WriteByte('{')
	for i := 0; i < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := enc.Encode(kv[i]); err != nil {
			panic(err)
		}
		b.Truncate(b.Len() - 1)
		b.WriteByte(':')
		if err := enc.Encode(kv[i+1]); err != nil {
			panic(err)
		}
		b.Truncate(b.Len() - 1)
	}
	b.WriteByte('}')
	return b.Bytes()
}

func mustParse(tb testing.TB, doc []byte) *domain.Flows {
	tb.Helper()
	f, err := domain.ParseFlows(doc)
	if err != nil {
		tb.Fatalf("ParseFlows(%.80q…): %v", doc, err)
	}
	return f
}

func TestParseFlows(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  string // Bytes()
		nodes []domain.Node
	}{
		{"Empty", `[]`, `[]`, nil},
		{"EmptyWithWhitespace", " \n[ \t]\r\n", `[]`, nil},
		{"OK", `[{"id":"a","type":"tab","label":"Flow 1"},{"id":"b","type":"inject","z":"a","name":"tick","x":1.5e3}]`,
			`[{"id":"a","type":"tab","label":"Flow 1"},{"id":"b","type":"inject","z":"a","name":"tick","x":1.5e3}]`,
			[]domain.Node{{ID: "a", Type: "tab"}, {ID: "b", Type: "inject", Name: "tick", Z: "a"}}},
		{"WhitespaceAroundArrayKept", "  [{\"id\":\"a\"}]\n", `[{"id":"a"}]`, []domain.Node{{ID: "a"}}},
		{"Compacted", "[\n  {\n    \"id\" : \"a\",\n\t\"s\": \" keep  this \\\" \",\n    \"w\": [ [ \"b\" ] , { } ]\n  } ,\n  { \"id\":\"b\" }\n]",
			`[{"id":"a","s":" keep  this \" ","w":[["b"],{}]},{"id":"b"}]`, []domain.Node{{ID: "a"}, {ID: "b"}}},
		{"NonStringPropertiesEmpty", `[{"id":"a","type":1,"name":null,"z":["t"]}]`, `[{"id":"a","type":1,"name":null,"z":["t"]}]`,
			[]domain.Node{{ID: "a"}}},
		{"LastDuplicateKeyWins", `[{"id":1,"type":"x","name":"n","id":"a","type":"y","name":false}]`, ``,
			[]domain.Node{{ID: "a", Type: "y"}}},
		{"EscapedKeysAndValues", `[{"\u0069d":"a\"b\\c\u00e9\ud83d\ude00","t\u0079pe":"\/x","\u006eame":"l\u2028m","z":"\t"}]`, ``,
			[]domain.Node{{ID: "a\"b\\cé😀", Type: "/x", Name: "l\u2028m", Z: "\t"}}},
		{"NestedIDIgnored", `[{"x":{"id":"inner","type":"t"},"id":"outer"}]`, ``, []domain.Node{{ID: "outer"}}},
		{"EscapesKeptInBytes", `[{"id":"\u0061","v":"<\u003c&\u0026\/"}]`, ``, []domain.Node{{ID: "a"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := domain.ParseFlows([]byte(tt.in))
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			want := tt.want
			if want == "" {
				want = tt.in
			}
			if got := string(f.Bytes()); got != want {
				t.Errorf("got Bytes %s, want %s", got, want)
			}
			if got := f.Size(); got != len(want) {
				t.Errorf("got Size %d, want %d", got, len(want))
			}
			if got := f.Len(); got != len(tt.nodes) {
				t.Fatalf("got %d nodes, want %d", got, len(tt.nodes))
			}
			for i, n := range f.Nodes() {
				w := tt.nodes[i]
				if n.ID != w.ID || n.Type != w.Type || n.Name != w.Name || n.Z != w.Z {
					t.Errorf("node %d: got %q %q %q %q, want %q %q %q %q", i, n.ID, n.Type, n.Name, n.Z, w.ID, w.Type, w.Name, w.Z)
				}
				if got, ok := f.Node(n.ID); !ok || !bytes.Equal(got.Raw, n.Raw) {
					t.Errorf("Node(%q): got %s %v, want %s", n.ID, got.Raw, ok, n.Raw)
				}
			}
		})
	}
}

func TestParseFlowsRawIsElement(t *testing.T) {
	f := mustParse(t, []byte(`[{"id":"a","v":[1,{"b":2}]},{"id":"b"}]`))
	for i, want := range []string{`{"id":"a","v":[1,{"b":2}]}`, `{"id":"b"}`} {
		if got := string(f.Nodes()[i].Raw); got != want {
			t.Errorf("node %d: got %s, want %s", i, got, want)
		}
	}
}

func TestParseFlowsInvalid(t *testing.T) {
	tests := []struct {
		name, in, want string // want: a part of the message
	}{
		{"ErrEmptyInput", ``, "not a JSON array"},
		{"ErrObject", `{"id":"a"}`, "not a JSON array"},
		{"ErrNull", `null`, "not a JSON array"},
		{"ErrNotObject", `[{"id":"a"},{"id":"b"},{"id":"c"},42]`, "element 3 is not an object"},
		{"ErrArrayElement", `[[{"id":"a"}]]`, "element 0 is not an object"},
		{"ErrNoID", `[{"id":"a"},{"id":"b"},{"type":"x","x":{"id":"c"}}]`, `element 2 has no "id"`},
		{"ErrNumericID", `[{"id":"a"},{"id":"b"},{"id":"c"},{"id":"d"},{"id":"e"},{"id":5}]`, `element 5 "id" is not a non-empty string`},
		{"ErrEmptyID", `[{"id":""}]`, `element 0 "id" is not a non-empty string`},
		{"ErrLastIDNotString", `[{"id":"a","id":null}]`, `element 0 "id" is not a non-empty string`},
		{"ErrDuplicateID", `[{"id":"x"},{"id":"abc"},{"id":"y"},{"id":"z"},{"id":"abc"}]`, `duplicate id "abc" at elements 1 and 4`},
		{"ErrDuplicateEscapedID", `[{"id":"ab"},{"id":"\u0061b"}]`, `duplicate id "ab" at elements 0 and 1`},
		{"ErrDuplicateIDPretty", "[\n {\"id\": \"a\"},\n {\"id\": \"a\"}\n]", `duplicate id "a" at elements 0 and 1`},
		{"ErrTrailingData", `[{"id":"a"}] x`, "invalid JSON at byte 13: data after the array"},
		{"ErrTwoArrays", `[][]`, "invalid JSON at byte 2: data after the array"},
		{"ErrUnterminatedArray", `[{"id":"a"}`, "invalid JSON at byte 11: unterminated array"},
		{"ErrTrailingComma", `[{"id":"a"},]`, "element 1 is not an object"},
		{"ErrTrailingCommaInObject", `[{"id":"a",}]`, "invalid JSON at byte 11: expected a string key"},
		{"ErrMissingColon", `[{"id" "a"}]`, "expected ':'"},
		{"ErrMissingComma", `[{"id":"a" "b":1}]`, "expected ',' or '}'"},
		{"ErrUnquotedKey", `[{id:"a"}]`, "expected a string key"},
		{"ErrSingleQuotes", `[{"id":'a'}]`, "invalid JSON at byte 7"},
		{"ErrUnterminatedString", `[{"id":"a}]`, "unterminated string"},
		{"ErrControlCharacter", "[{\"id\":\"a\tb\"}]", "control character 0x09"},
		{"ErrNULInString", "[{\"id\":\"a\",\"v\":\"\x00\"}]", "control character"},
		{"ErrBadEscape", `[{"id":"a\x"}]`, "invalid escape"},
		{"ErrShortUnicodeEscape", `[{"id":"a\u12"}]`, `invalid \u escape`},
		{"ErrNonHexUnicodeEscape", `[{"id":"a\u12g4"}]`, `invalid \u escape`},
		{"ErrLeadingZero", `[{"id":"a","x":012}]`, "invalid JSON"},
		{"ErrLeadingPlus", `[{"id":"a","x":+1}]`, "invalid JSON"},
		{"ErrBareMinus", `[{"id":"a","x":-}]`, "invalid number"},
		{"ErrBareDot", `[{"id":"a","x":1.}]`, "invalid number"},
		{"ErrLeadingDot", `[{"id":"a","x":.5}]`, "invalid JSON"},
		{"ErrBareExponent", `[{"id":"a","x":1e}]`, "invalid number"},
		{"ErrHex", `[{"id":"a","x":0x10}]`, "invalid JSON"},
		{"ErrNaN", `[{"id":"a","x":NaN}]`, "invalid JSON"},
		{"ErrTruncatedLiteral", `[{"id":"a","x":tru}]`, "invalid literal"},
		{"ErrCapitalLiteral", `[{"id":"a","x":True}]`, "invalid JSON"},
		{"ErrUnclosedNested", `[{"id":"a","x":[1,2}]`, "expected ',' or ']'"},
		{"ErrUnclosedObject", `[{"id":"a","x":{"y":1]}]`, "expected ',' or '}'"},
		{"ErrEmptyValue", `[{"id":"a","x":}]`, "invalid JSON"},
		{"ErrCommentOutside", `[{"id":"a"}] // x`, "data after the array"},
		{"ErrTooDeep", `[{"id":"a","x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}]`, "nested too deeply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := domain.ParseFlows([]byte(tt.in))
			if err == nil {
				t.Fatalf("got %d nodes, want an error", f.Len())
			}
			if code := domain.ErrorCode(err); code != domain.EINVALID {
				t.Errorf("got code %q, want %q", code, domain.EINVALID)
			}
			if msg := domain.ErrorMessage(err); !strings.HasPrefix(msg, "flows: ") || !strings.Contains(msg, tt.want) {
				t.Errorf("got message %q, want one containing %q", msg, tt.want)
			}
		})
	}
}

// TestParseFlowsDepth checks that nesting is limited where json.Valid limits
// it.
func TestParseFlowsDepth(t *testing.T) {
	for _, depth := range []int{9999, 10000, 10001} {
		// The array and the node object are 2 levels.
		in := `[{"id":"a","x":` + strings.Repeat("[", depth-2) + strings.Repeat("]", depth-2) + `}]`
		want := json.Valid([]byte(in))
		t.Run(fmt.Sprintf("Depth%dValid%v", depth, want), func(t *testing.T) {
			if _, err := domain.ParseFlows([]byte(in)); (err == nil) != want {
				t.Errorf("got error %v, want valid %v like json.Valid", err, want)
			}
		})
	}
}

func TestFlowsNil(t *testing.T) {
	var f *domain.Flows
	if got := string(f.Bytes()); got != "[]" {
		t.Errorf("got Bytes %s, want []", got)
	}
	if got := f.Size(); got != 2 {
		t.Errorf("got Size %d, want 2", got)
	}
	if got := f.Len(); got != 0 {
		t.Errorf("got Len %d, want 0", got)
	}
	if _, ok := f.Node("a"); ok {
		t.Error("got a node, want none")
	}
	if got, want := f.SHA256(), sha256Hex([]byte("[]")); got != want {
		t.Errorf("got SHA256 %s, want %s", got, want)
	}
	if got, want := mustParse(t, []byte("[]")).SHA256(), f.SHA256(); got != want {
		t.Errorf("got SHA256 of [] %s, want %s", got, want)
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestFlowsSHA256(t *testing.T) {
	doc := realisticDoc(300, 0)
	f := mustParse(t, doc)
	if got, want := f.SHA256(), sha256Hex(doc); got != want {
		t.Errorf("parsed: got %s, want %s", got, want)
	}
	// A document built by Apply is hashed without its bytes being built.
	next := realisticDoc(300, 1)
	g, err := f.Apply(domain.DiffFlows(f, mustParse(t, next)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := g.SHA256(), sha256Hex(next); got != want {
		t.Errorf("applied: got %s, want %s", got, want)
	}
	if !bytes.Equal(g.Bytes(), next) || g.Size() != len(next) {
		t.Errorf("applied: got %d bytes (Size %d), want the %d of the document", len(g.Bytes()), g.Size(), len(next))
	}
}

// TestParseFlowsGolden checks compaction against Node.js: testdata/pretty.json
// is JSON.stringify(flows, null, 4), as Node-RED writes flows.json with
// flowFilePretty, and testdata/compact.json is JSON.stringify(flows), both
// written by testdata/stringify.js (`node testdata/stringify.js`).
func TestParseFlowsGolden(t *testing.T) {
	pretty, err := os.ReadFile("testdata/pretty.json")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/compact.json")
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{"Pretty": pretty, "Compact": want} {
		t.Run(name+"GivesStringify", func(t *testing.T) {
			f := mustParse(t, in)
			if got := f.Bytes(); !bytes.Equal(got, want) {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
			if got, want := f.SHA256(), sha256Hex(want); got != want {
				t.Errorf("got SHA256 %s, want %s", got, want)
			}
		})
	}
}

// FuzzParseFlows checks ParseFlows against encoding/json: it accepts exactly
// the valid arrays of objects with unique non-empty string ids, reads the
// same properties and compacts exactly like json.Compact.
func FuzzParseFlows(f *testing.F) {
	for _, s := range []string{
		`[]`, `[{"id":"a"}]`, `[{"id":"a","type":"t","name":"n","z":"z"},{"id":"b","x":[1,2.5e-3,true,null,{}]}]`,
		"[\n {\"id\": \"a\" , \"v\":\"\\u00e9\\n\\\"\" }\n]", `[{"\u0069d":"\ud800"},{"id":"\udc00"}]`,
		`[{"id":"a"},{"id":"a"}]`, `[{"id":1}]`, `[{"id":"a"},]`, `{"id":"a"}`, `[{"id":"a","x":-0.0E+1}]`,
		string(realisticDoc(8, 0)),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := domain.ParseFlows(in)
		var elems []map[string]any
		// json.Unmarshal reads null into a nil slice.
		isArray := json.Valid(in) && bytes.TrimLeft(in, " \t\r\n")[0] == '[' && json.Unmarshal(in, &elems) == nil
		if err != nil {
			if code := domain.ErrorCode(err); code != domain.EINVALID {
				t.Fatalf("got code %q, want %q", code, domain.EINVALID)
			}
			// encoding/json reads lone surrogates and invalid UTF-8 as
			// U+FFFD, so ids it finds unique are unique to ParseFlows too,
			// but not the other way round.
			if isArray && validIDs(elems, true) {
				t.Fatalf("got error %v, want none", err)
			}
			return
		}
		if !isArray || !validIDs(elems, false) {
			t.Fatalf("got %d nodes, want an error (json.Valid %v)", got.Len(), json.Valid(in))
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, in); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), compact.Bytes()) {
			t.Fatalf("got Bytes %q, want %q", got.Bytes(), compact.Bytes())
		}
		if got.Len() != len(elems) {
			t.Fatalf("got %d nodes, want %d", got.Len(), len(elems))
		}
		for i, n := range got.Nodes() {
			for _, p := range []struct{ key, got string }{{"id", n.ID}, {"type", n.Type}, {"name", n.Name}, {"z", n.Z}} {
				want, _ := elems[i][p.key].(string)
				// encoding/json turns lone surrogates and invalid UTF-8
				// into U+FFFD; ParseFlows keeps them apart.
				if p.got != want && (strings.ContainsRune(want, '\ufffd') || !utf8.ValidString(p.got)) {
					continue
				}
				if p.got != want {
					t.Fatalf("node %d %s: got %q, want %q", i, p.key, p.got, want)
				}
			}
		}
	})
}

// validIDs reports whether every element has a non-empty string id and,
// if unique, whether the ids, as encoding/json reads them, are unique.
func validIDs(elems []map[string]any, unique bool) bool {
	seen := map[string]bool{}
	for _, e := range elems {
		id, ok := e["id"].(string)
		if e == nil || !ok || id == "" || unique && seen[id] {
			return false
		}
		seen[id] = true
	}
	return true
}

// TestFlowsConcurrentReads shares a document built by Apply, whose bytes and
// hash are computed on first use, between goroutines (run with -race).
func TestFlowsConcurrentReads(t *testing.T) {
	a := mustParse(t, realisticDoc(100, 0))
	next := realisticDoc(100, 1)
	f, err := a.Apply(domain.DiffFlows(a, mustParse(t, next)))
	if err != nil {
		t.Fatal(err)
	}
	want := sha256Hex(next)
	done := make(chan string)
	for i := range 8 {
		go func() {
			if i%2 == 0 {
				done <- sha256Hex(f.Bytes())
			} else {
				done <- f.SHA256()
			}
		}()
	}
	for range 8 {
		if got := <-done; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}
