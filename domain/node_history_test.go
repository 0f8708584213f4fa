package domain_test

import (
	"slices"
	"testing"

	"github.com/flowhist/flowhist/domain"
)

func TestNodeHistory(t *testing.T) {
	docs := []string{
		`[{"id":"t1","type":"tab"}]`,
		`[{"id":"t1","type":"tab"},{"id":"f1","type":"function","z":"t1","func":"a"}]`,
		`[{"id":"t1","type":"tab"},{"id":"f1","type":"function","z":"t1","func":"b"}]`,
		`[{"id":"t1","type":"tab","label":"x"},{"id":"f1","type":"function","z":"t1","func":"b","x":5}]`,
		`[{"id":"t1","type":"tab","label":"x"}]`,
	}
	// The log: each document deployed over the one before.
	var log []*domain.Event
	var head domain.FlowsHead
	for i, d := range docs {
		fe, err := domain.NewFlowsEvent("prod", head, domain.FlowsChange{Flows: mustParse(t, []byte(d))})
		if err != nil {
			t.Fatal(err)
		}
		e := fe.Event
		e.Revision = domain.Revision(i + 1)
		log = append(log, &e)
		head = fe.Next
	}
	// Newest first, as an index of f1's revisions (2, 3, 4, 5) gives them.
	touching := []*domain.Event{log[4], log[3], log[2], log[1]}
	type want struct {
		rev          domain.Revision
		change       string
		props        []string
		positionOnly bool
	}
	for _, tt := range []struct {
		name string
		n    int
		want []want
	}{
		{"Whole", 10, []want{
			{5, domain.NodeRemoved, []string{"func", "id", "type", "x", "z"}, false},
			{4, domain.NodeChanged, []string{"x"}, true},
			{3, domain.NodeChanged, []string{"func"}, false},
			{2, domain.NodeAdded, []string{"func", "id", "type", "z"}, false},
		}},
		// A page of two: the third event only gives the bytes before.
		{"Page", 2, []want{
			{5, domain.NodeRemoved, []string{"func", "id", "type", "x", "z"}, false},
			{4, domain.NodeChanged, []string{"x"}, true},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			events := touching
			if tt.n < len(events) {
				events = events[:tt.n+1]
			}
			got, err := domain.NodeHistory("f1", events, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d revisions, want %d", len(got), len(tt.want))
			}
			for i, w := range tt.want {
				g := got[i]
				var props []string
				for _, p := range g.Diff.Properties {
					props = append(props, p.Name)
				}
				if g.Event.Revision != w.rev || g.Change != w.change || !slices.Equal(props, w.props) || g.Diff.PositionOnly != w.positionOnly {
					t.Errorf("entry %d: got revision %d %s %v position-only %v, want %d %s %v %v",
						i, g.Event.Revision, g.Change, props, g.Diff.PositionOnly, w.rev, w.change, w.props, w.positionOnly)
				}
			}
		})
	}
	t.Run("ErrPayload", func(t *testing.T) {
		bad := *log[1]
		bad.Payload = []byte(`{`)
		if _, err := domain.NodeHistory("f1", []*domain.Event{&bad}, 1); domain.ErrorCode(err) != domain.ECORRUPT {
			t.Fatalf("got %v for a payload that does not decode, want corrupt", err)
		}
	})
}
