package streams_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
	"github.com/flowhist/flowhist/domain/domaintest"
	"github.com/flowhist/flowhist/streams"
	"github.com/flowhist/flowhist/streams/streamstest"
)

// deployNodes appends a flows change of ns to doc (a JSON array) and
// returns its revision.
func deployNodes(t *testing.T, s *streams.Store, ns, doc string, c domain.FlowsChange, key string) domain.Revision {
	t.Helper()
	c.Flows = mustParse(t, []byte(doc))
	res, err := streamstest.AppendFlows(testCtx(t), s, ns, c, key)
	if err != nil {
		t.Fatalf("deploy %s: %v", doc, err)
	}
	return res.Revision
}

// nodeRevisions returns every indexed revision of node id, newest first.
func nodeRevisions(t *testing.T, s *streams.Store, ns, id string) []domain.Revision {
	t.Helper()
	page, ok, err := s.NodeRevisions(testCtx(t), ns, id, 0, 1000)
	if err != nil || !ok {
		t.Fatalf("NodeRevisions(%s): got ok %v, %v, want an index", id, ok, err)
	}
	if int(page.Total) != len(page.Revisions) {
		t.Fatalf("NodeRevisions(%s): got total %d for %d revisions", id, page.Total, len(page.Revisions))
	}
	return page.Revisions
}

func TestNodeIndex(t *testing.T) {
	t.Parallel()
	t.Run("AppendIndexesEveryNodeItsSummaryNames", func(t *testing.T) {
		s, ns := mustStore(t, streams.Config{})
		ctx := testCtx(t)
		deployNodes(t, s, ns, `[{"id":"t","type":"tab"},{"id":"a","type":"inject","z":"t"},{"id":"b","type":"debug","z":"t"}]`, domain.FlowsChange{}, "")            // 1
		deployNodes(t, s, ns, `[{"id":"t","type":"tab"},{"id":"a","type":"inject","z":"t","name":"x"},{"id":"b","type":"debug","z":"t"}]`, domain.FlowsChange{}, "") // 2
		if _, err := s.Append(ctx, streams.AppendRequest{Event: settingsEvent(ns, `{}`)}); err != nil {                                                              // 3
			t.Fatal(err)
		}
		deployNodes(t, s, ns, `[{"id":"t","type":"tab"},{"id":"a","type":"inject","z":"t","name":"x"}]`, domain.FlowsChange{}, "")                                   // 4
		deployNodes(t, s, ns, `[{"id":"t","type":"tab"},{"id":"a","type":"inject","z":"t","name":"x"},{"id":"b","type":"debug","z":"t"}]`, domain.FlowsChange{}, "") // 5
		for id, want := range map[string][]domain.Revision{"t": {1}, "a": {2, 1}, "b": {5, 4, 1}} {
			if got := nodeRevisions(t, s, ns, id); !slices.Equal(got, want) {
				t.Errorf("node %s: got revisions %v, want %v", id, got, want)
			}
		}
		page, ok, err := s.NodeRevisions(ctx, ns, "b", 5, 1)
		if err != nil || !ok || !slices.Equal(page.Revisions, []domain.Revision{4}) || page.Total != 3 {
			t.Errorf("b before 5, one: got %+v, %v, %v, want [4] of 3", page, ok, err)
		}
		page, _, _ = s.NodeRevisions(ctx, ns, "nope", 0, 10)
		if page.Total != 0 || len(page.Revisions) != 0 {
			t.Errorf("unknown node: got %+v, want nothing", page)
		}
	})

	t.Run("NodePatchesAreEventsWithoutSummaries", func(t *testing.T) {
		for _, tt := range []struct {
			name string
			cfg  streams.Config
			doc  *domaintest.Doc
		}{
			{"Small", streams.Config{CompressAbove: 10}, domaintest.NewDoc(3)},
			// Stored whole, past the size whose decoded payload is kept:
			// the second read is the cache's, and must be the same.
			{"Big", streams.Config{CompressAbove: 1 << 30}, domaintest.NewDoc(300)},
		} {
			t.Run(tt.name, func(t *testing.T) {
				s, ns := mustStore(t, tt.cfg)
				ctx := testCtx(t)
				deployNodes(t, s, ns, string(tt.doc.Bytes()), domain.FlowsChange{}, "")
				tt.doc.Touch(1)
				deployNodes(t, s, ns, string(tt.doc.Bytes()), domain.FlowsChange{Cause: "rollback", Reason: "why", Target: 1}, "")
				for range 2 {
					got, payloads, err := s.NodePatches(ctx, ns, []domain.Revision{2, 1})
					if err != nil || len(got) != 2 || len(payloads) != 2 {
						t.Fatalf("got %d events (%v), want 2", len(got), err)
					}
					for i, rev := range []domain.Revision{2, 1} {
						want, err := s.ReadRevision(ctx, ns, rev)
						if err != nil {
							t.Fatal(err)
						}
						wantPayload, err := domain.DecodeNodePayload(want)
						if err != nil {
							t.Fatal(err)
						}
						want.Summary = nil
						if got[i].Payload == nil {
							want.Payload = nil // kept decoded only
						}
						if !reflect.DeepEqual(got[i], want) || !reflect.DeepEqual(payloads[i], wantPayload) {
							t.Errorf("revision %d: got %+v, want %+v", rev, got[i], want)
						}
					}
				}
				if _, _, err := s.NodePatches(ctx, ns, []domain.Revision{3}); domain.ErrorCode(err) != domain.ENOTFOUND {
					t.Errorf("revision 3: got %v, want ENOTFOUND", err)
				}
			})
		}
	})

	t.Run("DuplicateAndConflictIndexNothing", func(t *testing.T) {
		s, ns := mustStore(t, streams.Config{})
		ctx := testCtx(t)
		doc := `[{"id":"a","type":"tab"}]`
		deployNodes(t, s, ns, doc, domain.FlowsChange{}, "dup")
		// The same request again: the first result, nothing appended.
		res, err := streamstest.AppendFlows(ctx, s, ns, domain.FlowsChange{Flows: mustParse(t, []byte(doc))}, "dup")
		if err != nil || !res.Duplicate {
			t.Fatalf("got %+v, %v, want a duplicate", res, err)
		}
		// A raw append of a changed node under the same key (as if the
		// head had moved between the two tries) must index nothing either.
		e := domain.Event{Type: domain.FlowsDeployed, Namespace: ns, Aggregate: domain.AggregateFlows, Schema: domain.FlowsPayloadSchema,
			Payload:    []byte(`{"patch":{}}`),
			Provenance: domain.Provenance{SHA256: "x", Summary: &domain.Summary{Changed: []domain.NodeRef{{ID: "a"}}, Added: []domain.NodeRef{{ID: "z"}}}}}
		if _, err := s.Append(ctx, streams.AppendRequest{Event: e, IdempotencyKey: "dup", Fingerprint: "other"}); domain.ErrorCode(err) != domain.EINVALID {
			t.Fatalf("got %v, want EINVALID for a reused key", err)
		}
		if _, err := s.Append(ctx, streams.AppendRequest{Event: e, Expected: domain.ExpectNone}); domain.ErrorCode(err) != domain.ECONFLICT {
			t.Fatalf("got %v, want ECONFLICT", err)
		}
		if got := nodeRevisions(t, s, ns, "a"); !slices.Equal(got, []domain.Revision{1}) {
			t.Errorf("node a: got %v, want [1]", got)
		}
		if page, _, _ := s.NodeRevisions(ctx, ns, "z", 0, 10); page.Total != 0 {
			t.Errorf("node z: got %+v, want nothing indexed", page)
		}
	})

	t.Run("EveryKeySharesTheHashTag", func(t *testing.T) {
		s, ns := mustStore(t, streams.Config{})
		ctx := testCtx(t)
		deployNodes(t, s, ns, `[{"id":"a}{x","type":"tab"}]`, domain.FlowsChange{}, "")
		c := s.Client()
		keys, err := c.Do(ctx, c.B().Keys().Pattern("*"+ns+"*").Build()).AsStrSlice()
		if err != nil {
			t.Fatal(err)
		}
		var node bool
		for _, k := range keys {
			if !strings.HasPrefix(k, "fh:{"+ns+"}:") {
				t.Errorf("got key %q, want every key of %s under its hash tag", k, ns)
			}
			node = node || strings.HasSuffix(k, ":node:a}{x")
		}
		if !node {
			t.Errorf("got keys %q, want the node index of a}{x among them", keys)
		}
	})

	t.Run("ResetFallsBackUntilRebuilt", func(t *testing.T) {
		s, ns := mustStore(t, streams.Config{})
		ctx := testCtx(t)
		deployNodes(t, s, ns, `[{"id":"a","type":"tab"}]`, domain.FlowsChange{}, "")
		deployNodes(t, s, ns, `[{"id":"a","type":"tab","label":"x"}]`, domain.FlowsChange{}, "")
		if err := s.ResetNodeIndex(ctx, ns); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := s.NodeRevisions(ctx, ns, "a", 0, 10); ok || err != nil {
			t.Fatalf("after reset: got ok %v, %v, want no index", ok, err)
		}
		// An append after the reset indexes its own revision but must not
		// make the index look complete.
		deployNodes(t, s, ns, `[{"id":"a","type":"tab","label":"y"}]`, domain.FlowsChange{}, "")
		if _, ok, _ := s.NodeRevisions(ctx, ns, "a", 0, 10); ok {
			t.Fatalf("after an append: got a complete index, want none until replay")
		}
		key, problem, err := s.CheckNodeIndex(ctx, ns, map[string][]domain.Revision{"a": {1, 2, 3}}, 3)
		if err != nil || !strings.HasSuffix(key, ":meta ix") {
			t.Fatalf("check: got %q %q %v, want the incomplete index named", key, problem, err)
		}
		if err := s.IndexNodes(ctx, ns, map[string][]domain.Revision{"a": {1, 2}}); err != nil {
			t.Fatal(err)
		}
		if err := s.CompleteNodeIndex(ctx, ns); err != nil {
			t.Fatal(err)
		}
		if got := nodeRevisions(t, s, ns, "a"); !slices.Equal(got, []domain.Revision{3, 2, 1}) {
			t.Fatalf("rebuilt: got %v, want [3 2 1]", got)
		}
	})

	t.Run("CheckNamesTheBadNode", func(t *testing.T) {
		s, ns := mustStore(t, streams.Config{})
		ctx := testCtx(t)
		deployNodes(t, s, ns, `[{"id":"a","type":"tab"},{"id":"b","type":"tab"}]`, domain.FlowsChange{}, "")
		deployNodes(t, s, ns, `[{"id":"a","type":"tab"},{"id":"b","type":"tab","label":"x"}]`, domain.FlowsChange{}, "")
		deployNodes(t, s, ns, `[{"id":"a","type":"tab"},{"id":"b","type":"tab","label":"y"}]`, domain.FlowsChange{}, "")
		want := map[string][]domain.Revision{"a": {1}, "b": {1, 2, 3}}
		if key, problem, err := s.CheckNodeIndex(ctx, ns, want, 3); key != "" || err != nil {
			t.Fatalf("got %q %q %v, want the index to match", key, problem, err)
		}
		// Revisions past upTo were appended after the caller's read.
		if key, problem, err := s.CheckNodeIndex(ctx, ns, map[string][]domain.Revision{"a": {1}, "b": {1, 2}}, 2); key != "" || err != nil {
			t.Fatalf("up to 2: got %q %q %v, want the index to match", key, problem, err)
		}
		for _, c := range []struct {
			name string
			want map[string][]domain.Revision
			key  string
			says string
		}{
			{"Missing", map[string][]domain.Revision{"a": {1, 2}, "b": {1, 2, 3}}, ":node:a", "revision 2 changed it, the index lacks it"},
			{"Extra", map[string][]domain.Revision{"a": {1}, "b": {1, 3}}, ":node:b", "the index holds revision 2, which did not change it"},
			{"UnknownNode", map[string][]domain.Revision{"a": {1}, "b": {1, 2, 3}, "c": {2}}, ":node:c", "revision 2 changed it"},
			{"NodeNotInLog", map[string][]domain.Revision{"b": {1, 2, 3}}, ":node:a", "the index holds revision 1"},
		} {
			t.Run(c.name, func(t *testing.T) {
				key, problem, err := s.CheckNodeIndex(ctx, ns, c.want, 3)
				if err != nil || !strings.HasSuffix(key, c.key) || !strings.Contains(problem, c.says) {
					t.Fatalf("got %q %q %v, want key …%s saying %q", key, problem, err, c.key, c.says)
				}
			})
		}
	})
}

// TestNodeIndexMemory holds what the node index costs in Valkey memory:
// per node of the first deploy (a key each, and a member of the node set),
// per revision when deploys touch different nodes (each node's sorted set
// stays a small listpack), and per revision of a node changed on every
// deploy (past 128 revisions its sorted set becomes a skiplist).
func TestNodeIndexMemory(t *testing.T) {
	t.Parallel()
	s, ns := mustStore(t, streams.Config{})
	ctx := testCtx(t)
	c := s.Client()
	index := func() int64 {
		keys, err := c.Do(ctx, c.B().Keys().Pattern("fh:{"+ns+"}:node*").Build()).AsStrSlice()
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		for _, k := range keys {
			n, err := c.Do(ctx, c.B().MemoryUsage().Key(k).Samples(0).Build()).AsInt64()
			if err != nil {
				t.Fatal(err)
			}
			sum += n
		}
		return sum
	}
	const nodes = 2000
	doc := domaintest.NewDoc(nodes)
	cur := mustParse(t, doc.Bytes())
	if _, err := streamstest.AppendFlows(ctx, s, ns, domain.FlowsChange{Flows: cur}, ""); err != nil {
		t.Fatal(err)
	}
	deploy := func(k int) {
		doc.Touch(k)
		one := mustParse(t, []byte("["+string(doc.Node(k))+"]")).Nodes()[0]
		next, err := cur.Apply(domain.FlowsPatch{Upsert: []domain.Node{one}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := streamstest.AppendFlows(ctx, s, ns, domain.FlowsChange{Flows: next}, ""); err != nil {
			t.Fatal(err)
		}
		cur = next
	}
	perNode := float64(index()) / nodes
	before := index()
	for i := 0; i < 500; i++ {
		deploy((i * 13) % nodes)
	}
	distinct := float64(index()-before) / 500
	for i := 0; i < 128; i++ {
		deploy(7)
	}
	before = index()
	for i := 0; i < 500; i++ {
		deploy(7)
	}
	hot := float64(index()-before) / 500
	t.Logf("node index: %.0f B per node of the first deploy, %.1f B per revision over different nodes, %.1f B per revision of one node changed 628 times", perNode, distinct, hot)
	for _, c := range []struct {
		what      string
		got, want float64
	}{{"per node", perNode, 200}, {"per revision, different nodes", distinct, 32}, {"per revision, one hot node", hot, 160}} {
		if c.got > c.want {
			t.Errorf("%s: got %.1f B, want at most %.0f B", c.what, c.got, c.want)
		}
	}
}
