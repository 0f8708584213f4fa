package domaintest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/flowhist/flowhist/domain"
)

// Doc is a Node-RED flows document being edited: tabs, and nodes of the
// common types with realistic properties (a function node carries ~300
// bytes of code), about 500 bytes a node on average.
type Doc struct {
	nodes [][]byte
	edits []int
}

// NewDoc returns a document of n nodes, the same for the same n.
func NewDoc(n int) *Doc {
	d := &Doc{nodes: make([][]byte, n), edits: make([]int, n)}
	for i := range d.nodes {
		d.nodes[i] = node(i, 0)
	}
	return d
}

// Len returns the number of nodes.
func (d *Doc) Len() int { return len(d.nodes) }

// Touch changes node i as an edit in the editor would (its name and, for a
// function node, its code), so that the next Bytes differs in that node only.
func (d *Doc) Touch(i int) {
	d.edits[i]++
	d.nodes[i] = node(i, d.edits[i])
}

// Bytes returns the document as JSON.stringify would write it.
func (d *Doc) Bytes() []byte {
	return append(append([]byte{'['}, bytes.Join(d.nodes, []byte{','})...), ']')
}

// Flows returns the document parsed, failing tb if it does not parse.
func (d *Doc) Flows(tb testing.TB) *domain.Flows {
	tb.Helper()
	f, err := domain.ParseFlows(d.Bytes())
	if err != nil {
		tb.Fatalf("ParseFlows: %v", err)
	}
	return f
}

// Node returns node i's bytes.
func (d *Doc) Node(i int) []byte { return d.nodes[i] }

// ID returns node i's id.
func ID(i int) string { return fmt.Sprintf("n%015x", i*2654435761%(1<<60)) }

func tabID(i int) string { return fmt.Sprintf("t%015x", i/50) }

// node builds node i at its edit-th version. Keys are written in the order
// Node-RED's editor writes them; encoding/json would sort a map's keys, so
// each type has a struct.
func node(i, edit int) []byte {
	if i%50 == 0 {
		return marshal(struct {
			ID       string `json:"id"`
			Type     string `json:"type"`
			Label    string `json:"label"`
			Disabled bool   `json:"disabled"`
			Info     string `json:"info"`
			Env      []any  `json:"env"`
		}{tabID(i), "tab", fmt.Sprintf("Flow %d v%d", i/50, edit), false, "Handles <orders> & \"refunds\" — ünïcode ✓", []any{}})
	}
	wires := [][]string{{ID(i + 1)}}
	x, y := 100+(i%7)*150, 40+(i%50)*40
	switch i % 5 {
	case 0, 1:
		return marshal(struct {
			ID         string     `json:"id"`
			Type       string     `json:"type"`
			Z          string     `json:"z"`
			Name       string     `json:"name"`
			Info       string     `json:"info"`
			Func       string     `json:"func"`
			Outputs    int        `json:"outputs"`
			Timeout    int        `json:"timeout"`
			Noerr      int        `json:"noerr"`
			Initialize string     `json:"initialize"`
			Finalize   string     `json:"finalize"`
			Libs       []any      `json:"libs"`
			X          int        `json:"x"`
			Y          int        `json:"y"`
			Wires      [][]string `json:"wires"`
		}{ID(i), "function", tabID(i), fmt.Sprintf("transform %d v%d", i, edit), info(i),
			fmt.Sprintf("// edit %d\nconst order = msg.payload || {};\nif (order.total > %d && order.currency === \"EUR\") {\n    msg.priority = \"high\";\n}\nmsg.headers = { \"x-node\": \"%s\" };\nnode.status({fill: \"green\", shape: \"dot\", text: `total ${order.total}`});\nreturn msg;", edit, i, ID(i)),
			1, 0, 0, "", "", []any{}, x, y, wires})
	case 2:
		return marshal(struct {
			ID       string     `json:"id"`
			Type     string     `json:"type"`
			Z        string     `json:"z"`
			Name     string     `json:"name"`
			Info     string     `json:"info"`
			URL      string     `json:"url"`
			Method   string     `json:"method"`
			Upload   bool       `json:"upload"`
			SwaggerD string     `json:"swaggerDoc"`
			X        int        `json:"x"`
			Y        int        `json:"y"`
			Wires    [][]string `json:"wires"`
		}{ID(i), "http in", tabID(i), fmt.Sprintf("endpoint %d v%d", i, edit), info(i), fmt.Sprintf("/api/v1/orders/%d", i), "post", false, "", x, y, wires})
	case 3:
		return marshal(struct {
			ID     string           `json:"id"`
			Type   string           `json:"type"`
			Z      string           `json:"z"`
			Name   string           `json:"name"`
			Info   string           `json:"info"`
			Rules  []map[string]any `json:"rules"`
			Action string           `json:"action"`
			X      int              `json:"x"`
			Y      int              `json:"y"`
			Wires  [][]string       `json:"wires"`
		}{ID(i), "change", tabID(i), fmt.Sprintf("set headers %d v%d", i, edit), info(i),
			[]map[string]any{{"t": "set", "p": "headers.content-type", "pt": "msg", "to": "application/json", "tot": "str"}}, "", x, y, wires})
	default:
		return marshal(struct {
			ID         string     `json:"id"`
			Type       string     `json:"type"`
			Z          string     `json:"z"`
			Name       string     `json:"name"`
			Info       string     `json:"info"`
			Active     bool       `json:"active"`
			Tosidebar  bool       `json:"tosidebar"`
			Console    bool       `json:"console"`
			Complete   string     `json:"complete"`
			TargetType string     `json:"targetType"`
			X          int        `json:"x"`
			Y          int        `json:"y"`
			Wires      [][]string `json:"wires"`
		}{ID(i), "debug", tabID(i), fmt.Sprintf("log %d v%d", i, edit), info(i), true, true, false, "payload", "msg", x, y, [][]string{}})
	}
}

func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // JSON.stringify does not escape <, > and &
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'})
}

// info is a node's description, as teams write them in the editor.
func info(i int) string {
	return fmt.Sprintf("Owned by team %d. Part of the order pipeline: validates the payload, adds tracing headers and hands over to the next stage. See runbook section %d before changing retries or timeouts.", i%13, i%97)
}
