package domain_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/flowhist/flowhist/domain"
)

// TestApplyAllIsApplyInTurn checks ApplyAll against Apply in turn over
// random runs of patches of every shape: edits in place, new nodes, edits
// of new nodes, removes, new orders and whole documents.
func TestApplyAllIsApplyInTurn(t *testing.T) {
	rnd := rand.New(rand.NewPCG(22, 6))
	doc := func(ids []string, v int) *domain.Flows {
		parts := make([]string, len(ids))
		for i, id := range ids {
			parts[i] = fmt.Sprintf(`{"id":%q,"v":%d}`, id, v)
		}
		return mustParse(t, []byte("["+strings.Join(parts, ",")+"]"))
	}
	for round := range 300 {
		ids := []string{"a", "b", "c", "d", "e"}
		cur := doc(ids, 0)
		start := cur
		var patches []domain.FlowsPatch
		for step := range 1 + rnd.IntN(12) {
			// The next document: some nodes edited, some removed, some
			// added, sometimes reordered.
			var next []string
			for _, id := range ids {
				if rnd.IntN(8) > 0 {
					next = append(next, id)
				}
			}
			for range rnd.IntN(3) {
				next = append(next, fmt.Sprintf("n%d-%d", round, rnd.IntN(6)))
			}
			if rnd.IntN(6) == 0 {
				rnd.Shuffle(len(next), func(i, j int) { next[i], next[j] = next[j], next[i] })
			}
			seen := map[string]bool{}
			uniq := next[:0]
			for _, id := range next {
				if !seen[id] {
					seen[id], uniq = true, append(uniq, id)
				}
			}
			parts := make([]string, len(uniq))
			for i, id := range uniq {
				v := 0
				if n, ok := cur.Node(id); ok && rnd.IntN(3) > 0 {
					parts[i] = string(n.Raw)
					continue
				}
				v = step*10 + rnd.IntN(10) + 1
				parts[i] = fmt.Sprintf(`{"id":%q,"v":%d}`, id, v)
			}
			to := mustParse(t, []byte("["+strings.Join(parts, ",")+"]"))
			patches = append(patches, domain.DiffFlows(cur, to))
			cur, ids = to, uniq
		}
		got, err := start.ApplyAll(patches)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		want := start
		for _, p := range patches {
			if want, err = want.Apply(p); err != nil {
				t.Fatalf("round %d: Apply: %v", round, err)
			}
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) || !bytes.Equal(got.Bytes(), cur.Bytes()) {
			t.Fatalf("round %d: got %s, want %s (= %s)", round, got.Bytes(), want.Bytes(), cur.Bytes())
		}
	}
}

// TestApplyAllRefusesWhatApplyRefuses: merging a run must not hide a patch
// that Apply alone refuses.
func TestApplyAllRefusesWhatApplyRefuses(t *testing.T) {
	node := func(id, v string) domain.Node {
		return domain.Node{ID: id, Raw: []byte(`{"id":"` + id + `","v":` + v + `}`)}
	}
	f := mustParse(t, []byte(`[{"id":"a"},{"id":"b"}]`))
	for _, tt := range []struct {
		name    string
		patches []domain.FlowsPatch
		want    string
	}{
		{"ErrUpsertTwice", []domain.FlowsPatch{{Upsert: []domain.Node{node("a", "1")}}, {Upsert: []domain.Node{node("c", "1"), node("c", "2")}}}, `upserts "c" twice`},
		{"ErrUpsertNoID", []domain.FlowsPatch{{Upsert: []domain.Node{{Raw: []byte(`{}`)}}}}, `upsert 0 has no id`},
		{"ErrRemoveMissing", []domain.FlowsPatch{{Upsert: []domain.Node{node("a", "1")}}, {Remove: []string{"x"}}}, `removes "x"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.ApplyAll(tt.patches)
			if err == nil || domain.ErrorCode(err) != domain.EINVALID || !strings.Contains(domain.ErrorMessage(err), tt.want) {
				t.Fatalf("got %v (%v), want EINVALID saying %s", got, err, tt.want)
			}
		})
	}
}
