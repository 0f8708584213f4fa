package domain_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/flowhist/flowhist/domain"
)

func TestSummarize(t *testing.T) {
	before := `[{"id":"t1","type":"tab","label":"Flow 1"},{"id":"f1","type":"function","z":"t1","name":"total"},` +
		`{"id":"d1","type":"debug","z":"t1","name":"out"},{"id":"c1","type":"comment","name":7}]`
	tests := []struct {
		name          string
		before, after string
		want          domain.Summary
	}{
		{"Unchanged", before, before, domain.Summary{}},
		{"AddedChangedRemoved", before,
			`[{"id":"t1","type":"tab","label":"Flow 1"},{"id":"f1","type":"function","z":"t1","name":"sum"},` +
				`{"id":"c1","type":"comment","name":7},{"id":"i1","type":"inject","z":"t1","name":"tick"}]`,
			domain.Summary{
				Added:   []domain.NodeRef{{ID: "i1", Type: "inject", Name: "tick"}},
				Changed: []domain.NodeRef{{ID: "f1", Type: "function", Name: "sum"}},
				Removed: []domain.NodeRef{{ID: "d1", Type: "debug", Name: "out"}},
			}},
		{"RemovedWithoutStringName", before, `[{"id":"t1","type":"tab","label":"Flow 1"}]`,
			domain.Summary{Removed: []domain.NodeRef{{ID: "f1", Type: "function", Name: "total"}, {ID: "d1", Type: "debug", Name: "out"}, {ID: "c1", Type: "comment"}}}},
		{"FromEmpty", `[]`, `[{"id":"t1","type":"tab"},{"id":"x"}]`,
			domain.Summary{Added: []domain.NodeRef{{ID: "t1", Type: "tab"}, {ID: "x"}}}},
		{"TabsSubflowsGroupsByLabel", before,
			`[{"id":"t1","type":"tab","label":"Acceptance"},{"id":"t2","type":"tab","label":7},{"id":"t3","type":"tab","label":"<b>x</b>","name":"n"},` +
				`{"id":"s1","type":"subflow","name":"My Sub"},{"id":"g1","type":"group","z":"t1","name":"Inputs"},` +
				`{"id":"f1","type":"function","z":"t1","name":"total"},{"id":"d1","type":"debug","z":"t1","name":"out"},{"id":"c1","type":"comment","name":7}]`,
			domain.Summary{
				Added: []domain.NodeRef{{ID: "t2", Type: "tab"}, {ID: "t3", Type: "tab", Name: "<b>x</b>"},
					{ID: "s1", Type: "subflow", Name: "My Sub"}, {ID: "g1", Type: "group", Name: "Inputs"}},
				Changed: []domain.NodeRef{{ID: "t1", Type: "tab", Name: "Acceptance"}},
			}},
		{"RemovedTabByLabel", before, `[{"id":"f1","type":"function","z":"t1","name":"total"},{"id":"d1","type":"debug","z":"t1","name":"out"},{"id":"c1","type":"comment","name":7}]`,
			domain.Summary{Removed: []domain.NodeRef{{ID: "t1", Type: "tab", Name: "Flow 1"}}}},
		{"OnlyMoved", before,
			`[{"id":"d1","type":"debug","z":"t1","name":"out"},{"id":"t1","type":"tab","label":"Flow 1"},` +
				`{"id":"f1","type":"function","z":"t1","name":"total"},{"id":"c1","type":"comment","name":7}]`,
			domain.Summary{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustParse(t, []byte(tt.before))
			got := domain.Summarize(a, domain.DiffFlows(a, mustParse(t, []byte(tt.after))))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if got.IsEmpty() != (len(tt.want.Added)+len(tt.want.Changed)+len(tt.want.Removed) == 0) {
				t.Errorf("got IsEmpty %v for %+v", got.IsEmpty(), got)
			}
		})
	}
}

func TestSummarizeNilBefore(t *testing.T) {
	p := domain.DiffFlows(nil, mustParse(t, []byte(`[{"id":"a","type":"tab","name":"x"}]`)))
	want := domain.Summary{Added: []domain.NodeRef{{ID: "a", Type: "tab", Name: "x"}}}
	if got := domain.Summarize(nil, p); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestSummaryJSON(t *testing.T) {
	s := domain.Summary{Changed: []domain.NodeRef{{ID: "f1", Type: "function"}}}
	got, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"changed":[{"id":"f1","type":"function"}]}`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
