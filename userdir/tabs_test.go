package userdir_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/userdir"
)

func TestSplitFlows(t *testing.T) {
	doc := `[{"id":"c9","type":"ui-base","name":"UI"},` +
		`{"id":"t/1","type":"tab","label":"  Ünïcode / tab: ✓  "},` +
		`{"id":"n1","type":"debug","z":"t/1","wires":[]},` +
		`{"id":"n2","type":"debug","z":"gone","wires":[]},` +
		`{"id":"t2","type":"tab","label":""}]`
	files, err := userdir.SplitFlows([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	if want := []string{"Ünïcode-tab-t-1.json", "tab-t2.json", "_global.json"}; !slices.Equal(names, want) {
		t.Fatalf("got files %q, want %q", names, want)
	}
	var global []map[string]any
	json.Unmarshal(files[2].Data, &global)
	if len(global) != 2 || global[0]["id"] != "c9" || global[1]["id"] != "n2" {
		t.Errorf("got global nodes %v, want c9 and the orphan n2", global)
	}
	if !strings.HasPrefix(string(files[0].Data), "[\n    {\n        \"id\": \"t/1\",") {
		t.Errorf("got %q, want 4-space indentation with the tab first", files[0].Data)
	}
}

// TestTabsRoundTrip writes a document's per-tab layout and reads it back:
// every node, byte for byte, and the same files when written again.
func TestTabsRoundTrip(t *testing.T) {
	doc := `[{"id":"t1","type":"tab","label":"Orders"},{"id":"c1","type":"mqtt-broker","broker":"x"},` +
		`{"id":"n1","type":"inject","z":"t1","x":1,"wires":[["n2"]]},{"id":"s1","type":"subflow","name":"Sub","in":[],"out":[]},` +
		`{"id":"n2","type":"debug","z":"t1","name":"<&>"},{"id":"s1n1","type":"change","z":"s1"}]`
	dir := t.TempDir()
	names, err := userdir.WriteTabs(dir, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"Orders-t1.json", "Sub-s1.json", userdir.GlobalFile}; !slices.Equal(names, want) {
		t.Fatalf("got files %q, want %q", names, want)
	}
	back, err := userdir.ReadTabs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := nodeSet(t, back), nodeSet(t, []byte(doc)); !reflect.DeepEqual(got, want) {
		t.Fatalf("got nodes %q, want %q", got, want)
	}
	again, err := userdir.SplitFlows(back)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range again {
		written, _ := os.ReadFile(filepath.Join(dir, f.Name))
		if !bytes.Equal(written, f.Data) {
			t.Errorf("%s: got %s written again, want %s", f.Name, f.Data, written)
		}
	}
	t.Run("ErrNoFiles", func(t *testing.T) {
		if _, err := userdir.ReadTabs(t.TempDir()); domain.ErrorCode(err) != domain.EINVALID {
			t.Fatalf("got %v, want invalid", err)
		}
	})
	t.Run("ErrNotAnArray", func(t *testing.T) {
		d := t.TempDir()
		os.WriteFile(filepath.Join(d, "x.json"), []byte(`{}`), 0o644)
		if _, err := userdir.ReadTabs(d); domain.ErrorCode(err) != domain.EINVALID || !strings.Contains(err.Error(), "not a JSON array") {
			t.Fatalf("got %v, want invalid: not a JSON array", err)
		}
	})
}

// nodeSet is a document's nodes, compacted, sorted.
func nodeSet(t *testing.T, doc []byte) []string {
	t.Helper()
	var nodes []json.RawMessage
	if err := json.Unmarshal(doc, &nodes); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range nodes {
		var b bytes.Buffer
		json.Compact(&b, n)
		out = append(out, b.String())
	}
	slices.Sort(out)
	return out
}
