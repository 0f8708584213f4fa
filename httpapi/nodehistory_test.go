package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/flowhist/flowhist/httpapi"
)

// nodeHistoryQueries are the answers TestNodeHistoryAnswers pins: every node
// of the seeded canvas, an unknown one, pages and cursors on either side of
// each entry.
var nodeHistoryQueries = func() []string {
	var qs []string
	for _, id := range []string{"f1", "c1", "d1", "sf1", "n9", "t1", "nope"} {
		for _, q := range []string{"", "limit=1", "limit=2", "cursor=2", "cursor=4&limit=1", "cursor=7", "cursor=8&limit=2", "cursor=1", "cursor=99"} {
			qs = append(qs, "/nodes/"+id+"/history?"+q)
		}
	}
	return qs
}()

// nodeHistoryAnswers returns each query's status and body, in order.
func nodeHistoryAnswers(t *testing.T, ts *testServer, ns string) [][]byte {
	t.Helper()
	out := make([][]byte, len(nodeHistoryQueries))
	for i, q := range nodeHistoryQueries {
		res := ts.do(t, "GET", path(ns, q), nil, nil)
		out[i] = fmt.Appendf(nil, "%d %s", res.status, res.body)
	}
	return out
}

// TestNodeHistoryAnswers holds the node history answers to what they were
// before the node index (the golden file was written by the scanning
// implementation), and the index's answers to the scan's, byte for byte:
// a log written before the index existed is scanned until replay rebuilds
// its index.
func TestNodeHistoryAnswers(t *testing.T) {
	t.Parallel()
	ts := mustServer(t, httpapi.Config{})
	ns := randomNS(t)
	seedCanvas(t, ts, ns)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	indexed := nodeHistoryAnswers(t, ts, ns)
	t.Run("SameAsBefore", func(t *testing.T) {
		// Times, client ports and the namespace change from run to run:
		// the golden file leaves them out.
		var doc []any
		for i, a := range indexed {
			var status int
			var body map[string]any
			if _, err := fmt.Sscanf(string(a), "%d", &status); err != nil {
				t.Fatal(err)
			}
			a = bytes.ReplaceAll(a, []byte(ns), []byte("NS"))
			if err := json.Unmarshal(bytes.SplitN(a, []byte(" "), 2)[1], &body); err != nil {
				t.Fatalf("%s: %v", nodeHistoryQueries[i], err)
			}
			if entries, ok := body["entries"].([]any); ok {
				for _, e := range entries {
					delete(e.(map[string]any), "time")
					delete(e.(map[string]any)["actor"].(map[string]any), "remoteAddr")
				}
			}
			doc = append(doc, map[string]any{"query": nodeHistoryQueries[i], "status": status, "body": body})
		}
		data, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "nodehistory/answers.json", data)
	})

	t.Run("ScanWithoutIndexSameAnswers", func(t *testing.T) {
		if err := ts.store.ResetNodeIndex(ctx, ns); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := ts.store.NodeRevisions(ctx, ns, "f1", 0, 1); ok || err != nil {
			t.Fatalf("after reset: got ok %v, %v, want the index gone", ok, err)
		}
		for i, got := range nodeHistoryAnswers(t, ts, ns) {
			if !bytes.Equal(got, indexed[i]) {
				t.Errorf("%s: got %s, want %s", nodeHistoryQueries[i], got, indexed[i])
			}
		}
	})

	t.Run("ReplayRebuildsIndexSameAnswers", func(t *testing.T) {
		if _, err := ts.proj.Rebuild(ctx, ns); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := ts.store.NodeRevisions(ctx, ns, "f1", 0, 1); !ok || err != nil {
			t.Fatalf("after replay: got ok %v, %v, want the index back", ok, err)
		}
		for i, got := range nodeHistoryAnswers(t, ts, ns) {
			if !bytes.Equal(got, indexed[i]) {
				t.Errorf("%s: got %s, want %s", nodeHistoryQueries[i], got, indexed[i])
			}
		}
	})
}
